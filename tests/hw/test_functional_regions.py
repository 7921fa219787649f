"""The functional rules agree with the ISA's ``reads()``/``writes()`` regions, on which race
detection and flag insertion rely: an instruction changes no byte outside its write regions,
and what it writes depends on no byte outside its read regions (property tests over random
operands, strides, masks and memory contents)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hw.davinci.functional import CoreMemory, MaskState, execute, vector_repeats
from isa.davinci import (
    Addr,
    Copy,
    CopyL0cToUb,
    DType,
    Fixpipe,
    Img2Col,
    Instruction,
    Load2D,
    Mmad,
    Region,
    Space,
    VBinary,
    VBinOp,
    VConv,
    VDup,
    VectorInstruction,
    VReduce,
    VReduceOp,
    VScalar,
    VScalarOp,
    VUnary,
    VUnOp,
)

SIZE = 1 << 15
CFG = SimpleNamespace(l1_bytes=SIZE, l0a_bytes=SIZE, l0b_bytes=SIZE, l0c_bytes=SIZE,
                      ub_bytes=SIZE, bt_bytes=0, fb_bytes=0)
SPACES = (Space.GM, Space.L1, Space.L0A, Space.L0B, Space.L0C, Space.UB)


def _memory(rng: np.random.Generator) -> CoreMemory:
    mem = CoreMemory(CFG, rng.integers(0, 256, SIZE, dtype=np.uint8))
    for space in SPACES[1:]:
        mem.buffer(space)[:] = rng.integers(0, 256, SIZE, dtype=np.uint8)
    return mem


def _inside(regions: tuple[Region, ...], space: Space) -> np.ndarray:
    inside = np.zeros(SIZE, dtype=bool)
    for r in regions:
        if r.space == space:
            inside[r.start:r.stop] = True
    return inside


def _check(instr: Instruction, mask: MaskState, seed: int) -> None:
    regions = instr
    if isinstance(instr, VectorInstruction):  # counter mode derives the repeat count
        regions = replace(instr, repeat=vector_repeats(instr, mask))  # type: ignore[call-arg]
    reads, writes = regions.reads(), regions.writes()
    rng = np.random.default_rng(seed)
    first, second = _memory(rng), _memory(rng)
    for space in SPACES:  # same bytes inside the read and write regions, others differ
        keep = _inside(reads + writes, space)
        second.buffer(space)[keep] = first.buffer(space)[keep]
    before = {space: first.buffer(space).copy() for space in SPACES}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the rules handle inf and NaN quietly
        execute(instr, first, mask)
        execute(instr, second, mask)
    for space in SPACES:
        changed = first.buffer(space) != before[space]
        written = _inside(writes, space)
        assert not (changed & ~written).any(), f"{instr} wrote outside {writes}"
        assert np.array_equal(first.buffer(space)[written], second.buffer(space)[written]), (
            f"{instr} depends on bytes outside {reads}"
        )


_ADDR = st.integers(0, 200).map(lambda block: block * 32)
_BLK = st.integers(0, 3)
_REP = st.integers(0, 24)
_MASKS = st.one_of(
    st.builds(MaskState, st.just(False), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
    st.builds(MaskState, st.just(True), st.just(0), st.integers(0, 400)),
)


def _ub(offset: int) -> Addr:
    return Addr(Space.UB, offset)


_VECTOR = st.one_of(
    st.builds(VBinary, st.sampled_from([VBinOp.ADD, VBinOp.MAX, VBinOp.AND]),
              st.sampled_from([DType.FP16, DType.FP32, DType.INT16]), _ADDR.map(_ub),
              _ADDR.map(_ub), _ADDR.map(_ub), st.integers(1, 4), _BLK, _BLK, _BLK, _REP,
              _REP, _REP),
    st.builds(VUnary, st.sampled_from([VUnOp.EXP, VUnOp.RELU]),
              st.sampled_from([DType.FP16, DType.FP32]), _ADDR.map(_ub), _ADDR.map(_ub),
              st.integers(1, 4), _BLK, _BLK, _REP, _REP),
    st.builds(VScalar, st.sampled_from(list(VScalarOp)), st.sampled_from([DType.FP16]),
              _ADDR.map(_ub), _ADDR.map(_ub), st.just(0.5), st.integers(1, 4), _BLK, _BLK,
              _REP, _REP),
    st.builds(VDup, st.sampled_from([DType.FP32, DType.INT16]), _ADDR.map(_ub), st.just(2.0),
              st.integers(1, 4), _BLK, _REP),
    st.builds(VConv, st.sampled_from([DType.FP16, DType.INT8]), st.just(DType.FP32),
              _ADDR.map(_ub), _ADDR.map(_ub), st.integers(1, 4), _BLK, _BLK, _REP, _REP),
    st.builds(VReduce, st.sampled_from(list(VReduceOp)), st.just(DType.FP16), _ADDR.map(_ub),
              _ADDR.map(_ub), st.integers(1, 4), _BLK, _REP, st.integers(0, 3)),
)


@given(instr=_VECTOR, mask=_MASKS, seed=st.integers(0, 2**32))
def test_vector_rules_stay_inside_their_regions(instr: Instruction, mask: MaskState,
                                                seed: int) -> None:
    _check(instr, mask, seed)


_SPACE_ADDR = st.builds(Addr, st.sampled_from([Space.GM, Space.L1, Space.UB]), _ADDR)
_DMA = st.one_of(
    st.builds(Copy, _SPACE_ADDR, _SPACE_ADDR, st.integers(1, 4), st.integers(1, 4),
              st.integers(0, 3), st.integers(0, 3)),
    st.builds(Load2D, _ADDR.map(lambda a: Addr(Space.L0A, a)),
              _ADDR.map(lambda a: Addr(Space.L1, a)), st.integers(1, 3), st.integers(0, 3),
              st.integers(0, 3), st.booleans()),
    st.builds(CopyL0cToUb, _ADDR.map(_ub), _ADDR.map(lambda a: Addr(Space.L0C, a)),
              st.integers(1, 3), st.sampled_from([DType.FP32, DType.INT32]),
              st.sampled_from([DType.FP16, DType.FP32]), st.booleans()),
)


@st.composite
def _cube(draw: st.DrawFn) -> Instruction:
    kind = draw(st.sampled_from(["mmad", "fixpipe", "img2col"]))
    l0c = Addr(Space.L0C, draw(_ADDR))
    if kind == "mmad":
        m, k, n = (draw(st.integers(1, 40)) for _ in range(3))
        return Mmad(l0c, Addr(Space.L0A, draw(_ADDR)), Addr(Space.L0B, draw(_ADDR)), m, k, n,
                    dtype=draw(st.sampled_from([DType.FP16, DType.INT8, DType.BF16])),
                    init=draw(st.booleans()))
    if kind == "fixpipe":
        m, n = draw(st.integers(1, 40)), draw(st.integers(1, 40))
        return Fixpipe(Addr(Space.GM, draw(_ADDR)), l0c, m, n, relu=draw(st.booleans()),
                       nz2nd=draw(st.booleans()), dst_row_stride=n + draw(st.integers(0, 8)),
                       scale=draw(st.sampled_from([1.0, 0.5])))
    k = draw(st.integers(1, 3))
    return Img2Col(Addr(Space.L0A, draw(_ADDR)), Addr(Space.L1, draw(_ADDR)),
                   fmap_h=draw(st.integers(3, 6)), fmap_w=draw(st.integers(3, 6)), c1=2,
                   kernel_h=k, kernel_w=k, stride_h=draw(st.integers(1, 2)),
                   stride_w=draw(st.integers(1, 2)), pad_top=1, pad_bottom=1, pad_left=1,
                   pad_right=1, m_start=draw(st.integers(0, 20)), m_steps=draw(st.integers(1, 2)),
                   k_start=0, k_steps=draw(st.integers(1, 2 * k * k)))


@given(instr=st.one_of(_DMA, _cube()), seed=st.integers(0, 2**32))
def test_dma_and_cube_rules_stay_inside_their_regions(instr: Instruction, seed: int) -> None:
    _check(instr, MaskState(), seed)
