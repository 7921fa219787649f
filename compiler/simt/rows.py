"""Row kernels: softmax, log-softmax, layer norm and sum/mean/max reductions over the last
(flattened) axes, one warp per row. Lanes stride over the row's columns (loads coalesce
into 64 B per warp step), partial results combine with butterfly shuffles (``shfl.bfly``
16, 8, 4, 2, 1: every lane ends with the row total, no shared memory), and a second pass
writes the normalised row, as in the one-warp-per-row kernels of Apex / PyTorch's persistent
softmax."""

from __future__ import annotations

from compiler.errors import CompileError
from compiler.simt.builder import KernelBuilder, thread_indices
from isa.simt import Kernel, Launch

WARPS = 4
KINDS = ("softmax", "log_softmax", "layer_norm", "reduce_sum", "reduce_mean", "reduce_max")
NEG_BIG = -3.0e38


def _warp_reduce(b: KernelBuilder, r: int, t: int, op: str) -> None:
    for shift in (16, 8, 4, 2, 1):
        b.emit(f"shfl.bfly d=r{t} a=r{r} b={shift}")
        b.emit(f"{op} type=f32 d=r{r} a=r{r} b=r{t}")


def _loop(b: KernelBuilder, label: str, cols: int, j: int, lane: int, body: list[str],
          x: int, base: int, addr: int) -> None:
    """for j = lane; j < cols; j += 32: x = row[j] (fp32); body."""
    b.emit(f"mov type=u32 d=r{j} a=r{lane}")
    b.label(label)
    b.emit(f"setp cmp=lt type=u32 p=p2 a=r{j} b={cols}")
    b.emit(f"@!p2 bra target={label}_END")
    b.emit(f"mad type=u32 d=r{addr} a=r{j} b=2 c=r{base}")
    b.emit(f"ld.global d=r{x} addr=r{addr} width=16")
    b.emit(f"cvt dst=f32 src=f16 d=r{x} a=r{x}")
    for line in body:
        b.emit(line)
    b.emit(f"add type=u32 d=r{j} a=r{j} b=32")
    b.emit(f"bra target={label}")
    b.label(f"{label}_END")


