"""Sliding-window kernels on NHWC feature maps, one thread per output element:
``im2col`` (the column matrix a convolution-as-GEMM multiplies: row = output pixel, column =
(r, s, c), zero outside the image) and max / average pooling. Out-of-image taps are found with
one unsigned compare per coordinate (a negative coordinate wraps to a huge u32)."""

from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import CompileError
from compiler.simt.builder import KernelBuilder
from compiler.simt.gemm import activation_code
from isa.simt import Kernel, Launch

BLOCK = 256


@dataclass(frozen=True, slots=True)
class Window:
    """Input (N, H, W, C) NHWC, output spatial (OH, OW), window R x S, stride, top/left
    padding and dilation."""

    n: int
    h: int
    w: int
    c: int
    oh: int
    ow: int
    r: int
    s: int
    stride: tuple[int, int]
    pad: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)


def _start(b: KernelBuilder, total: int) -> int:
    idx, t = b.reg(), b.reg()
    b.emit(f"mov.sreg d=r{idx} s=ctaid.x")
    b.emit(f"mov.sreg d=r{t} s=tid.x")
    b.emit(f"mad type=u32 d=r{idx} a=r{idx} b={BLOCK} c=r{t}")
    b.emit(f"setp cmp=ge type=u32 p=p1 a=r{idx} b={total}")
    b.emit("@p1 exit")
    return idx


def _split(b: KernelBuilder, value: int, dims: tuple[int, ...]) -> list[int]:
    """Registers of the coordinates of flat ``value`` over ``dims`` (row-major)."""
    regs = [b.reg() for _ in dims]
    rest = b.reg()
    b.emit(f"mov type=u32 d=r{rest} a=r{value}")
    for axis in range(len(dims) - 1, 0, -1):
        b.emit(f"rem type=u32 d=r{regs[axis]} a=r{rest} b={dims[axis]}")
        b.emit(f"div type=u32 d=r{rest} a=r{rest} b={dims[axis]}")
    b.emit(f"mov type=u32 d=r{regs[0]} a=r{rest}")
    return regs


def _tap(b: KernelBuilder, win: Window, n: int, oh: int, ow: int, r: int | str,
         s: int | str, c: int, addr: int, base: int, tmp: int) -> None:
    """p3 = tap inside the image; addr = its byte address (NHWC). ``r`` and ``s`` are
    immediates (unrolled windows) or register operands ("r7")."""
    ih, iw = b.reg(), b.reg()
    b.emit(f"mul type=u32 d=r{ih} a=r{oh} b={win.stride[0]}")
    b.emit(f"add type=u32 d=r{ih} a=r{ih} b={r}")
    b.emit(f"sub type=u32 d=r{ih} a=r{ih} b={win.pad[0]}")
    b.emit(f"mul type=u32 d=r{iw} a=r{ow} b={win.stride[1]}")
    b.emit(f"add type=u32 d=r{iw} a=r{iw} b={s}")
    b.emit(f"sub type=u32 d=r{iw} a=r{iw} b={win.pad[1]}")
    b.emit(f"setp cmp=lt type=u32 p=p3 a=r{ih} b={win.h}")
    b.emit(f"setp cmp=lt type=u32 p=p4 a=r{iw} b={win.w}")
    b.emit("and.pred d=p3 a=p3 b=p4")
    b.emit(f"mad type=u32 d=r{tmp} a=r{n} b={win.h} c=r{ih}")
    b.emit(f"mad type=u32 d=r{tmp} a=r{tmp} b={win.w} c=r{iw}")
    b.emit(f"mad type=u32 d=r{tmp} a=r{tmp} b={win.c} c=r{c}")
    b.emit(f"mad type=u32 d=r{addr} a=r{tmp} b=2 c=r{base}")


