"""Element-wise DaVinci kernels against the reference interpreter (functional mode), their
padding rule, multi-core splits and roofline bounds (timing mode)."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check, check_roofline, feeds_for, lower, run

from framework import GraphBuilder

POSITIVE_ONLY = {"sqrt", "log", "reciprocal"}
UNARY = ["relu", "sigmoid", "tanh", "gelu", "silu", "elu", "selu", "softplus", "erf", "abs",
         "neg", "sqrt", "log", "reciprocal", "exp", "identity"]


@pytest.mark.parametrize("op", UNARY)
def test_unary_ops_match_reference(op: str) -> None:
    # 4 x 70: 280 elements = 2 full repeats + a masked tail; 70 is not a multiple of 16
    graph = build(lambda gb, x: getattr(gb, op)(x), x=(4, 70))
    low = 0.2 if op in POSITIVE_ONLY else -3.0
    # composed functions (tanh, gelu, erf, softplus, elu) round every step to fp16: an absolute
    # error of a few 1e-3 is expected (see vector_math's accuracy notes)
    check(graph, feeds_for(graph, low=low, high=3.0), rtol=1e-2, atol_frac=2e-3, atol=3e-3)


@pytest.mark.parametrize("op,kwargs", [
    ("leaky_relu", {"alpha": 0.2}), ("clip", {"min": -0.5, "max": 1.0}), ("clip", {"min": 0.0}),
    ("gelu", {"approximate": "tanh"}), ("elu", {"alpha": 0.5}),
])
def test_unary_ops_with_attributes(op: str, kwargs: dict) -> None:
    check(build(lambda gb, x: getattr(gb, op)(x, **kwargs), x=(3, 50)), atol=3e-3)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "prelu"])
def test_binary_same_shape(op: str) -> None:
    graph = build(lambda gb, x, y: getattr(gb, op)(x, y), x=(5, 300), y=(5, 300))
    feeds = feeds_for(graph)
    if op == "div":
        feeds["y"] = np.where(np.abs(feeds["y"]) < 0.25, 0.5, feeds["y"]).astype(np.float32)
    check(graph, feeds)


@pytest.mark.parametrize("xs,ys", [
    ((6, 40), (40,)),  # row vector, loaded once (repeat stride 0)
    ((6, 40), (6, 1)),  # per-row scalar: lane 0 broadcast over the row
    ((2, 3, 5, 20), (2, 1, 5, 20)),  # runs of rows
    ((2, 3, 5, 20), (2, 1, 5, 1)),
    ((6, 40), (1,)),  # computed scalar
    ((2, 20, 3, 5), (2, 20, 1, 1)),  # NC1HWC0 per sample and channel
    ((3, 20, 3, 5), (1, 20, 1, 1)),  # NC1HWC0 per channel
    ((2, 20, 3, 5), (1,)),
])
def test_binary_broadcasting(xs: tuple, ys: tuple) -> None:
    graph = build(lambda gb, x, y: gb.sub(x, y), x=xs, y=ys)
    # 4-D values with 20 channels are checked as NC1HWC0 feature maps
    fmap = [v for v in graph.types if len(graph.types[v].shape) == 4
            and graph.types[v].shape[1] == 20]
    check(graph, fmap=fmap)


@pytest.mark.parametrize("shape,const_shape", [
    ((6, 40), (40,)), ((6, 40), (6, 1)), ((2, 3, 6, 40), (2, 1, 6, 1)), ((2, 20, 3, 5), (20, 1, 1)),
    ((2, 20, 3, 5), (1, 20, 3, 5)),
])
def test_constant_operands(shape: tuple, const_shape: tuple) -> None:
    value = np.linspace(-1, 1, int(np.prod(const_shape)), dtype=np.float32).reshape(const_shape)
    graph = build(lambda gb, x: gb.mul(x, gb.constant(value)), x=shape)
    fmap = [v for v in (*graph.inputs, *graph.outputs) if shape[1:2] == (20,)]
    check(graph, fmap=fmap)


@pytest.mark.parametrize("exponent", [2.0, 3.0, 0.5, -1.0, 1.5])
def test_pow_by_scalar(exponent: float) -> None:
    graph = build(lambda gb, x: gb.pow(x, exponent), x=(6, 40))
    check(graph, feeds_for(graph, low=0.3, high=2.0), atol=2e-3)


def test_scalar_on_the_left() -> None:
    graph = build(lambda gb, x: gb.div(2.0, gb.sub(3.0, x)), x=(6, 40))
    check(graph)


def test_fused_chain_is_one_kernel() -> None:
    body = GraphBuilder("body")
    x, r = body.input("x", (4, 3, 6, 5)), body.input("r", (4, 3, 6, 5))
    c = body.input("c", (3, 1, 1))
    body.output(body.sigmoid(body.add(body.relu(body.add(x, c)), r)))
    chain = body.build()
    bias = np.array([-0.5, 0.0, 0.5], dtype=np.float32).reshape(3, 1, 1)
    graph = build(lambda gb, x, r: gb.fused([x, r, gb.constant(bias)], "elementwise", chain),
                  x=(4, 3, 6, 5), r=(4, 3, 6, 5))
    outcome = check(graph, fmap=["x", "r", graph.outputs[0]])
    assert len(outcome.exe.kernels) == 1
    check(graph)  # the same chain on row-major (ndp) values


def test_padding_lanes_are_written_as_zeros() -> None:
    # exp(0) = 1 would leak into the padded lanes 40..47 of each ndp row
    graph = build(lambda gb, x: gb.exp(x), x=(3, 40))
    outcome = run(graph)
    place = outcome.exe.placements[graph.outputs[0]]
    raw = outcome.gm[place.offset:place.offset + place.nbytes].view(np.float16).reshape(3, 48)
    assert np.all(raw[:, 40:] == 0)
    np.testing.assert_allclose(raw[:, :40], outcome.reference[graph.outputs[0]], rtol=1e-2)


def test_channel_padding_is_zero_in_nc1hwc0() -> None:
    graph = build(lambda gb, x: gb.add(x, 1.0), x=(2, 20, 3, 5))
    outcome = run(graph, fmap=["x", graph.outputs[0]])
    place = outcome.exe.placements[graph.outputs[0]]
    raw = outcome.gm[place.offset:place.offset + place.nbytes].view(np.float16)
    stored = raw.reshape(2, 2, 3, 5, 16)
    assert np.all(stored[:, 1, :, :, 4:] == 0)


def test_multi_core_split_and_large_tensor() -> None:
    graph = build(lambda gb, x, y: gb.add(x, y), x=(64, 1000, 17), y=(64, 1000, 17))
    outcome = check(graph)
    kernel = outcome.exe.kernels[0].program
    assert kernel.block_dim == 32
    # big repeats: far fewer instructions than 256 B repeats of data
    assert kernel.instruction_count() < 64 * 1000 * 32 // 128 // 8


def test_timing_at_least_roofline() -> None:
    pairs = check_roofline(build(lambda gb, x: gb.gelu(x), x=(64, 4096)))
    assert pairs and all(cycles >= bound for cycles, bound in pairs)


@pytest.mark.parametrize("both", [False, True])
def test_identity_naming_an_output_reads_its_input_in_place(both: bool) -> None:
    # a training step's next running statistics are identities of the batch-norm outputs:
    # no copy kernel (a launch each), the output is the input's bytes, kept to the end
    def fn(gb, x):
        y = gb.relu(x)
        out = gb.identity(y)
        return (y, out) if both else out

    graph = build(fn, x=(4, 40))
    exe = lower(graph)
    assert [k.op for k in exe.kernels] == ["relu"]
    check(graph)
