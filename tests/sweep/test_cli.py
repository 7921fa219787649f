"""The `archsim sweep` CLI in a subprocess: SIGKILL mid-run then resume, Ctrl-C/SIGTERM,
bad specs, exports and the report."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from archsim.sweep import load_spec, run_sweep

TINY_CONV = "resnet18:image=32,width=4,classes=10"
# 12 points, each its own compile group (L1 and UB sizes change the program)
MANY = f"""
name = "many"
metrics = ["seconds", "cycles"]
[parameters]
l1_bytes = [262144, 524288, 786432, 1048576]
ub_bytes = [65536, 131072, 262144]
[[workloads]]
model = "{TINY_CONV}"
"""
TOTAL = 12


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from archsim.cli import main; main()", *args]


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return int(con.execute("SELECT COUNT(*) FROM points").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _keys(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT key FROM points")]


def _wait_for_rows(proc: subprocess.Popen, db: Path, rows: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        count = _count(db)
        if count >= rows:
            return count
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no {rows} rows after {timeout_s} s")


def test_sigkill_mid_run_then_resume_runs_every_point_exactly_once(write_spec, tmp_path):
    spec = write_spec(MANY)
    db = tmp_path / "many.db"
    proc = subprocess.Popen(_cli("sweep", str(spec), "--workers", "2", "--db", str(db)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    seen = _wait_for_rows(proc, db, 3)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, no chance to clean up
    proc.wait(timeout=30)
    at_kill = _count(db)
    assert seen <= at_kill < TOTAL, "the sweep finished before it could be killed"
    resumed = run_sweep(load_spec(spec), db, workers=0)  # in-process: one start-up less
    assert (resumed.skipped, resumed.ran, resumed.failed) == (at_kill, TOTAL - at_kill, 0)
    keys = _keys(db)
    assert len(keys) == TOTAL == len(set(keys))
    assert {p.key for p in _points(spec)} == set(keys)


def _points(spec: Path):
    from archsim.sweep import expand

    return expand(load_spec(spec)).points


@pytest.mark.parametrize("signum,group", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["sigterm", "ctrl-c"])
def test_signal_stops_cleanly_losing_no_finished_point(write_spec, tmp_path, signum, group):
    spec = write_spec(MANY)
    db = tmp_path / "many.db"
    proc = subprocess.Popen(_cli("sweep", str(spec), "--workers", "2", "--db", str(db)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _wait_for_rows(proc, db, 2)
    # Ctrl-C in a terminal reaches the whole process group; SIGTERM usually only the parent
    (os.killpg if group else os.kill)(proc.pid, signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "interrupted" in out and "Traceback" not in err
    done = _count(db)
    assert done < TOTAL
    with sqlite3.connect(db) as con:
        assert {r[0] for r in con.execute("SELECT status FROM points")} == {"ok"}
    rest = run_sweep(load_spec(spec), db, workers=0)
    assert (rest.skipped, rest.ran) == (done, TOTAL - done)
    assert len(set(_keys(db))) == len(_keys(db)) == TOTAL


def test_bad_spec_exits_2_with_one_line(write_spec, tmp_path):
    spec = write_spec('workloads = ["mlp"]\n[parameters]\nl9_bytes = [1]\n')
    result = subprocess.run(_cli("sweep", str(spec), "--db", str(tmp_path / "x.db")),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "parameters.l9_bytes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_results_export_csv_parquet_and_report(write_spec, tmp_path):
    from click.testing import CliRunner

    from archsim.cli import main

    spec = write_spec(f"""
        name = "export"
        [parameters]
        l1_bytes = [262144, 524288]
        ub_bytes = [131072, 262144]
        [[workloads]]
        model = "{TINY_CONV}"
    """)
    db = tmp_path / "e.db"
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", str(spec), "--workers", "0", "--db", str(db),
                                  "--report", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert "4 points, 0 already done, 4 run now (0 failed)" in result.output
    csv, parquet = tmp_path / "r.csv", tmp_path / "r.parquet"
    result = runner.invoke(main, ["sweep-results", str(db), "--csv", str(csv),
                                  "--parquet", str(parquet)])
    assert result.exit_code == 0, result.output
    a, b = pd.read_csv(csv), pd.read_parquet(parquet)
    assert len(a) == len(b) == 4
    assert list(a["param.l1_bytes"]) == list(b["param.l1_bytes"]) == [262144] * 2 + [524288] * 2
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "Pareto front" in html and html.count("data:image/png;base64,") >= 3
    table = runner.invoke(main, ["sweep-results", str(db)])
    assert table.exit_code == 0 and "param.l1_bytes" in table.output
    missing = runner.invoke(main, ["sweep-results", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no such sweep database" in missing.output


def test_second_signal_abandons_running_points_and_keeps_finished_ones(write_spec, tmp_path):
    spec = write_spec(MANY)
    db = tmp_path / "many.db"
    proc = subprocess.Popen(_cli("sweep", str(spec), "--workers", "2", "--db", str(db)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _wait_for_rows(proc, db, 2)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr])
    reader.start()
    os.kill(proc.pid, signal.SIGTERM)
    first = lines.get(timeout=30)  # the handler ran; the running points have just started
    assert first.startswith("stopping once the running points finish"), first
    os.kill(proc.pid, signal.SIGTERM)  # impatient: do not wait for the running points
    out = proc.stdout.read()
    proc.wait(timeout=60)
    reader.join(timeout=30)
    err = first + "".join(lines.queue)
    assert proc.returncode == 1 and "interrupted" in out, err
    assert "abandoning the running points" in err and "Traceback" not in err
    keys = _keys(db)
    assert 2 <= len(keys) < TOTAL and len(set(keys)) == len(keys)
    with sqlite3.connect(db) as con:  # abandoned points left no partial rows
        assert {r[0] for r in con.execute("SELECT status FROM points")} == {"ok"}
