"""Row gather (embedding lookup): ``out[i, :] = table[ids[i], :]`` for int32 ids, one thread
per output element (consecutive threads read consecutive columns of one table row, so each
warp's loads coalesce)."""

from __future__ import annotations

from compiler.simt.builder import KernelBuilder
from isa.simt import Kernel, Launch

BLOCK = 256


def emit_gather(name: str, count: int, width: int, rows: int, table: int, ids: int,
                out: int) -> Kernel:
    """``count`` ids into a ``rows`` x ``width`` fp16 table; ids are clamped into range."""
    b = KernelBuilder(name)
    idx, t, i, col, addr, v = (b.reg() for _ in range(6))
    b.emit(f"mov.sreg d=r{idx} s=ctaid.x")
    b.emit(f"mov.sreg d=r{t} s=tid.x")
    b.emit(f"mad type=u32 d=r{idx} a=r{idx} b={BLOCK} c=r{t}")
    b.emit(f"setp cmp=ge type=u32 p=p1 a=r{idx} b={count * width}")
    b.emit("@p1 exit")
    b.emit(f"div type=u32 d=r{i} a=r{idx} b={width}")
    b.emit(f"rem type=u32 d=r{col} a=r{idx} b={width}")
    b.emit(f"ld.param d=r{addr} index=1")
    b.emit(f"mad type=u32 d=r{addr} a=r{i} b=4 c=r{addr}")
    b.emit(f"ld.global d=r{v} addr=r{addr}")
    b.emit(f"min type=u32 d=r{v} a=r{v} b={rows - 1}")
    b.emit(f"ld.param d=r{addr} index=0")
    b.emit(f"mad type=u32 d=r{v} a=r{v} b={width} c=r{col}")
    b.emit(f"mad type=u32 d=r{addr} a=r{v} b=2 c=r{addr}")
    b.emit(f"ld.global d=r{v} addr=r{addr} width=16")
    b.emit(f"ld.param d=r{addr} index=2")
    b.emit(f"mad type=u32 d=r{addr} a=r{idx} b=2 c=r{addr}")
    b.emit(f"st.global a=r{v} addr=r{addr} width=16")
    b.emit("exit")
    launch = Launch(grid=(-(-count * width // BLOCK), 1, 1), block=(BLOCK, 1, 1),
                    params=(table, ids, out))
    return b.build(launch)
