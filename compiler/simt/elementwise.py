"""The strided element-wise kernel generator: one thread per output element.

Every operand is read through per-output-dimension strides (elements; 0 broadcasts), so the
same kernel computes element-wise chains with NumPy broadcasting, transposes, slices and
layout changes (NHWC <-> row-major): a thread decomposes its flat output index into
coordinates (div/rem by each dim), forms each operand's offset, loads fp16 (16-bit) or int32
values, evaluates the chain in fp32 and stores one fp16 result. When every operand is
contiguous like the output and the element count is a multiple of 8, the kernel instead
handles 8 elements per thread with 128-bit loads and stores (``vector``), as CUDA's
vectorised element-wise kernels do.

A chain is a tuple of `Step`s in SSA form: step i reads operands ("in", j), earlier results
("tmp", j) or immediates ("imm", value); the last step's result is stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from compiler.errors import CompileError
from compiler.simt.builder import KernelBuilder
from isa.simt import Kernel, Launch

BLOCK = 256
Ref = tuple[str, object]


@dataclass(frozen=True, slots=True)
class Operand:
    """A tensor read by the kernel: byte address, strides per output dim (elements), dtype
    ("float16" or "int32")."""

    addr: int
    strides: tuple[int, ...]
    dtype: str = "float16"


@dataclass(frozen=True, slots=True)
class Step:
    """One fp32 operation of the chain: ``op`` names an entry of UNARY or BINARY."""

    op: str
    args: tuple[Ref, ...]
    param: float = 0.0


def _sigmoid(b: KernelBuilder, d: int, a: int, t: int) -> None:
    b.emit(f"mul type=f32 d=r{t} a=r{a} b=-1.0")
    b.emit(f"exp d=r{t} a=r{t}")
    b.emit(f"add type=f32 d=r{t} a=r{t} b=1.0")
    b.emit(f"rcp d=r{d} a=r{t}")


def _gelu(b: KernelBuilder, d: int, a: int, t: int) -> None:
    # tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): within fp16 of the erf form
    b.emit(f"mul type=f32 d=r{t} a=r{a} b=r{a}")
    b.emit(f"fma type=f32 d=r{t} a=r{t} b=0.044715 c=1.0")
    b.emit(f"mul type=f32 d=r{t} a=r{t} b=r{a}")
    b.emit(f"mul type=f32 d=r{t} a=r{t} b=0.7978845608")
    b.emit(f"tanh d=r{t} a=r{t}")
    b.emit(f"fma type=f32 d=r{t} a=r{t} b=0.5 c=0.5")
    b.emit(f"mul type=f32 d=r{d} a=r{a} b=r{t}")


def _silu(b: KernelBuilder, d: int, a: int, t: int) -> None:
    _sigmoid(b, t, a, t)
    b.emit(f"mul type=f32 d=r{d} a=r{a} b=r{t}")


UNARY: dict[str, Callable[..., None]] = {
    "identity": lambda b, d, a, t, p: b.emit(f"mov type=f32 d=r{d} a=r{a}"),
    "relu": lambda b, d, a, t, p: b.emit(f"max type=f32 d=r{d} a=r{a} b=0.0"),
    "neg": lambda b, d, a, t, p: b.emit(f"neg type=f32 d=r{d} a=r{a}"),
    "abs": lambda b, d, a, t, p: b.emit(f"abs type=f32 d=r{d} a=r{a}"),
    "exp": lambda b, d, a, t, p: b.emit(f"exp d=r{d} a=r{a}"),
    "log": lambda b, d, a, t, p: b.emit(f"log d=r{d} a=r{a}"),
    "sqrt": lambda b, d, a, t, p: b.emit(f"sqrt d=r{d} a=r{a}"),
    "rsqrt": lambda b, d, a, t, p: b.emit(f"rsqrt d=r{d} a=r{a}"),
    "reciprocal": lambda b, d, a, t, p: b.emit(f"rcp d=r{d} a=r{a}"),
    "tanh": lambda b, d, a, t, p: b.emit(f"tanh d=r{d} a=r{a}"),
    "sigmoid": lambda b, d, a, t, p: _sigmoid(b, d, a, t),
    "gelu": lambda b, d, a, t, p: _gelu(b, d, a, t),
    "silu": lambda b, d, a, t, p: _silu(b, d, a, t),
    "leaky_relu": lambda b, d, a, t, p: (b.emit(f"mul type=f32 d=r{t} a=r{a} b={p!r}"),
                                         b.emit(f"max type=f32 d=r{d} a=r{a} b=r{t}")),
}
"""Unary fp32 emitters: (builder, dst, src, scratch, param)."""

BINARY = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "maximum": "max",
          "minimum": "min"}
"""Binary chain ops -> ALU mnemonic (f32)."""

TERNARY = ("where",)
"""``where(c, x, y)``: x where c != 0, else y (selp on a predicate)."""


def _operand_text(ref: Ref, regs: dict[Ref, int]) -> str:
    if ref[0] == "imm":  # infinities become the largest finite f32 (masks: -inf -> -3e38)
        value = float(ref[1])
        return repr(max(-3.0e38, min(3.0e38, value)))
    return f"r{regs[ref]}"


def emit_elementwise(name: str, shape: tuple[int, ...], out_addr: int,
                     out_strides: tuple[int, ...], operands: tuple[Operand, ...],
                     steps: tuple[Step, ...], out_dtype: str = "float16") -> Kernel:
    """The kernel computing ``steps`` over ``operands`` for every element of ``shape``."""
    total = math.prod(shape)
    if total == 0:
        raise CompileError(f"{name}: empty output")
    contiguous = _contiguous(shape)
    vector = (total % 8 == 0 and out_strides == contiguous and out_dtype == "float16"
              and all(o.strides == contiguous and o.dtype == "float16" for o in operands))
    width = 8 if vector else 1
    b = KernelBuilder(name)
    idx, tmp = b.reg(), b.reg()
    b.emit(f"mov.sreg d=r{idx} s=ctaid.x")
    b.emit(f"mov.sreg d=r{tmp} s=tid.x")
    b.emit(f"mad type=u32 d=r{idx} a=r{idx} b={BLOCK} c=r{tmp}")
    b.emit(f"setp cmp=ge type=u32 p=p1 a=r{idx} b={total // width}")
    b.emit("@p1 exit")
    offsets = [b.reg() for _ in operands]
    out_off = b.reg()
    if vector:
        for r in (*offsets, out_off):
            b.emit(f"shl type=u32 d=r{r} a=r{idx} b=4")  # 8 fp16 = 16 bytes per thread
    else:
        _decompose(b, shape, idx, tmp, [(r, o.strides) for r, o in zip(offsets, operands,
                                                                        strict=True)]
                   + [(out_off, out_strides)])
        for r, o in zip(offsets, operands, strict=True):
            size = 4 if o.dtype == "int32" else 2
            b.emit(f"shl type=u32 d=r{r} a=r{r} b={size.bit_length() - 1}")
        b.emit(f"shl type=u32 d=r{out_off} a=r{out_off} b=1")
    for i, r in enumerate(offsets):
        b.emit(f"ld.param d=r{tmp} index={i}")
        b.emit(f"add type=u32 d=r{r} a=r{r} b=r{tmp}")
    b.emit(f"ld.param d=r{tmp} index={len(operands)}")
    b.emit(f"add type=u32 d=r{out_off} a=r{out_off} b=r{tmp}")
    raw = [b.reg(4) for _ in operands] if vector else [b.reg() for _ in operands]
    for r, o, dst in zip(offsets, operands, raw, strict=True):
        w = 128 if vector else (32 if o.dtype == "int32" else 16)
        b.emit(f"ld.global d=r{dst} addr=r{r} width={w}")
    packed = b.reg(4) if vector else b.reg()
    lanes = b.reg(len(operands)) if operands else 0
    scratch = b.reg()
    results = b.reg(len(steps))
    half = b.reg()
    for e in range(width):
        regs: dict[Ref, int] = {}
        for j, o in enumerate(operands):
            src = raw[j] + e // 2 if vector else raw[j]
            if o.dtype == "int32":
                b.emit(f"cvt dst=f32 src=s32 d=r{lanes + j} a=r{src}")
                regs[("in", j)] = lanes + j
                continue
            if vector and e % 2:
                b.emit(f"shr type=u32 d=r{half} a=r{src} b=16")
                src = half
            b.emit(f"cvt dst=f32 src=f16 d=r{lanes + j} a=r{src}")
            regs[("in", j)] = lanes + j
        for s, step in enumerate(steps):
            d = results + s
            if step.op in UNARY:
                UNARY[step.op](b, d, regs[step.args[0]], scratch, step.param)
            elif step.op in BINARY:
                x, y = (_operand_text(a, regs) for a in step.args)
                if x[0] != "r":  # immediates only as the right operand
                    b.emit(f"mov type=f32 d=r{scratch} a={x}")
                    x = f"r{scratch}"
                b.emit(f"{BINARY[step.op]} type=f32 d=r{d} a={x} b={y}")
            elif step.op == "where":
                c, x, y = (_operand_text(a, regs) for a in step.args)
                if c[0] != "r":
                    b.emit(f"mov type=f32 d=r{scratch} a={c}")
                    c = f"r{scratch}"
                b.emit(f"setp cmp=ne type=f32 p=p5 a={c} b=0.0")
                if x[0] != "r":  # selp copies bits: immediates go through a register
                    b.emit(f"mov type=f32 d=r{scratch} a={x}")
                    x = f"r{scratch}"
                if y[0] != "r":
                    b.emit(f"mov type=f32 d=r{d} a={y}")
                    y = f"r{d}"
                b.emit(f"selp d=r{d} a={x} b={y} p=p5")
            else:
                raise CompileError(f"{name}: element-wise op {step.op!r} has no SIMT lowering")
            regs[("tmp", s)] = d
        final = regs[("tmp", len(steps) - 1)] if steps else regs[("in", 0)]
        if out_dtype == "float32":
            b.emit(f"st.global a=r{final} addr=r{out_off}")
            continue
        target = packed + e // 2 if vector else packed
        if vector and e % 2:
            b.emit(f"cvt dst=f16 src=f32 d=r{half} a=r{final}")
            b.emit(f"shl type=u32 d=r{half} a=r{half} b=16")
            b.emit(f"or type=u32 d=r{target} a=r{target} b=r{half}")
        else:
            b.emit(f"cvt dst=f16 src=f32 d=r{target} a=r{final}")
    if out_dtype != "float32":
        b.emit(f"st.global a=r{packed} addr=r{out_off} width={128 if vector else 16}")
    b.emit("exit")
    grid = -(-(total // width) // BLOCK)
    launch = Launch(grid=(grid, 1, 1), block=(BLOCK, 1, 1),
                    params=tuple(o.addr for o in operands) + (out_addr,))
    return b.build(launch)


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return tuple(reversed(strides))


def _decompose(b: KernelBuilder, shape: tuple[int, ...], idx: int, tmp: int,
               targets: list[tuple[int, tuple[int, ...]]]) -> None:
    """offset_t = sum_i coord_i * strides_t[i] for each (register, strides) target."""
    rest, coord = b.reg(), b.reg()
    b.emit(f"mov type=u32 d=r{rest} a=r{idx}")
    for r, _ in targets:
        b.emit(f"mov type=u32 d=r{r} a=0")
    for axis in range(len(shape) - 1, -1, -1):
        dim = shape[axis]
        if dim == 1:
            continue
        if axis:
            b.emit(f"rem type=u32 d=r{coord} a=r{rest} b={dim}")
            b.emit(f"div type=u32 d=r{rest} a=r{rest} b={dim}")
        else:
            b.emit(f"mov type=u32 d=r{coord} a=r{rest}")
        for r, strides in targets:
            if strides[axis]:
                b.emit(f"mad type=u32 d=r{r} a=r{coord} b={strides[axis]} c=r{r}")
    del tmp