def emit_rows(name: str, kind: str, rows: int, cols: int, x_addr: int, out_addr: int,
              gamma_addr: int = 0, beta_addr: int = 0, eps: float = 1e-5) -> Kernel:
    """The kernel for ``kind`` over a rows x cols fp16 matrix (row-major)."""
    if kind not in KINDS:
        raise CompileError(f"{name}: unknown row kernel {kind!r}")
    b = KernelBuilder(name)
    tid, lane, warp = thread_indices(b)
    row, base, obase, j, x, addr, t, acc, acc2 = (b.reg() for _ in range(9))
    b.emit(f"mov.sreg d=r{row} s=ctaid.x")
    b.emit(f"mad type=u32 d=r{row} a=r{row} b={WARPS} c=r{warp}")
    b.emit(f"setp cmp=ge type=u32 p=p1 a=r{row} b={rows}")
    b.emit("@p1 exit")
    b.emit(f"ld.param d=r{base} index=0")
    b.emit(f"mad type=u32 d=r{base} a=r{row} b={cols * 2} c=r{base}")
    b.emit(f"ld.param d=r{obase} index=1")
    b.emit(f"mad type=u32 d=r{obase} a=r{row} b={cols * 2} c=r{obase}")
    y, g = b.reg(), b.reg()
    if kind.startswith("reduce_"):
        op = "max" if kind == "reduce_max" else "add"
        b.emit(f"mov type=f32 d=r{acc} a={NEG_BIG if op == 'max' else 0.0!r}")
        _loop(b, "RED", cols, j, lane, [f"{op} type=f32 d=r{acc} a=r{acc} b=r{x}"], x, base,
              addr)
        _warp_reduce(b, acc, t, op)
        if kind == "reduce_mean":
            b.emit(f"mul type=f32 d=r{acc} a=r{acc} b={1.0 / cols!r}")
        b.emit(f"cvt dst=f16 src=f32 d=r{y} a=r{acc}")
        b.emit(f"setp cmp=eq type=u32 p=p3 a=r{lane} b=0")
        b.emit(f"ld.param d=r{addr} index=1")
        b.emit(f"mad type=u32 d=r{addr} a=r{row} b=2 c=r{addr}")
        b.emit(f"@p3 st.global a=r{y} addr=r{addr} width=16")
        b.emit("exit")
        return b.build(Launch(grid=(-(-rows // WARPS), 1, 1), block=(32 * WARPS, 1, 1),
                              params=(x_addr, out_addr, gamma_addr, beta_addr)))
    if kind == "layer_norm":
        b.emit(f"mov type=f32 d=r{acc} a=0.0")
        b.emit(f"mov type=f32 d=r{acc2} a=0.0")
        _loop(b, "SUM", cols, j, lane, [f"add type=f32 d=r{acc} a=r{acc} b=r{x}",
                                         f"fma type=f32 d=r{acc2} a=r{x} b=r{x} c=r{acc2}"],
              x, base, addr)
        _warp_reduce(b, acc, t, "add")
        _warp_reduce(b, acc2, t, "add")
        b.emit(f"mul type=f32 d=r{acc} a=r{acc} b={1.0 / cols!r}")        # mean
        b.emit(f"mul type=f32 d=r{acc2} a=r{acc2} b={1.0 / cols!r}")      # E[x^2]
        b.emit(f"mul type=f32 d=r{t} a=r{acc} b=r{acc}")
        b.emit(f"sub type=f32 d=r{acc2} a=r{acc2} b=r{t}")
        b.emit(f"max type=f32 d=r{acc2} a=r{acc2} b=0.0")
        b.emit(f"add type=f32 d=r{acc2} a=r{acc2} b={float(eps)!r}")
        b.emit(f"rsqrt d=r{acc2} a=r{acc2}")                             # 1 / std
        gb, bb = b.reg(), b.reg()
        b.emit(f"ld.param d=r{gb} index=2")
        b.emit(f"ld.param d=r{bb} index=3")
        body = [f"sub type=f32 d=r{y} a=r{x} b=r{acc}", f"mul type=f32 d=r{y} a=r{y} b=r{acc2}",
                f"mad type=u32 d=r{addr} a=r{j} b=2 c=r{gb}",
                f"ld.global d=r{g} addr=r{addr} width=16",
                f"cvt dst=f32 src=f16 d=r{g} a=r{g}", f"mul type=f32 d=r{y} a=r{y} b=r{g}",
                f"mad type=u32 d=r{addr} a=r{j} b=2 c=r{bb}",
                f"ld.global d=r{g} addr=r{addr} width=16",
                f"cvt dst=f32 src=f16 d=r{g} a=r{g}", f"add type=f32 d=r{y} a=r{y} b=r{g}"]
    else:
        b.emit(f"mov type=f32 d=r{acc} a={NEG_BIG!r}")
        _loop(b, "MAX", cols, j, lane, [f"max type=f32 d=r{acc} a=r{acc} b=r{x}"], x, base,
              addr)
        _warp_reduce(b, acc, t, "max")
        b.emit(f"mov type=f32 d=r{acc2} a=0.0")
        _loop(b, "SUM", cols, j, lane, [f"sub type=f32 d=r{x} a=r{x} b=r{acc}",
                                         f"exp d=r{x} a=r{x}",
                                         f"add type=f32 d=r{acc2} a=r{acc2} b=r{x}"],
              x, base, addr)
        _warp_reduce(b, acc2, t, "add")
        if kind == "softmax":
            b.emit(f"rcp d=r{acc2} a=r{acc2}")
            body = [f"sub type=f32 d=r{y} a=r{x} b=r{acc}", f"exp d=r{y} a=r{y}",
                    f"mul type=f32 d=r{y} a=r{y} b=r{acc2}"]
        else:
            b.emit(f"log d=r{acc2} a=r{acc2}")
            b.emit(f"add type=f32 d=r{acc} a=r{acc} b=r{acc2}")
            body = [f"sub type=f32 d=r{y} a=r{x} b=r{acc}"]
    body += [f"cvt dst=f16 src=f32 d=r{y} a=r{y}", f"mad type=u32 d=r{addr} a=r{j} b=2 c=r{obase}",
             f"st.global a=r{y} addr=r{addr} width=16"]
    _loop(b, "OUT", cols, j, lane, body, x, base, addr)
    b.emit("exit")
    launch = Launch(grid=(-(-rows // WARPS), 1, 1), block=(32 * WARPS, 1, 1),
                    params=(x_addr, out_addr, gamma_addr, beta_addr))
    del tid
    return b.build(launch)
