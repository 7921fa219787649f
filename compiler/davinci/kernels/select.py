"""where(cond, a, b) by bit selection, and casts between the device's float types.

The vector ISA has no compare-and-select; ``vand`` / ``vor`` act on raw bits of any type
(isa vector docstring), so with a mask M of all-ones / all-zeros 16-bit lanes, where(c, a, b)
= (a & M) | (b & ~M) exactly, infinities included (GPT-2's causal mask selects -inf, which an
arithmetic blend a*m + b*(1-m) would turn into NaN). With a constant condition the masks are
int16 images (-1 where true) placed at compile time, and a constant a or b is pre-masked into
its image; a run-time condition is refused (its int32 0/1 lanes would need a width change).

Casts: every float type lives as fp16 on the device, so float -> float is a copy (the
element-wise identity kernel), and so is bool -> float for booleans made by comparisons (fp16
0/1 lanes); casts to or from int32 lanes are refused with the reason.
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.elementwise import ChainKernel, emit_elementwise
from compiler.davinci.kernels.elementwise_plan import ChainOp, Ext, classify, classify_array
from compiler.davinci.kernels.vector_common import place_image, place_output
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from framework import Node, OpCode

ATTRS_FLOAT = ("float16", "float32", "float64")


def _mode(exts: dict[str, Ext]) -> str:
    kinds = {e.kind for e in exts.values()}
    return "rows" if kinds & {"row", "rows"} else "chan" if "chan" in kinds else "flat"


@rule(OpCode.WHERE)
def lower_where(ctx: LoweringContext, node: Node) -> None:
    """Bit-select with a constant condition."""
    cond, a, b = node.inputs
    out = place_output(ctx, node.outputs[0], node.inputs)
    if not ctx.type_of(node.outputs[0]).is_float:
        raise CompileError(f"{node.name}: integer where has no DaVinci lowering")
    if not ctx.is_constant(cond):
        _where_run_time(ctx, node, out)
        return
    shape = ctx.type_of(node.outputs[0]).shape
    mask = np.broadcast_to(ctx.constant(cond).astype(bool), shape)
    exts: dict[str, Ext] = {}
    args: list[str] = []
    for value, keep in ((a, mask), (b, ~mask)):
        if ctx.is_constant(value):
            image = np.where(keep, np.broadcast_to(ctx.constant(value), shape), 0.0)
            key = f"{node.name}@{value}:selected"
            exts[key] = classify_array(ctx, key, image, out, node.name)
            if exts[key].kind == "imm":  # one element: bits are combined, so store it
                exts[key] = _expanded(ctx, key, image, out)
            args += [key, ""]
        else:
            key = f"{node.name}@mask:{value}"
            exts[value] = classify(ctx, value, out, node.name)
            exts[key] = classify_array(ctx, key, np.where(keep, -1, 0).astype(np.int16), out,
                                       node.name, dtype="int16")
            args += [value, key]
    chain = [ChainOp("select", None, tuple(args))]
    emit_elementwise(ctx, node, ChainKernel(chain, exts, out, _mode(exts), False, 1))


def _where_run_time(ctx: LoweringContext, node: Node, out) -> None:
    """The condition comes from a comparison kernel (fp16 0/1 lanes): masks are made on
    the fly (chain_select.where)."""
    cond, a, b = node.inputs
    placement = ctx.place(cond)
    if placement.dtype != "float16":
        raise CompileError(f"{node.name}: where on a {placement.dtype} condition {cond}: run-time "
                           "conditions must come from a comparison (fp16 0/1 lanes)")
    exts = {v: classify(ctx, v, out, node.name) for v in dict.fromkeys((cond, a, b))}
    for value in (a, b):
        if exts[value].kind not in ("imm", "flat", "row", "rows", "chan", "scalar"):
            raise CompileError(f"{node.name}: where operand {value} cannot be read")
    chain = [ChainOp("where", None, (cond, a, b))]
    emit_elementwise(ctx, node, ChainKernel(chain, exts, out, _mode(exts), False, 2))


def _expanded(ctx: LoweringContext, key: str, image: np.ndarray, out) -> Ext:
    """A uniform constant image stored at full size (a select operand cannot be an
    immediate: it is combined bit-wise)."""
    layout = out.layout
    full = np.broadcast_to(image, out.shape).astype(np.float32)
    return Ext(key, "flat", place_image(ctx, f"{key}@full", full, layout))


@rule(OpCode.CAST)
def lower_cast(ctx: LoweringContext, node: Node) -> None:
    """float -> float casts are copies (all floats are fp16 on the device)."""
    x, y = node.inputs[0], node.outputs[0]
    stored = ctx.placements.get(x)
    # booleans made by comparisons are fp16 0/1 lanes already
    src_float = ctx.type_of(x).is_float or (stored is not None and stored.dtype == "float16")
    dst_float = ctx.type_of(y).is_float
    if not (src_float and dst_float):
        raise CompileError(f"{node.name}: cast {ctx.type_of(x).dtype} -> {node.attrs.dtype} "
                           "changes between fp16 and int32 lanes; only float casts are lowered")
    out = place_output(ctx, y, (x,))
    exts = {x: classify(ctx, x, out, node.name)}
    chain = [ChainOp(OpCode.IDENTITY, None, (x,))]
    emit_elementwise(ctx, node, ChainKernel(chain, exts, out, _mode(exts), False, 0))
