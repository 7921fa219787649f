"""run_sweep: records every point once, resumes, records failures and goes on, stops cleanly."""

from __future__ import annotations

import importlib
import sqlite3

import pytest

from archsim.sweep import Controls, load_spec, results_frame, run_sweep

# the module, not the `archsim.simulate` function the package exports under the same name
SIM = importlib.import_module("archsim.simulate")

GEMM = "gemm:m=64,n=64,k=64"
TINY_CONV = "resnet18:image=32,width=4,classes=10"

SPEC = f"""
name = "runner"
metrics = ["seconds", "cycles", "utilization"]
[parameters]
l1_bytes = [262144, 524288, 1048576]
[[workloads]]
model = "{GEMM}"
[[workloads]]
model = "{TINY_CONV}"
"""


def _keys(db):
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT key FROM points")]


def test_inline_sweep_records_every_point_and_resume_skips_them(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC))
    db = tmp_path / "r.db"
    first = run_sweep(spec, db, workers=0)
    assert (first.total, first.ran, first.failed, first.skipped) == (6, 6, 0, 0)
    assert first.complete and not first.interrupted
    frame = results_frame(db)
    assert list(frame["status"]) == ["ok"] * 6
    assert (frame["seconds"] > 0).all() and "utilization.cube" in frame.columns
    assert frame["sram_bytes"].is_monotonic_increasing
    again = run_sweep(spec, db, workers=0)
    assert (again.ran, again.skipped, again.compilations) == (0, 6, 0)
    assert sorted(_keys(db)) == sorted(set(_keys(db))) and len(_keys(db)) == 6


def test_sweep_numbers_match_simulate(write_spec, tmp_path):
    spec = load_spec(write_spec(f'workloads = ["{TINY_CONV}"]\n'))
    run_sweep(spec, tmp_path / "r.db", workers=0)
    row = results_frame(tmp_path / "r.db").iloc[0]
    direct = SIM.simulate(TINY_CONV, hw="ascend910")
    assert row["cycles"] == direct.to_json()["cycles"]
    assert row["seconds"] == pytest.approx(direct.seconds)


def test_failed_point_is_recorded_and_the_sweep_goes_on(write_spec, tmp_path, monkeypatch):
    spec = load_spec(write_spec(SPEC))
    db = tmp_path / "r.db"
    real = SIM.run_executable

    def flaky(exe, config, *args, **kwargs):
        if config.l1_bytes == 524288:
            raise RuntimeError("injected failure")
        return real(exe, config, *args, **kwargs)

    monkeypatch.setattr(SIM, "run_executable", flaky)
    summary = run_sweep(spec, db, workers=0)
    assert (summary.ran, summary.failed) == (6, 2) and summary.complete
    frame = results_frame(db)
    failed = frame[frame["status"] == "error"]
    assert list(failed["param.l1_bytes"]) == [524288, 524288]
    assert all(e == "RuntimeError: injected failure" for e in failed["error"])
    # a plain resume keeps the failures; --retry-failed runs them again and replaces the rows
    assert run_sweep(spec, db, workers=0).ran == 0
    monkeypatch.setattr(SIM, "run_executable", real)
    retry = run_sweep(spec, db, workers=0, retry_failed=True)
    assert (retry.ran, retry.failed) == (2, 0)
    assert list(results_frame(db)["status"]) == ["ok"] * 6 and len(_keys(db)) == 6


def test_stop_request_finishes_cleanly_and_resume_completes(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC))
    db = tmp_path / "r.db"
    controls = Controls()
    seen = []

    def on_point(point, outcome):
        seen.append(point.key)
        controls.request()  # like a Ctrl-C after the first point

    stopped = run_sweep(spec, db, workers=0, controls=controls, on_point=on_point)
    assert stopped.interrupted and stopped.ran == 1 and _keys(db) == seen
    rest = run_sweep(spec, db, workers=0)
    assert (rest.skipped, rest.ran) == (1, 5) and sorted(_keys(db)) == sorted(set(_keys(db)))
    assert len(_keys(db)) == 6


def test_local_worker_processes(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC))
    db = tmp_path / "r.db"
    starts = []
    summary = run_sweep(spec, db, workers=2, on_start=lambda todo, total: starts.append(
        (todo, total)))
    assert starts == [(6, 6)] and summary.ran == 6 and summary.failed == 0
    frame = results_frame(db)
    assert frame["worker"].nunique() >= 1 and len(_keys(db)) == 6
    inline = tmp_path / "inline.db"
    run_sweep(spec, inline, workers=0)
    assert list(results_frame(inline)["cycles"]) == list(frame["cycles"])


def test_onnx_workload_relative_to_spec(write_spec, tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [32, 64])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [32, 64])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              tmp_path / "tiny.onnx")
    spec = load_spec(write_spec('workloads = ["tiny.onnx"]\n[parameters]\n'
                                'ub_bytes = [131072, 262144]\n'))
    summary = run_sweep(spec, tmp_path / "r.db", workers=0)
    assert (summary.ran, summary.failed) == (2, 0)
    assert (results_frame(tmp_path / "r.db")["cycles"] > 0).all()


def test_train_points_build_the_training_step_graph(write_spec):
    from archsim.sweep import expand
    from archsim.sweep.worker import _graph

    spec = load_spec(write_spec('[[workloads]]\nmodel = "mlp"\nbatch = 2\n'
                                'train = [false, true]\n'))
    inference, train = expand(spec).points
    assert (inference.train, train.train) == (False, True) and inference.key != train.key
    graph = _graph(train.workload, train.batch, train.train)[1]
    assert "loss" in graph.outputs and "target" in graph.inputs
