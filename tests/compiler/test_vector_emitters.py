"""The UB-level emitter interface the Cube kernels' epilogues call (vector_ops), checked on
hand-built kernels: GM -> UB, the emitter, UB -> GM, run in functional mode."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import PRESET, build, check_roofline

from compiler.davinci.builder import KernelBuilder
from compiler.davinci.kernels import vector_ops
from compiler.errors import CompileError
from framework import GraphBuilder, OpCode, interpret
from framework.attrs import ClipAttrs, EluAttrs, GeluAttrs, LeakyReluAttrs
from hw.davinci import get_preset
from hw.davinci.run import SimOptions, run_kernel
from isa.davinci import Addr, Copy, Space, kernel_problems

CONFIG = get_preset(PRESET)


def _run(emit, arrays: list[np.ndarray], count: int) -> np.ndarray:
    """Load ``arrays`` (fp16) into UB, call ``emit(sb, dst, srcs, scratch)``, store dst."""
    builder = KernelBuilder("emitter", CONFIG, 1)
    sb = builder.stream(0)
    nbytes = -(-count * 2 // 256) * 256
    gm = np.zeros(nbytes * (len(arrays) + 1), dtype=np.uint8)
    srcs = []
    for i, array in enumerate(arrays):
        raw = np.zeros(nbytes // 2, dtype=np.float16)
        raw[:array.size] = array
        gm[i * nbytes:(i + 1) * nbytes] = raw.view(np.uint8)
        ub = sb.alloc(Space.UB, nbytes, f"src{i}")
        sb.emit(Copy(ub, Addr(Space.GM, i * nbytes), 1, nbytes // 32))
        srcs.append(ub)
    dst = sb.alloc(Space.UB, nbytes, "dst")
    scratch = sb.alloc(Space.UB, 2 * nbytes, "scratch")
    emit(sb, dst, srcs, scratch)
    out_at = len(arrays) * nbytes
    sb.emit(Copy(Addr(Space.GM, out_at), dst, 1, nbytes // 32))
    kernel = builder.build()
    assert not kernel_problems(kernel, CONFIG)
    run_kernel(kernel, CONFIG, SimOptions(mode="functional"), gm=gm)
    return gm[out_at:out_at + count * 2].view(np.float16).astype(np.float32)


def _reference(op: OpCode, attrs, *xs: np.ndarray) -> np.ndarray:
    gb = GraphBuilder("ref")
    names = [gb.input(f"x{i}", x.shape) for i, x in enumerate(xs)]
    gb.output(gb.node(op, names, attrs)[0])
    graph = gb.build()
    feeds = {f"x{i}": x for i, x in enumerate(xs)}
    return np.asarray(interpret(graph, feeds)[graph.outputs[0]], dtype=np.float32)


UNARY = [(OpCode.RELU, None), (OpCode.GELU, GeluAttrs()), (OpCode.SILU, None),
         (OpCode.SIGMOID, None), (OpCode.TANH, None), (OpCode.CLIP, ClipAttrs(0.0, 6.0)),
         (OpCode.LEAKY_RELU, LeakyReluAttrs(0.1)), (OpCode.ELU, EluAttrs(1.0))]


@pytest.mark.parametrize("op,attrs", UNARY, ids=[op.value for op, _ in UNARY])
@pytest.mark.parametrize("count", [256, 1000])  # whole repeats, and a masked tail
def test_emit_unary_in_place(op: OpCode, attrs, count: int) -> None:
    x = np.random.default_rng(0).uniform(-4, 4, count).astype(np.float16).astype(np.float32)
    assert vector_ops.scratch_bytes(op, attrs, count) <= 2 * (-(-count * 2 // 256) * 256)

    def emit(sb, dst, srcs, scratch):
        vector_ops.emit_unary(sb, op, attrs, srcs[0], srcs[0], count, scratch)
        vector_ops.emit_binary(sb, OpCode.ADD, dst, srcs[0], srcs[0], count)
        vector_ops.emit_scalar(sb, OpCode.MUL, dst, dst, 0.5, count)

    got = _run(emit, [x], count)
    np.testing.assert_allclose(got, _reference(op, attrs, x), rtol=1e-2, atol=3e-3)


@pytest.mark.parametrize("op", [OpCode.SUB, OpCode.MUL, OpCode.MAXIMUM, OpCode.PRELU])
def test_emit_binary(op: OpCode) -> None:
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-2, 2, 300).astype(np.float16).astype(np.float32) for _ in range(2))

    def emit(sb, dst, srcs, scratch):
        vector_ops.emit_binary(sb, op, dst, srcs[0], srcs[1], 300, scratch)

    np.testing.assert_allclose(_run(emit, [a, b], 300), _reference(op, None, a, b), rtol=1e-2,
                               atol=1e-3)


def test_emit_scalar_with_the_scalar_on_the_left() -> None:
    x = np.linspace(0.5, 3.0, 200).astype(np.float16).astype(np.float32)

    def emit(sb, dst, srcs, scratch):
        vector_ops.emit_scalar(sb, OpCode.DIV, dst, srcs[0], 2.0, 200, swap=True)

    np.testing.assert_allclose(_run(emit, [x], 200), 2.0 / x, rtol=2e-3)


def test_emit_channel_add_broadcasts_each_bias_block() -> None:
    rows, blocks = 20, 3
    tile = np.random.default_rng(2).uniform(-1, 1, rows * blocks * 16).astype(np.float16)
    bias = np.arange(blocks * 16, dtype=np.float32) / 10

    def emit(sb, dst, srcs, scratch):
        vector_ops.emit_channel_add(sb, dst, srcs[0], srcs[1], rows, blocks)

    got = _run(emit, [tile.astype(np.float32), bias], rows * blocks * 16)
    want = tile.astype(np.float32).reshape(blocks, rows, 16) + bias.reshape(blocks, 1, 16)
    np.testing.assert_allclose(got, want.reshape(-1), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("op,swap", [(OpCode.MUL, False), (OpCode.SUB, True),
                                     (OpCode.MAXIMUM, False)])
def test_emit_channel_op(op: OpCode, swap: bool) -> None:
    rows, blocks = 12, 2
    tile = np.random.default_rng(3).uniform(-1, 1, rows * blocks * 16).astype(np.float16)
    vec = np.linspace(-1, 1, blocks * 16).astype(np.float16).astype(np.float32)

    def emit(sb, dst, srcs, scratch):
        vector_ops.emit_channel_op(sb, op, dst, srcs[0], srcs[1], rows, blocks, swap)

    got = _run(emit, [tile.astype(np.float32), vec], rows * blocks * 16)
    x = tile.astype(np.float32).reshape(blocks, rows, 16)
    v = np.broadcast_to(vec.reshape(blocks, 1, 16), x.shape)
    want = _reference(op, None, v, x) if swap else _reference(op, None, x, v)
    np.testing.assert_allclose(got, want.reshape(-1), rtol=1e-2, atol=1e-3)


def test_streaming_kernel_overlaps_loads_compute_and_stores() -> None:
    # double buffering: a ReLU over 64 MiB stays within 5 % of its HBM roofline
    pairs = check_roofline(build(lambda gb, x: gb.relu(x), x=(32, 1024, 1024)))
    cycles, bound = pairs[0]
    assert bound <= cycles <= 1.05 * bound


def test_reduction_destinations_need_element_alignment_only() -> None:
    # vcadd/vcmax write one element per repeat (AscendC WholeReduceSum: 2 B alignment for half)
    from isa.davinci import DType, Kernel, Stream, VBinary, VBinOp, VReduce, VReduceOp

    ub = Addr(Space.UB, 0)
    ok = VReduce(VReduceOp.SUM, DType.FP16, ub + 258, ub + 512, 2, 1, 8, 1)
    bad = VBinary(VBinOp.ADD, DType.FP16, ub + 2, ub + 512, ub + 1024)
    assert not kernel_problems(Kernel("ok", ({"core": Stream((ok,))},)), CONFIG)
    assert any("aligned" in p for p in kernel_problems(Kernel("bad", ({"core": Stream((bad,))},)),
                                                       CONFIG))


def test_recorded_entry_points_replay_what_a_fresh_emission_gives() -> None:
    """The epilogue entry points replay a record per distinct argument list: the replay equals
    emitting afresh, unhashable arguments still emit, and errors are not recorded away."""
    from compiler.davinci.builder import StreamBuilder
    from compiler.davinci.kernels import vector_math

    dst, src = Addr(Space.UB, 0), Addr(Space.UB, 4096)
    fresh = StreamBuilder({})
    vector_math.unary(fresh, vector_ops.Geometry.flat(1000), OpCode.GELU, GeluAttrs(),
                      vector_ops.Opnd(dst), vector_ops.Opnd(src), vector_ops.Opnd(dst + 8192))
    replays = [StreamBuilder({}) for _ in range(2)]
    for sb in replays:
        vector_ops.emit_unary(sb, OpCode.GELU, GeluAttrs(), dst, src, 1000, dst + 8192)
    assert replays[0].instructions == replays[1].instructions == fresh.instructions

    unhashable = StreamBuilder({})
    vector_ops.emit_unary(unhashable, OpCode.RELU, [], dst, src, 300, None)  # a list as attrs
    assert len(unhashable.instructions) > 0
    for _ in range(2):
        with pytest.raises(CompileError, match="no per-channel lowering"):
            vector_ops.emit_channel_op(StreamBuilder({}), OpCode.POW, dst, src, src, 16, 1)
