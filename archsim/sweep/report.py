"""placeholder until plots land"""
def write_report(db, out_dir, sweep=None):
    raise NotImplementedError
