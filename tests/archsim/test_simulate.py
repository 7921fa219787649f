"""archsim.simulate and `archsim run` on compiled models: numerics, honesty, JSON keys."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from archsim.cli import main
from archsim.simulate import simulate
from framework import GraphBuilder, interpret

JSON_KEYS = {"model", "hw", "batch", "mode", "cycles", "seconds", "throughput_per_s", "flops",
             "hbm_bytes", "roofline_seconds", "utilization", "layers"}
DAVINCI_UNITS = {"cube", "vector", "scalar", "mte1", "mte2", "mte3"}


def _assert_honest(result) -> None:
    for kernel in result.kernels:
        assert kernel.seconds >= kernel.roofline_seconds, kernel.name
        for unit, value in kernel.utilization().items():
            assert 0.0 <= value <= 1.0, (kernel.name, unit, value)
    for value in result.utilization().values():
        assert 0.0 <= value <= 1.0


def _close(got: np.ndarray, want: np.ndarray, rtol: float = 1e-2) -> None:
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(got - want).max() <= rtol * scale, np.abs(got - want).max()


@pytest.mark.parametrize("m, k, n, batched", [(100, 72, 40, False), (33, 47, 21, True)])
def test_matmul_matches_the_reference(m: int, k: int, n: int, batched: bool) -> None:
    b = GraphBuilder("mm")
    rng = np.random.default_rng(0)
    x = b.input("x", (3, m, k) if batched else (m, k))
    w = b.input("w", (3, k, n)) if batched else b.constant(
        rng.standard_normal((k, n)).astype(np.float32))
    b.output(b.matmul(x, w))
    graph = b.build()
    inputs = {name: rng.standard_normal(graph.types[name].shape).astype(np.float32)
              for name in graph.inputs}
    result = simulate(graph, mode="functional", inputs=inputs)
    _close(result.outputs[graph.outputs[0]], interpret(graph, inputs)[graph.outputs[0]])
    _assert_honest(result)


@pytest.mark.parametrize("case", [
    dict(c=16, h=8, w=8, k=16, r=3, pad=1),
    dict(c=3, h=17, w=15, k=20, r=3, stride=2, pad=1, bias=True, relu=True),
    dict(c=64, h=14, w=14, k=64, r=3, pad=1, bias=True, relu=True, residual=True),
    dict(c=16, h=9, w=9, k=16, r=3, pad=2, dilation=2),
    dict(c=32, h=10, w=10, k=32, r=3, pad=1, groups=32, bias=True),
])
def test_convolution_matches_the_reference(case: dict) -> None:
    rng = np.random.default_rng(0)
    b = GraphBuilder("conv")
    c, k, r, groups = case["c"], case["k"], case["r"], case.get("groups", 1)
    x = b.input("x", (2, c, case["h"], case["w"]))
    weight = b.constant((rng.standard_normal((k, c // groups, r, r)) * 0.2).astype(np.float32))
    bias = b.constant(rng.standard_normal(k).astype(np.float32)) if case.get("bias") else None
    y = b.conv2d(x, weight, bias, stride=case.get("stride", 1), padding=case["pad"],
                 dilation=case.get("dilation", 1), groups=groups)
    if case.get("residual"):
        y = b.add(y, b.input("res", b.shape(y)))
    if case.get("relu"):
        y = b.relu(y)
    b.output(y)
    graph = b.build()
    inputs = {name: rng.standard_normal(graph.types[name].shape).astype(np.float32)
              for name in graph.inputs}
    result = simulate(graph, mode="functional", inputs=inputs)
    _close(result.outputs[graph.outputs[0]], interpret(graph, inputs)[graph.outputs[0]])
    _assert_honest(result)


def test_mlp_runs_end_to_end_with_the_json_keys() -> None:
    outcome = CliRunner().invoke(main, ["run", "mlp", "--hw", "ascend910", "--json"])
    assert outcome.exit_code == 0, outcome.output
    record = json.loads(outcome.output)
    assert JSON_KEYS <= set(record)
    assert set(record["utilization"]) >= DAVINCI_UNITS
    assert record["seconds"] >= record["roofline_seconds"] > 0
    assert {"name", "op", "cycles", "flops", "hbm_bytes", "utilization"} <= set(record["layers"][0])
    gm = record["gm"]  # an extra key: the GM plan by liveness against the naive layout
    assert gm["planned"] and 0 < gm["peak_bytes"] <= gm["naive_bytes"]
    assert gm["workspace_bytes"] <= gm["naive_workspace_bytes"]
    assert "global memory" in record["notes"]


def test_mlp_functional_matches_and_repeats() -> None:
    first = simulate("mlp", mode="functional", seed=3)
    second = simulate("mlp", mode="functional", seed=3)
    assert first.cycles == second.cycles
    assert first.cycles == simulate("mlp").cycles  # timing mode: identical cycles
    for name, value in first.outputs.items():
        assert np.array_equal(value, second.outputs[name])


def test_onnx_errors_are_one_line_naming_the_node(tmp_path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk_1")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor("k", TensorProto.INT64, [1], [3])])
    path = tmp_path / "topk.onnx"
    onnx.save(helper.make_model(graph), path)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    for model, fragment in ((path, "TopK (node 'topk_1')"), (broken, "broken.onnx")):
        outcome = CliRunner().invoke(main, ["run", str(model)])
        assert outcome.exit_code == 2, outcome.output
        assert fragment in outcome.output and "Traceback" not in outcome.output


def test_kernels_simulated_on_several_processes_give_the_same_numbers() -> None:
    model = "resnet18:image=32,width=4,classes=10"
    one = simulate(model, hw="ascend910", workers=1).to_json()
    two = simulate(model, hw="ascend910", workers=2).to_json()
    assert one["kernels"] > 2 and one == two


def test_run_jobs_option_is_checked() -> None:
    result = CliRunner().invoke(main, ["run", "mlp", "--jobs", "0"])
    assert result.exit_code == 2 and "--jobs" in result.output


def test_the_callers_garbage_collector_setting_is_restored() -> None:
    """Compiling and simulating collect less often, but only while they run (a library call
    must not leave global state behind), and the numbers do not depend on it."""
    import gc

    before = gc.get_threshold()
    first = simulate("mlp", hw="ascend910")
    assert gc.get_threshold() == before
    gc.set_threshold(100, 5, 5)
    try:
        second = simulate("mlp", hw="ascend910")
        assert gc.get_threshold() == (100, 5, 5)
    finally:
        gc.set_threshold(*before)
    assert first.cycles == second.cycles
