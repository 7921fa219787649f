"""`archsim sweep --scheduler`: the same sweep on a Dask LocalCluster (localhost only)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from archsim.sweep import load_spec, results_frame, run_sweep

distributed = pytest.importorskip("distributed")

TINY_CONV = "resnet18:image=32,width=4,classes=10"
SPEC = f"""
name = "dask"
[parameters]
l1_bytes = [262144, 524288]
hbm_bytes_per_s = [1.2e12, 6.0e11]
[[workloads]]
model = "{TINY_CONV}"
"""


@pytest.fixture(scope="module")
def cluster():
    # in-process workers (threads), bound to localhost only; no dashboard
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None) as local:
        yield local


def test_cli_runs_sweep_on_dask_scheduler_and_resumes(write_spec, tmp_path, cluster):
    spec = write_spec(SPEC)
    db = tmp_path / "d.db"
    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    cmd = [sys.executable, "-c", "from archsim.cli import main; main()", "sweep", str(spec),
           "--scheduler", address, "--db", str(db)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "4 points, 0 already done, 4 run now (0 failed)" in first.stdout
    with sqlite3.connect(db) as con:
        keys = [r[0] for r in con.execute("SELECT key FROM points WHERE status = 'ok'")]
    assert len(keys) == len(set(keys)) == 4
    # the numbers are the same as a local run's
    local = tmp_path / "local.db"
    run_sweep(load_spec(spec), local, workers=0)
    assert list(results_frame(db)["cycles"]) == list(results_frame(local)["cycles"])
    again = run_sweep(load_spec(spec), db, scheduler=address)
    assert (again.skipped, again.ran) == (4, 0)


def test_unreachable_scheduler_is_an_input_error(write_spec, tmp_path):
    from archsim.errors import InputError

    with pytest.raises(InputError, match="cannot connect"):
        run_sweep(load_spec(write_spec(SPEC)), tmp_path / "x.db",
                  scheduler="tcp://127.0.0.1:9", connect_timeout_s=0.5)
