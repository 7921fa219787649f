"""The 64-point ResNet-18 sweep target: wall time with 1 and 2 local workers, and resume cost.

Runs examples/sweeps/resnet18_buffers.toml (ResNet-18 batch 1 on ascend910 over L1, L0A, L0B,
UB sizes and HBM bandwidth: 64 points, 16 compiled programs) into a fresh database once per
worker count, then resumes the finished sweep twice: in-process (`run_sweep`, what resuming
itself costs) and as a fresh `archsim sweep` process (including interpreter start-up and
imports). Prints a table. Targets (issue 7): <= 5 min with 2 workers, resume < 2 s.

    python benchmarks/sweep_resnet18.py [--workers 1,2] [--spec FILE] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archsim.sweep import load_spec, results_frame, run_sweep

SPEC = Path(__file__).resolve().parent.parent / "examples" / "sweeps" / "resnet18_buffers.toml"


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the result databases in this directory (default: discard)")
    args = parser.parse_args()
    spec = load_spec(args.spec)
    counts = [int(w) for w in args.workers.split(",")]
    print(f"spec {args.spec.name}: host CPUs {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        last_db = None
        for workers in counts:
            db = tmp / f"w{workers}.db"
            for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                stale.unlink(missing_ok=True)
            summary = run_sweep(spec, db, workers=workers)
            frame = results_frame(db)
            rows.append((workers, summary.ran, summary.failed, summary.compilations,
                         summary.wall_s, summary.ran / summary.wall_s * 60,
                         frame["run_s"].mean(), frame["cpu_s"].sum()))
            last_db = db
        assert last_db is not None
        start = time.perf_counter()
        resumed = run_sweep(spec, last_db, workers=counts[-1])
        resume_s = time.perf_counter() - start
        start = time.perf_counter()
        cli = subprocess.run([sys.executable, "-c", "from archsim.cli import main; main()",
                              "sweep", str(args.spec), "--db", str(last_db)],
                             capture_output=True, text=True, check=True)
        cli_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from archsim.cli import main; main()", "--help"],
                       capture_output=True, check=True)
        help_s = time.perf_counter() - start
    # cpu s: CPU time the workers spent on points (compilations included); on a machine shared
    # with other jobs, cpu s / workers is what the wall time would be if the workers had the
    # cores to themselves
    print(f"{'workers':>7} {'points':>6} {'failed':>6} {'compiles':>8} {'wall s':>8} "
          f"{'pts/min':>8} {'run s/pt':>8} {'speed-up':>8} {'cpu s':>8} {'cpu s/w':>8}")
    base = min(rows)[4]  # speed-up relative to the run with the fewest workers
    for workers, ran, failed, compiles, wall, rate, per_point, cpu in rows:
        print(f"{workers:>7} {ran:>6} {failed:>6} {compiles:>8} {wall:>8.1f} {rate:>8.1f} "
              f"{per_point:>8.2f} {base / wall:>8.2f} {cpu:>8.1f} {cpu / workers:>8.1f}")
    print(f"resume of the finished sweep: run_sweep {resume_s:.2f} s "
          f"({resumed.skipped} skipped, {resumed.ran} run); "
          f"`archsim sweep` process {cli_s:.2f} s (`archsim --help` start-up alone {help_s:.2f} s)")
    print(cli.stdout.strip().splitlines()[0])
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
