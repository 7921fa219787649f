"""Framework element-wise ops as sequences of vector instructions (one rule per op).

The vector unit has exp, ln, sqrt, rsqrt, reciprocal, abs, relu and the arithmetic ops
(facts/davinci.md §1.2); everything else is composed here, on whole tiles, so each step is one
pass of big repeats. Every result is rounded to fp16 after every step (the functional model
computes each instruction in fp32 and stores fp16), so the accuracies below are for fp16 data:

- sigmoid(x) = 1 / (1 + exp(-x)): exp overflows to inf for x < -11.1 and 1/inf = 0, an
  absolute error below 1.5e-5 there; elsewhere within 2 fp16 ulp of the result.
- tanh(x) = 2 sigmoid(2x) - 1: absolute error about 1e-3 (the ulp of 1 after the subtraction);
  exact sign and saturation for |x| large.
- gelu: the tanh form x * sigmoid(2k(x + 0.044715 x^3)), k = sqrt(2/pi), for both
  approximate="tanh" and the exact erf form, which it matches within 4.7e-4 absolute
  (Hendrycks & Gimpel 2016); below fp16 resolution for |x| > 0.5.
- erf(x) = 2 Phi(sqrt(2) x) - 1 with the same Phi approximation: absolute error below 1e-3.
- softplus = relu(x) + ln(1 + exp(-|x|)): absolute error below 1e-3 (1 + e rounds in fp16).
- elu / selu = relu(x) + alpha (exp(min(x, 0)) - 1): absolute error about 1e-3 near 0.
- pow by a tensor, or by a non-integer scalar: exp(b ln a), defined for a > 0 (NaN for a < 0,
  where the reference gives a real result only for integer b); integer scalar exponents
  (|b| <= 4) and +-0.5 use multiplications, sqrt and reciprocals, exact up to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.kernels.vector_ops import Geometry, Opnd, vbin, vcopy, vdup, vsc, vun
from compiler.errors import CompileError
from framework import OpCode
from isa.davinci import VBinOp, VScalarOp, VUnOp

K_GELU = math.sqrt(2.0 / math.pi)
A_GELU = 0.044715

SCRATCH_TILES: dict[OpCode, int] = {
    OpCode.SILU: 1, OpCode.GELU: 1, OpCode.ERF: 1, OpCode.ELU: 1, OpCode.SELU: 1,
    OpCode.SOFTPLUS: 1, OpCode.POW: 1, OpCode.PRELU: 1,
}
STEP = 4096.0  # 2^12: two scalings take the smallest fp16 difference (2^-24) to >= 1
"""Scratch tiles (each the size of the data) an op needs; ops not listed need none."""

UnaryRule = Callable[[StreamBuilder, Geometry, Any, Opnd, Opnd, Opnd | None], None]


def _need(tmp: Opnd | None, op: OpCode) -> Opnd:
    if tmp is None:
        raise CompileError(f"vector {op.value}: needs a scratch tile (see scratch_bytes)")
    return tmp


def _same(a: Opnd, b: Opnd) -> bool:
    return a == b


def _sigmoid_into(sb: StreamBuilder, geo: Geometry, d: Opnd, s: Opnd, scale: float) -> None:
    """d = sigmoid(scale * s); d may be s."""
    vsc(sb, geo, VScalarOp.MULS, d, s, -scale)
    vun(sb, geo, VUnOp.EXP, d, d)
    vsc(sb, geo, VScalarOp.ADDS, d, d, 1.0)
    vun(sb, geo, VUnOp.REC, d, d)


def _copy_if(sb: StreamBuilder, geo: Geometry, d: Opnd, s: Opnd) -> None:
    if not _same(d, s):
        vcopy(sb, geo, d, s)


def _relu(sb, geo, at, d, s, t):
    vun(sb, geo, VUnOp.RELU, d, s)


def _leaky(sb, geo, at, d, s, t):
    vsc(sb, geo, VScalarOp.LRELU, d, s, at.alpha)


def _clip(sb, geo, at, d, s, t):
    src = s
    if at.min is not None:
        vsc(sb, geo, VScalarOp.MAXS, d, src, at.min)
        src = d
    if at.max is not None:
        vsc(sb, geo, VScalarOp.MINS, d, src, at.max)
        src = d
    _copy_if(sb, geo, d, src)


def _simple(op: VUnOp) -> UnaryRule:
    def rule(sb, geo, at, d, s, t):
        vun(sb, geo, op, d, s)
    return rule


def _neg(sb, geo, at, d, s, t):
    vsc(sb, geo, VScalarOp.MULS, d, s, -1.0)


def _identity(sb, geo, at, d, s, t):
    _copy_if(sb, geo, d, s)


def _sigmoid(sb, geo, at, d, s, t):
    _sigmoid_into(sb, geo, d, s, 1.0)


def _tanh(sb, geo, at, d, s, t):
    _sigmoid_into(sb, geo, d, s, 2.0)
    vsc(sb, geo, VScalarOp.MULS, d, d, 2.0)
    vsc(sb, geo, VScalarOp.ADDS, d, d, -1.0)


def _silu(sb, geo, at, d, s, t):
    t = _need(t, OpCode.SILU)
    _sigmoid_into(sb, geo, t, s, 1.0)
    vbin(sb, geo, VBinOp.MUL, d, s, t)


def _cubic_sigmoid(sb: StreamBuilder, geo: Geometry, t: Opnd, s: Opnd, cubic: float,
                   scale: float) -> None:
    """t = sigmoid(scale * (s + cubic * s^3)); s is only read."""
    vbin(sb, geo, VBinOp.MUL, t, s, s)
    vsc(sb, geo, VScalarOp.MULS, t, t, cubic)
    vsc(sb, geo, VScalarOp.ADDS, t, t, 1.0)
    vbin(sb, geo, VBinOp.MUL, t, t, s)
    _sigmoid_into(sb, geo, t, t, scale)


def _gelu(sb, geo, at, d, s, t):
    t = _need(t, OpCode.GELU)
    # 0.5 x (1 + tanh(z)) = x sigmoid(2z), z = k (x + a x^3)
    _cubic_sigmoid(sb, geo, t, s, A_GELU, 2.0 * K_GELU)
    vbin(sb, geo, VBinOp.MUL, d, s, t)


def _erf(sb, geo, at, d, s, t):
    t = _need(t, OpCode.ERF)
    # erf(x) = 2 Phi(sqrt2 x) - 1; Phi(z) ~ sigmoid(2k(z + a z^3)) with z = sqrt2 x
    _cubic_sigmoid(sb, geo, t, s, 2.0 * A_GELU, 2.0 * K_GELU * math.sqrt(2.0))
    vsc(sb, geo, VScalarOp.MULS, d, t, 2.0)
    vsc(sb, geo, VScalarOp.ADDS, d, d, -1.0)


def _elu_like(alpha_of: Callable[[Any], float], gamma_of: Callable[[Any], float],
              op: OpCode) -> UnaryRule:
    def rule(sb, geo, at, d, s, t):
        t = _need(t, op)
        alpha, gamma = alpha_of(at), gamma_of(at)
        vsc(sb, geo, VScalarOp.MINS, t, s, 0.0)
        vun(sb, geo, VUnOp.EXP, t, t)
        vsc(sb, geo, VScalarOp.ADDS, t, t, -1.0)
        vsc(sb, geo, VScalarOp.MULS, t, t, alpha * gamma)
        vun(sb, geo, VUnOp.RELU, d, s)
        if gamma != 1.0:
            vsc(sb, geo, VScalarOp.MULS, d, d, gamma)
        vbin(sb, geo, VBinOp.ADD, d, d, t)
    return rule


def _softplus(sb, geo, at, d, s, t):
    t = _need(t, OpCode.SOFTPLUS)
    vun(sb, geo, VUnOp.ABS, t, s)
    vsc(sb, geo, VScalarOp.MULS, t, t, -1.0)
    vun(sb, geo, VUnOp.EXP, t, t)
    vsc(sb, geo, VScalarOp.ADDS, t, t, 1.0)
    vun(sb, geo, VUnOp.LN, t, t)
    vun(sb, geo, VUnOp.RELU, d, s)
    vbin(sb, geo, VBinOp.ADD, d, d, t)


UNARY_RULES: dict[OpCode, UnaryRule] = {
    OpCode.RELU: _relu,
    OpCode.LEAKY_RELU: _leaky,
    OpCode.CLIP: _clip,
    OpCode.EXP: _simple(VUnOp.EXP),
    OpCode.LOG: _simple(VUnOp.LN),
    OpCode.SQRT: _simple(VUnOp.SQRT),
    OpCode.ABS: _simple(VUnOp.ABS),
    OpCode.RECIPROCAL: _simple(VUnOp.REC),
    OpCode.NEG: _neg,
    OpCode.IDENTITY: _identity,
    OpCode.SIGMOID: _sigmoid,
    OpCode.TANH: _tanh,
    OpCode.SILU: _silu,
    OpCode.GELU: _gelu,
    OpCode.ERF: _erf,
    OpCode.ELU: _elu_like(lambda at: at.alpha, lambda at: 1.0, OpCode.ELU),
    OpCode.SELU: _elu_like(lambda at: at.alpha, lambda at: at.gamma, OpCode.SELU),
    OpCode.SOFTPLUS: _softplus,
}
"""OpCode -> emitter of dst = op(src) over a geometry."""


def unary(sb: StreamBuilder, geo: Geometry, op: OpCode, attrs: Any, dst: Opnd, src: Opnd,
          tmp: Opnd | None) -> None:
    """dst = op(src); ``tmp`` is a scratch operand shaped like dst (see SCRATCH_TILES)."""
    rule = UNARY_RULES.get(op)
    if rule is None:
        raise CompileError(f"vector: no unary lowering for {op.value}")
    rule(sb, geo, attrs, dst, src, tmp)


_DIRECT = {OpCode.ADD: VBinOp.ADD, OpCode.SUB: VBinOp.SUB, OpCode.MUL: VBinOp.MUL,
           OpCode.DIV: VBinOp.DIV, OpCode.MAXIMUM: VBinOp.MAX, OpCode.MINIMUM: VBinOp.MIN}


def binary(sb: StreamBuilder, geo: Geometry, op: OpCode, dst: Opnd, a: Opnd, b: Opnd,
           tmp: Opnd | None) -> None:
    """dst = a op b (both tensors in UB; either may be a broadcast operand)."""
    if op in _DIRECT:
        vbin(sb, geo, _DIRECT[op], dst, a, b)
    elif op is OpCode.POW:
        t = _need(tmp, op)
        vun(sb, geo, VUnOp.LN, t, a)
        vbin(sb, geo, VBinOp.MUL, t, t, b)
        vun(sb, geo, VUnOp.EXP, dst, t)
    elif op is OpCode.PRELU:
        t = _need(tmp, op)
        vsc(sb, geo, VScalarOp.MINS, t, a, 0.0)
        vbin(sb, geo, VBinOp.MUL, t, t, b)
        vun(sb, geo, VUnOp.RELU, dst, a)
        vbin(sb, geo, VBinOp.ADD, dst, dst, t)
    elif op in (OpCode.GREATER, OpCode.LESS, OpCode.EQUAL):
        first, second = (b, a) if op is OpCode.LESS else (a, b)
        vbin(sb, geo, VBinOp.SUB, dst, first, second)
        indicator(sb, geo, dst, op is OpCode.EQUAL)
    else:
        raise CompileError(f"vector: no binary lowering for {op.value}")


def indicator(sb: StreamBuilder, geo: Geometry, d: Opnd, equal: bool) -> None:
    """d (a difference of fp16 values) -> 1.0 where d > 0 (or d == 0 when ``equal``), else 0.

    Distinct fp16 values differ by at least 2^-24, so scaling by 2^12 twice with a clamp to
    [0, 1] in between (no overflow) gives exactly 0 or 1; fp16 subtraction never rounds a
    non-zero difference to zero (gradual underflow), so the comparison is exact."""
    if equal:
        vun(sb, geo, VUnOp.ABS, d, d)
    vsc(sb, geo, VScalarOp.MULS, d, d, STEP)
    vsc(sb, geo, VScalarOp.MAXS, d, d, 0.0)
    vsc(sb, geo, VScalarOp.MINS, d, d, 1.0)
    vsc(sb, geo, VScalarOp.MULS, d, d, STEP)
    vsc(sb, geo, VScalarOp.MINS, d, d, 1.0)
    if equal:
        vsc(sb, geo, VScalarOp.MULS, d, d, -1.0)
        vsc(sb, geo, VScalarOp.ADDS, d, d, 1.0)


def _int_power(sb: StreamBuilder, geo: Geometry, dst: Opnd, src: Opnd, n: int,
               tmp: Opnd | None) -> None:
    """dst = src ** n for 1 <= n <= 4."""
    if n == 1:
        _copy_if(sb, geo, dst, src)
    elif n == 2:
        vbin(sb, geo, VBinOp.MUL, dst, src, src)
    elif n == 4:
        vbin(sb, geo, VBinOp.MUL, dst, src, src)
        vbin(sb, geo, VBinOp.MUL, dst, dst, dst)
    else:  # 3
        t = _need(tmp, OpCode.POW)
        vbin(sb, geo, VBinOp.MUL, t, src, src)
        vbin(sb, geo, VBinOp.MUL, dst, t, src)


def binary_scalar(sb: StreamBuilder, geo: Geometry, op: OpCode, dst: Opnd, src: Opnd,
                  c: float, swap: bool = False, tmp: Opnd | None = None) -> None:
    """dst = src op c, or c op src when ``swap`` (c an immediate)."""
    c = float(c)
    if op is OpCode.ADD:
        vsc(sb, geo, VScalarOp.ADDS, dst, src, c)
    elif op is OpCode.MUL:
        vsc(sb, geo, VScalarOp.MULS, dst, src, c)
    elif op is OpCode.SUB:
        if swap:
            vsc(sb, geo, VScalarOp.MULS, dst, src, -1.0)
            vsc(sb, geo, VScalarOp.ADDS, dst, dst, c)
        else:
            vsc(sb, geo, VScalarOp.ADDS, dst, src, -c)
    elif op is OpCode.DIV:
        if swap:
            vun(sb, geo, VUnOp.REC, dst, src)
            vsc(sb, geo, VScalarOp.MULS, dst, dst, c)
        else:
            vsc(sb, geo, VScalarOp.MULS, dst, src, 1.0 / c)
    elif op is OpCode.MAXIMUM:
        vsc(sb, geo, VScalarOp.MAXS, dst, src, c)
    elif op is OpCode.MINIMUM:
        vsc(sb, geo, VScalarOp.MINS, dst, src, c)
    elif op is OpCode.PRELU and not swap:
        vsc(sb, geo, VScalarOp.LRELU, dst, src, c)
    elif op is OpCode.POW:
        _pow_scalar(sb, geo, dst, src, c, swap, tmp)
    elif op in (OpCode.GREATER, OpCode.LESS, OpCode.EQUAL):
        # src > c, or c > src when swapped (and the mirror images for less)
        positive = (op is OpCode.GREATER) != swap
        vsc(sb, geo, VScalarOp.ADDS, dst, src, -c)
        if not positive:
            vsc(sb, geo, VScalarOp.MULS, dst, dst, -1.0)
        indicator(sb, geo, dst, op is OpCode.EQUAL)
    else:
        raise CompileError(f"vector: no scalar lowering for {op.value}")


def _pow_scalar(sb: StreamBuilder, geo: Geometry, dst: Opnd, src: Opnd, c: float, swap: bool,
                tmp: Opnd | None) -> None:
    if swap:  # c ** x = exp(x ln c)
        vsc(sb, geo, VScalarOp.MULS, dst, src, math.log(c) if c > 0 else math.nan)
        vun(sb, geo, VUnOp.EXP, dst, dst)
    elif c == 0.0:
        vdup(sb, geo, dst, 1.0)
    elif c == 0.5:
        vun(sb, geo, VUnOp.SQRT, dst, src)
    elif c == -0.5:
        vun(sb, geo, VUnOp.RSQRT, dst, src)
    elif c == int(c) and 1 <= abs(c) <= 4:
        _int_power(sb, geo, dst, src, int(abs(c)), tmp)
        if c < 0:
            vun(sb, geo, VUnOp.REC, dst, dst)
    else:  # x ** c = exp(c ln x), x > 0
        vun(sb, geo, VUnOp.LN, dst, src)
        vsc(sb, geo, VScalarOp.MULS, dst, dst, c)
        vun(sb, geo, VUnOp.EXP, dst, dst)
