"""Design-space sweeps: spec files, parallel and Dask execution, durable resumable results.

`load_spec` reads a TOML/YAML spec (spec.py), `expand` turns it into design points
(points.py), `run_sweep` runs the unfinished ones on local processes or a Dask cluster and
records each in SQLite as it finishes (runner.py, store.py), `results_frame` returns the
results as a pandas DataFrame (results.py) and `write_report` renders the HTML sweep report
with Pareto, sensitivity and heatmap plots (plots.py, report.py).
"""

from archsim.sweep.points import Expansion, Point, expand
from archsim.sweep.report import write_report
from archsim.sweep.results import results_frame
from archsim.sweep.runner import Controls, SweepError, SweepSummary, run_sweep
from archsim.sweep.spec import SpecError, SweepSpec, load_spec
from archsim.sweep.store import SweepStore

__all__ = ["Controls", "Expansion", "Point", "SpecError", "SweepError", "SweepSpec",
           "SweepStore", "SweepSummary", "expand", "load_spec", "results_frame", "run_sweep",
           "write_report"]
