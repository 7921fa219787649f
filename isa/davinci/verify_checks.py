"""Semantic verification rules of the DaVinci ISA: dtypes per op and conversion pairs,
per-format shape consistency and which unit of a chip may run what, as tables keyed by op,
format and unit; ``check_instruction`` runs every per-instruction check.

Figures cite shared/facts/davinci.md (section and source tag).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from isa.davinci.base import Instruction
from isa.davinci.cube import Mmad
from isa.davinci.dma import CopyL0cToUb, CopyNd2Nz, Fixpipe, Img2Col, Load2D
from isa.davinci.sync import Barrier, CrossCoreSetFlag, CrossCoreWaitFlag, SetFlag, WaitFlag
from isa.davinci.types import DType, Pipe, Space
from isa.davinci.vector import (
    VBinOp,
    VConv,
    VDup,
    VectorInstruction,
    VReduceOp,
    VScalarOp,
    VUnOp,
)
from isa.davinci.verify_rules import (
    Problem,
    addr_fields,
    check_alignment,
    check_capacity,
    check_ranges,
    check_spaces,
    typed_fields,
)

if TYPE_CHECKING:
    from isa.davinci.verify import HwConfig


def _names(items: Any) -> str:
    return ", ".join(sorted(item.name for item in items))


# ------------------------------------------------------------------ dtypes

_FLOAT = frozenset({DType.FP16, DType.FP32})
_ARITH = _FLOAT | {DType.INT16, DType.INT32}
_INTEGER = frozenset({DType.INT8, DType.UINT8, DType.INT16, DType.INT32})
# Per-op vector dtypes (facts §1.2 "Supported dtypes" [AKG-CONF]): transcendental ops and
# division are float only; bitwise ops act on integer bit patterns of any width.
VECTOR_DTYPES: dict[Any, frozenset[DType]] = {
    **{op: _ARITH for op in (VBinOp.ADD, VBinOp.SUB, VBinOp.MUL, VBinOp.MAX, VBinOp.MIN)},
    VBinOp.DIV: _FLOAT,
    VBinOp.AND: _INTEGER,
    VBinOp.OR: _INTEGER,
    **{op: _FLOAT for op in (VUnOp.EXP, VUnOp.LN, VUnOp.SQRT, VUnOp.RSQRT, VUnOp.REC)},
    VUnOp.ABS: _ARITH,
    VUnOp.RELU: _ARITH,
    VUnOp.NOT: _INTEGER,
    **{op: _ARITH for op in (VScalarOp.ADDS, VScalarOp.MULS, VScalarOp.MAXS, VScalarOp.MINS)},
    VScalarOp.LRELU: _FLOAT,
    **{op: _FLOAT for op in VReduceOp},
    VDup: _ARITH,
}

_F16, _F32, _BF16 = DType.FP16, DType.FP32, DType.BF16
_S8, _U8, _S16, _S32 = DType.INT8, DType.UINT8, DType.INT16, DType.INT32
CONVERSIONS: dict[type[Instruction], frozenset[tuple[DType, DType]]] = {
    # vconv_* pairs of AKG-CONF (f322f16, f162f32, f162s8, f162u8, f162s32, s322f32, f322s32,
    # s82f16, u82f16, deq s322f16) plus 910B Cast bf16 <-> fp32 and fp16 <-> int16 (facts §1.2)
    VConv: frozenset({
        (_F32, _F16), (_F16, _F32), (_F16, _S8), (_F16, _U8), (_F16, _S32), (_S32, _F32),
        (_F32, _S32), (_S8, _F16), (_U8, _F16), (_S32, _F16), (_F32, _BF16), (_BF16, _F32),
        (_F16, _S16), (_S16, _F16),
    }),
    # copy_matrix_cc_to_ubuf conversion modes (CRMODE_F32toF16 etc., facts §1.4)
    CopyL0cToUb: frozenset({(_F32, _F16), (_F32, _F32), (_S32, _S32), (_S32, _F16), (_F16, _F16)}),
    # FixPipe quantisation: S32 -> F16/S32/S8/S16, F32 -> F16/BF16/S8/F32 (facts §1.4)
    Fixpipe: frozenset({
        (_S32, _F16), (_S32, _S32), (_S32, _S8), (_S32, _S16),
        (_F32, _F16), (_F32, _BF16), (_F32, _S8), (_F32, _F32),
    }),
}
"""(src_dtype, dst_dtype) pairs each converting instruction supports."""

CUBE_INPUT_CLASSES = (Mmad, Load2D, Img2Col)
"""Instructions whose ``dtype`` is a Cube input type, so it must be in config.cube_dtypes."""


def _check_dtypes(instr: Instruction, config: HwConfig) -> Iterator[Problem]:
    if isinstance(instr, CUBE_INPUT_CLASSES) and instr.dtype.text not in config.cube_dtypes:
        supported = ", ".join(config.cube_dtypes)
        yield Problem("dtype", f"not a Cube type of this chip ({supported})", instr.dtype)
    pairs = CONVERSIONS.get(type(instr))
    if pairs is not None:
        pair = (instr.src_dtype, instr.dst_dtype)  # type: ignore[attr-defined]
        if pair not in pairs:
            yield Problem(
                "dst_dtype", f"no {pair[0].text} -> {pair[1].text} conversion", pair[1]
            )
    if isinstance(instr, VectorInstruction) and not isinstance(instr, VConv):
        key = getattr(instr, "op", type(instr))
        allowed = VECTOR_DTYPES[key]
        if instr.dtype not in allowed:  # type: ignore[attr-defined]
            names = ", ".join(sorted(d.text for d in allowed))
            yield Problem("dtype", f"{instr.mnemonic} takes {names}", instr.dtype)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ per-format consistency


def _img2col_shape(instr: Img2Col) -> Iterator[Problem]:
    if instr.out_h < 1 or instr.out_w < 1:
        yield Problem(
            "kernel_h" if instr.out_h < 1 else "kernel_w",
            f"dilated kernel larger than the padded feature map (output {instr.out_h} x "
            f"{instr.out_w})",
            instr.kernel_h if instr.out_h < 1 else instr.kernel_w,
        )
    k_fractals = instr.c1 * instr.kernel_h * instr.kernel_w  # one fractal per (c1, i, j)
    if instr.k_start + instr.k_steps > k_fractals:
        yield Problem(
            "k_steps", f"k_start + k_steps exceeds the {k_fractals} K fractals", instr.k_steps
        )


def _load2d_shape(instr: Load2D) -> Iterator[Problem]:
    if instr.transpose and instr.dtype.itemsize != 2:
        yield Problem("dtype", "transposing load2d takes 2-byte types only (§3.4)", instr.dtype)


def _nd2nz_shape(instr: CopyNd2Nz) -> Iterator[Problem]:
    if instr.src_row_stride < instr.cols:
        yield Problem("src_row_stride", f"smaller than cols ({instr.cols})", instr.src_row_stride)


def _fixpipe_shape(instr: Fixpipe) -> Iterator[Problem]:
    if instr.nz2nd and instr.dst_row_stride < instr.n:
        yield Problem(
            "dst_row_stride", f"smaller than n ({instr.n}): ND rows overlap", instr.dst_row_stride
        )


def _flag_pipes(instr: SetFlag | WaitFlag) -> Iterator[Problem]:
    if instr.src is instr.dst and (instr.src, instr.dst) not in SAME_PIPE_EVENTS:
        yield Problem("dst", "a flag from a pipe to itself is invalid", instr.dst)


SAME_PIPE_EVENTS = frozenset({(Pipe.V, Pipe.V), (Pipe.FIX, Pipe.FIX)})
"""The only same-pipe HardEvents (V_V, FIX_FIX [ASC-EVT] facts §4)."""

SHAPE_RULES: dict[type[Instruction], Callable[[Any], Iterator[Problem]]] = {
    Img2Col: _img2col_shape,
    Load2D: _load2d_shape,
    CopyNd2Nz: _nd2nz_shape,
    Fixpipe: _fixpipe_shape,
    SetFlag: _flag_pipes,
    WaitFlag: _flag_pipes,
}


# ------------------------------------------------------------------ unit placement

_AIV_PIPES = frozenset({Pipe.S, Pipe.V, Pipe.MTE2, Pipe.MTE3})
_AIV_SPACES = frozenset({Space.GM, Space.UB})
# Which pipes and spaces each unit has (facts §2.3, §3.1 data path graph): a coupled core has
# every pipe but FixPipe; a separated AIC has the Cube side, each AIV the vector side.
UNIT_PIPES: dict[str, frozenset[Pipe]] = {
    "core": frozenset({Pipe.S, Pipe.V, Pipe.M, Pipe.MTE1, Pipe.MTE2, Pipe.MTE3}),
    "aic": frozenset({Pipe.S, Pipe.M, Pipe.MTE1, Pipe.MTE2, Pipe.MTE3, Pipe.FIX}),
    "aiv0": _AIV_PIPES,
    "aiv1": _AIV_PIPES,
}
UNIT_SPACES: dict[str, frozenset[Space]] = {
    "core": frozenset(Space),
    "aic": frozenset(Space) - {Space.UB},
    "aiv0": _AIV_SPACES,
    "aiv1": _AIV_SPACES,
}
ALL_PIPE_FIELDS = frozenset({(Barrier, "target")})
"""Pipe fields that may name ALL."""


def _check_unit(instr: Instruction, unit: str) -> Iterator[Problem]:
    pipes = UNIT_PIPES[unit]
    pipe_fields = [(n, getattr(instr, n)) for n, t in typed_fields(type(instr)) if t is Pipe]
    for name, value in pipe_fields:
        if value is Pipe.ALL:
            if (type(instr), name) not in ALL_PIPE_FIELDS:
                yield Problem(name, "ALL is only valid as a barrier target", value)
        elif value not in pipes:
            yield Problem(name, f"unit {unit} has no pipe {value.name} ({_names(pipes)})", value)
    if not pipe_fields and instr.pipe not in pipes:
        yield Problem(None, f"runs on pipe {instr.pipe.name}, which unit {unit} does not have")
    spaces = UNIT_SPACES[unit]
    for name, addr in addr_fields(instr):
        if addr.space not in spaces:
            yield Problem(name, f"unit {unit} cannot reach {addr.space.name}", addr)
    if isinstance(instr, CrossCoreSetFlag | CrossCoreWaitFlag):
        if unit == "core":
            yield Problem(None, "cross-core flags exist only on separated chips (facts §4)")
        elif isinstance(instr, CrossCoreSetFlag) and instr.target.value == unit:
            yield Problem("target", "a unit cannot signal itself", instr.target)


def check_instruction(instr: Instruction, config: HwConfig, unit: str) -> list[Problem]:
    """Every problem of ``instr`` placed in ``unit`` ("core", "aic", "aiv0", "aiv1").

    Capacity is checked only when fields, spaces and placement are sound, since the regions of
    an out-of-range instruction are meaningless.
    """
    problems = list(check_ranges(instr, config))
    problems += check_spaces(instr, config)
    problems += _check_unit(instr, unit)
    problems += check_alignment(instr, config)
    problems += _check_dtypes(instr, config)
    shape_rule = SHAPE_RULES.get(type(instr))
    if shape_rule is not None and not problems:
        problems += shape_rule(instr)
    if not problems:
        problems += check_capacity(instr, config)
    return problems
