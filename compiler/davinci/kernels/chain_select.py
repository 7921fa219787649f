"""Bit-select steps of element-wise chains: where(cond, a, b) without a select instruction.

``vand`` / ``vor`` / ``vnot`` act on raw bits (integer dtypes, so the steps run on the same
16-bit lanes typed int16). With M = all-ones where the condition holds and all-zeros elsewhere,
where(c, a, b) = (a & M) | (b & ~M), exact for every fp16 value including infinities.

- "select" (a, mask_a, b, mask_b): masks are compile-time int16 images; an empty mask name
  means the operand is an image already masked at compile time.
- "where" (cond, a, b): cond holds fp16 0.0 / 1.0 lanes (how comparisons store booleans). As
  int16 bits 1.0 is 0x3C00 and 0.0 is 0, so min(bits, 1) * -1 is the mask. A float operand
  that is an immediate is written into a scratch tile first (0 needs no term at all).

One arithmetic step lives here too, because it also needs a scratch tile beside the
accumulator:

- "add_relu_masked" (a, y): acc += where(y > 0, a, 0), the ReLU backward of y applied to a
  as it is added (batch_norm_grad with relu_mask); the 0/1 indicator of y > 0 is exact
  (vector_math.indicator) and so is a product by it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.kernels.vector_math import indicator
from compiler.davinci.kernels.vector_ops import Geometry, Opnd, vbin, vcopy, vdup, vsc, vun
from compiler.errors import CompileError
from isa.davinci import DType, VBinOp, VScalarOp, VUnOp

Operand = Opnd | float | None
SelectRule = Callable[[StreamBuilder, Geometry, Opnd, Sequence[Operand], Sequence[Opnd]], None]


def _int16(geo: Geometry) -> Geometry:
    return Geometry(geo.rows, geo.cols, geo.row_stride, DType.INT16, geo.tail)


def _tensor(x: Operand) -> Opnd:
    if not isinstance(x, Opnd):
        raise CompileError("where: a bit-select operand must be a tensor tile")
    return x


def select(sb: StreamBuilder, geo: Geometry, acc: Opnd, args: Sequence[Operand],
           scratch: Sequence[Opnd]) -> None:
    """acc = (a & mask_a) | (b & mask_b) with compile-time masks."""
    g = _int16(geo)
    a, ma, b, mb = args
    if ma is not None:
        vbin(sb, g, VBinOp.AND, acc, _tensor(a), _tensor(ma))
    else:
        vcopy(sb, g, acc, _tensor(a))
    y = _tensor(b)
    if mb is not None:
        vbin(sb, g, VBinOp.AND, scratch[0], y, _tensor(mb))
        y = scratch[0]
    vbin(sb, g, VBinOp.OR, acc, acc, y)


def where(sb: StreamBuilder, geo: Geometry, acc: Opnd, args: Sequence[Operand],
          scratch: Sequence[Opnd]) -> None:
    """acc = where(cond, a, b) with cond as fp16 0/1 lanes computed at run time."""
    g = _int16(geo)
    cond, a, b = args
    keep, spare = scratch[0], scratch[1]
    vsc(sb, g, VScalarOp.MINS, acc, _tensor(cond), 1.0)
    vsc(sb, g, VScalarOp.MULS, acc, acc, -1.0)  # M
    vun(sb, g, VUnOp.NOT, keep, acc)  # ~M
    for mask, value in ((acc, a), (keep, b)):
        if isinstance(value, float):
            if value == 0.0:
                vdup(sb, g, mask, 0.0)
                continue
            vdup(sb, geo, spare, value)
            value = spare
        vbin(sb, g, VBinOp.AND, mask, mask, _tensor(value))
    vbin(sb, g, VBinOp.OR, acc, acc, keep)


def add_relu_masked(sb: StreamBuilder, geo: Geometry, acc: Opnd, args: Sequence[Operand],
                    scratch: Sequence[Opnd]) -> None:
    """acc += a where y > 0 (else += 0), with one scratch tile."""
    a, y = (_tensor(v) for v in args)
    mask = scratch[0]
    vcopy(sb, geo, mask, y)
    indicator(sb, geo, mask, equal=False)
    vbin(sb, geo, VBinOp.MUL, mask, mask, a)
    vbin(sb, geo, VBinOp.ADD, acc, acc, mask)


SELECT_RULES: dict[str, SelectRule] = {"select": select, "where": where,
                                       "add_relu_masked": add_relu_masked}
"""Chain step name -> emitter (acc, operands in ChainOp.args order, scratch tiles)."""