def emit_im2col(name: str, win: Window, k_padded: int, x: int, out: int) -> Kernel:
    """cols[(n, oh, ow), (r, s, c)] (row stride ``k_padded``) from NHWC ``x``."""
    if win.dilation != (1, 1):
        raise CompileError(f"{name}: dilated convolution has no SIMT lowering")
    k = win.r * win.s * win.c
    rows = win.n * win.oh * win.ow
    b = KernelBuilder(name)
    idx = _start(b, rows * k)
    row, col = b.reg(), b.reg()
    b.emit(f"div type=u32 d=r{row} a=r{idx} b={k}")
    b.emit(f"rem type=u32 d=r{col} a=r{idx} b={k}")
    n, oh, ow = _split(b, row, (win.n, win.oh, win.ow))
    r, s, c = _split(b, col, (win.r, win.s, win.c))
    base, addr, tmp, v = b.reg(), b.reg(), b.reg(), b.reg()
    b.emit(f"ld.param d=r{base} index=0")
    _tap(b, win, n, oh, ow, f"r{r}", f"r{s}", c, addr, base, tmp)
    b.emit(f"mov type=u32 d=r{v} a=0")
    b.emit(f"@p3 ld.global d=r{v} addr=r{addr} width=16")
    b.emit(f"ld.param d=r{addr} index=1")
    b.emit(f"mad type=u32 d=r{tmp} a=r{row} b={k_padded} c=r{col}")
    b.emit(f"mad type=u32 d=r{addr} a=r{tmp} b=2 c=r{addr}")
    b.emit(f"st.global a=r{v} addr=r{addr} width=16")
    b.emit("exit")
    return b.build(Launch(grid=(-(-rows * k // BLOCK), 1, 1), block=(BLOCK, 1, 1),
                          params=(x, out)))


def emit_pool(name: str, win: Window, kind: str, x: int, out: int,
              count_include_pad: bool = False) -> Kernel:
    """Max or average pooling (``kind`` "max" / "avg") NHWC -> NHWC, window unrolled."""
    total = win.n * win.oh * win.ow * win.c
    b = KernelBuilder(name)
    idx = _start(b, total)
    n, oh, ow, c = _split(b, idx, (win.n, win.oh, win.ow, win.c))
    base, addr, tmp, v, acc, cnt = (b.reg() for _ in range(6))
    b.emit(f"ld.param d=r{base} index=0")
    b.emit(f"mov type=f32 d=r{acc} a={-3.0e38 if kind == 'max' else 0.0!r}")
    b.emit(f"mov type=f32 d=r{cnt} a=0.0")
    for r in range(win.r):
        for s in range(win.s):
            _tap(b, win, n, oh, ow, r * win.dilation[0], s * win.dilation[1], c, addr, base,
                 tmp)
            b.emit(f"@p3 ld.global d=r{v} addr=r{addr} width=16")
            b.emit(f"@p3 cvt dst=f32 src=f16 d=r{v} a=r{v}")
            if kind == "max":
                b.emit(f"@p3 max type=f32 d=r{acc} a=r{acc} b=r{v}")
            else:
                b.emit(f"@p3 add type=f32 d=r{acc} a=r{acc} b=r{v}")
                b.emit(f"@p3 add type=f32 d=r{cnt} a=r{cnt} b=1.0")
    if kind == "avg":
        if count_include_pad:
            b.emit(f"mul type=f32 d=r{acc} a=r{acc} b={1.0 / (win.r * win.s)!r}")
        else:
            b.emit(f"max type=f32 d=r{cnt} a=r{cnt} b=1.0")
            b.emit(f"div type=f32 d=r{acc} a=r{acc} b=r{cnt}")
    b.emit(f"cvt dst=f16 src=f32 d=r{v} a=r{acc}")
    b.emit(f"ld.param d=r{addr} index=1")
    b.emit(f"mad type=u32 d=r{addr} a=r{idx} b=2 c=r{addr}")
    b.emit(f"st.global a=r{v} addr=r{addr} width=16")
    b.emit("exit")
    return b.build(Launch(grid=(-(-total // BLOCK), 1, 1), block=(BLOCK, 1, 1),
                          params=(x, out)))


def emit_depthwise(name: str, win: Window, activation: str, x: int, weight: int, bias: int,
                   out: int) -> Kernel:
    """Depthwise convolution (one filter per channel) NHWC -> NHWC with a per-channel bias
    (``bias`` 0: none) and an activation; weights as C x R*S fp16, window unrolled."""
    total = win.n * win.oh * win.ow * win.c
    b = KernelBuilder(name)
    idx = _start(b, total)
    n, oh, ow, c = _split(b, idx, (win.n, win.oh, win.ow, win.c))
    base, addr, tmp, v, acc, wv, wbase = (b.reg() for _ in range(7))
    b.emit(f"ld.param d=r{base} index=0")
    b.emit(f"ld.param d=r{wbase} index=1")
    b.emit(f"mad type=u32 d=r{wbase} a=r{c} b={win.r * win.s * 2} c=r{wbase}")
    b.emit(f"mov type=f32 d=r{acc} a=0.0")
    for r in range(win.r):
        for s in range(win.s):
            _tap(b, win, n, oh, ow, r * win.dilation[0], s * win.dilation[1], c, addr, base,
                 tmp)
            b.emit(f"ld.global d=r{wv} addr=r{wbase} width=16 offset={(r * win.s + s) * 2}")
            b.emit(f"cvt dst=f32 src=f16 d=r{wv} a=r{wv}")
            b.emit(f"@p3 ld.global d=r{v} addr=r{addr} width=16")
            b.emit(f"@p3 cvt dst=f32 src=f16 d=r{v} a=r{v}")
            b.emit(f"@p3 fma type=f32 d=r{acc} a=r{v} b=r{wv} c=r{acc}")
    if bias:
        b.emit(f"ld.param d=r{addr} index=2")
        b.emit(f"mad type=u32 d=r{addr} a=r{c} b=2 c=r{addr}")
        b.emit(f"ld.global d=r{v} addr=r{addr} width=16")
        b.emit(f"cvt dst=f32 src=f16 d=r{v} a=r{v}")
        b.emit(f"add type=f32 d=r{acc} a=r{acc} b=r{v}")
    activation_code(b, activation, acc, tmp)
    b.emit(f"cvt dst=f16 src=f32 d=r{v} a=r{acc}")
    b.emit(f"ld.param d=r{addr} index=3")
    b.emit(f"mad type=u32 d=r{addr} a=r{idx} b=2 c=r{addr}")
    b.emit(f"st.global a=r{v} addr=r{addr} width=16")
    b.emit("exit")
    return b.build(Launch(grid=(-(-total // BLOCK), 1, 1), block=(BLOCK, 1, 1),
                          params=(x, weight, bias, out)))
