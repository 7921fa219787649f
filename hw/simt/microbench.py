"""Calibration microbenchmarks: hand-written SIMT programs that measure a GPU model the way
the sources of facts/gpu.md measured real GPUs (§9.4 "validation ladder").

* `pointer_chase`: one thread follows a chain of 128 B-apart pointers, timing each pass with
  ``clock`` (gpu-benches ``gpu-latency``; §3.2). A cold pass misses everywhere (DRAM), a warm
  pass hits L1 (``ld.global.ca``) or L2 (``ld.global.cg``).
* `stream_copy`: 128-bit grid-stride copy at full occupancy (gpu-benches ``gpu-stream``, §5.1).
* `shared_stride`: warps read shared memory at a word stride; n-way conflicts cost n (§4.2,
  gpu-benches ``gpu-strides``).
* `fma_chain`: one warp runs a chain of dependent FFMAs, timed with ``clock`` (§3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hw.simt.config import GpuConfig
from hw.simt.run import SimOptions, run_kernel
from hw.simt.stats import GpuKernelRun
from isa.simt import Kernel, Launch, parse_kernel

POINTER_CHASE = """
# Params: chain start, steps, result address, mode (0: ld.global.ca, 1: ld.global.cg).
# result[0] = cycles of the cold pass, result[1] = cycles of the warm pass.
.kernel pointer_chase
.block 32
.regs 16
    mov.sreg d=r0 s=laneid
    setp cmp=ne type=u32 p=p0 a=r0 b=0
    @p0 exit                                    # one thread chases
    ld.param d=r2 index=1
    ld.param d=r3 index=2
    ld.param d=r4 index=3
    setp cmp=eq type=u32 p=p3 a=r4 b=1
    mov type=u32 d=r12 a=0                      # pass
PASS:
    ld.param d=r1 index=0
    mov type=u32 d=r8 a=0
    mov.sreg d=r6 s=clock
    @p3 bra target=CG
CA:
    ld.global d=r1 addr=r1 cache=ca
    add type=u32 d=r8 a=r8 b=1
    setp cmp=lt type=u32 p=p1 a=r8 b=r2
    @p1 bra target=CA
    bra target=DONE
CG:
    ld.global d=r1 addr=r1 cache=cg
    add type=u32 d=r8 a=r8 b=1
    setp cmp=lt type=u32 p=p1 a=r8 b=r2
    @p1 bra target=CG
DONE:
    add type=u32 d=r10 a=r1 b=0                 # waits for the last load
    mov.sreg d=r10 s=clock                      # waits for r10 (write after write)
    sub type=u32 d=r11 a=r10 b=r6
    shl type=u32 d=r13 a=r12 b=2
    add type=u32 d=r13 a=r13 b=r3
    st.global a=r11 addr=r13
    add type=u32 d=r12 a=r12 b=1
    setp cmp=lt type=u32 p=p2 a=r12 b=2
    @p2 bra target=PASS
    exit
"""

STREAM_COPY = """
# Params: src, dst, 16 B chunks. Each thread copies chunks i, i + threads, ...
.kernel stream_copy
.block 1024
.regs 16
    mov.sreg d=r0 s=tid.x
    mov.sreg d=r1 s=ctaid.x
    mov.sreg d=r2 s=ntid.x
    mad type=u32 d=r3 a=r1 b=r2 c=r0            # i
    mov.sreg d=r4 s=nctaid.x
    mul type=u32 d=r4 a=r4 b=r2                 # threads in the grid
    shl type=u32 d=r5 a=r4 b=4                  # their stride in bytes
    shl type=u32 d=r6 a=r3 b=4
    ld.param d=r7 index=0
    add type=u32 d=r7 a=r7 b=r6                 # src + 16 i
    ld.param d=r8 index=1
    add type=u32 d=r8 a=r8 b=r6                 # dst + 16 i
    ld.param d=r9 index=2
LOOP:
    setp cmp=ge type=u32 p=p0 a=r3 b=r9
    @p0 exit
    ld.global d=r12 addr=r7 width=128 cache=cg
    st.global a=r12 addr=r8 width=128
    add type=u32 d=r7 a=r7 b=r5
    add type=u32 d=r8 a=r8 b=r5
    add type=u32 d=r3 a=r3 b=r4
    bra target=LOOP
"""

SHARED_STRIDE = """
# Params: stride in 32-bit words, rounds. Lane l reads word (l * stride) mod 1024, 16 times a
# round.
.kernel shared_stride
.block 256
.regs 32
.shared 4096
    mov.sreg d=r0 s=laneid
    ld.param d=r1 index=0
    mul type=u32 d=r2 a=r0 b=r1
    and type=u32 d=r2 a=r2 b=1023
    shl type=u32 d=r2 a=r2 b=2
    ld.param d=r4 index=1
    mov type=u32 d=r3 a=0
LOOP:
""" + "".join(f"    ld.shared d=r{8 + i} addr=r2\n" for i in range(16)) + """
    add type=u32 d=r3 a=r3 b=1
    setp cmp=lt type=u32 p=p0 a=r3 b=r4
    @p0 bra target=LOOP
    exit
"""

FMA_CHAIN = """
# result[0] = cycles of 64 dependent fma.f32 (param 0: result address).
.kernel fma_chain
.block 32
.regs 8
    mov type=f32 d=r1 a=1.0
    mov type=f32 d=r2 a=0.5
    mov.sreg d=r5 s=clock
""" + "    fma type=f32 d=r1 a=r1 b=r2 c=r2\n" * 64 + """
    mov.sreg d=r1 s=clock                       # waits for the chain (write after write)
    sub type=u32 d=r6 a=r1 b=r5
    ld.param d=r7 index=0
    st.global a=r6 addr=r7
    exit
"""

_LINE = 128


@dataclass(frozen=True, slots=True)
class ChaseResult:
    """Cycles per dependent load: cold pass (DRAM) and warm pass (L1 with ca, L2 with cg)."""

    dram_cycles: float
    warm_cycles: float


def pointer_chase(cfg: GpuConfig, *, cache: str = "ca", steps: int = 64,
                  stride_bytes: int = 4 * _LINE) -> ChaseResult:
    """Load-to-use latencies from a pointer chase over ``steps`` lines ``stride_bytes`` apart
    (a random cyclic order, so no two consecutive loads share a line)."""
    base = 4096
    rng = np.random.default_rng(0)
    order = rng.permutation(steps)
    gmem = np.zeros(base + steps * stride_bytes + 4096, dtype=np.uint8)
    words = gmem.view(np.uint32)
    addrs = base + order * stride_bytes
    for current, following in zip(addrs, np.roll(addrs, -1), strict=True):
        words[current // 4] = following
    kernel = parse_kernel(POINTER_CHASE)
    launch = Launch(params=(int(addrs[0]), steps, 0, 1 if cache == "cg" else 0))
    run_kernel(Kernel(kernel.program, launch), cfg, SimOptions(mode="functional"), gmem=gmem)
    cold, warm = words[0], words[1]
    return ChaseResult(float(cold) / steps, float(warm) / steps)


@dataclass(frozen=True, slots=True)
class StreamResult:
    """A copy's DRAM bandwidth (bytes DRAM moved / time) and its copy bandwidth (bytes read +
    written by the kernel / time), both as fractions of the peak."""

    dram_fraction: float
    copy_fraction: float
    run: GpuKernelRun


def stream_copy(cfg: GpuConfig, *, bytes_per_sm: int = 4 << 20, sample_sms: int = 2) -> \
        StreamResult:
    """Copy ``bytes_per_sm`` per SM (far more than an SM's share of L2) at full occupancy, on
    ``sample_sms`` SMs owning their share of L2 and DRAM (wave sampling without shadow CTAs,
    `hw.simt.run`: CTAs of a copy share no data, so a fair share is exact and cheaper)."""
    ctas_per_sm = cfg.max_threads_per_sm // 1024
    chunks = cfg.sms * bytes_per_sm // 16
    kernel = parse_kernel(STREAM_COPY)
    src, dst = 0, chunks * 16
    launch = Launch(grid=(cfg.sms * ctas_per_sm, 1, 1), block=(1024, 1, 1),
                    params=(src, dst, chunks))
    gmem = np.zeros(2 * chunks * 16, dtype=np.uint8)  # untouched in timing mode
    run = run_kernel(Kernel(kernel.program, launch), cfg,
                     SimOptions(sample="waves", sample_sms=sample_sms, shadow_ctas=False),
                     gmem=gmem)
    seconds = run.cycles / cfg.freq_hz
    dram = run.bytes_read["dram"] + run.bytes_written["dram"]
    copied = run.memory_counts["global_load_bytes"] + run.memory_counts["global_store_bytes"]
    return StreamResult(dram / seconds / cfg.dram_bytes_per_s,
                        copied / seconds / cfg.dram_bytes_per_s, run)


def shared_stride(cfg: GpuConfig, stride_words: int) -> float:
    """Cycles per warp-wide shared load at ``stride_words`` (8 warps): the slope between 4
    and 8 rounds of 16 loads, so launch and drain do not dilute it."""
    kernel = parse_kernel(SHARED_STRIDE)

    def cycles(rounds: int) -> int:
        launch = Launch(block=kernel.launch.block, params=(stride_words, rounds))
        return run_kernel(Kernel(kernel.program, launch), cfg).cycles

    return (cycles(8) - cycles(4)) / (8 * 4 * 16)


def fma_chain(cfg: GpuConfig) -> float:
    """Cycles per dependent fma.f32 of one warp."""
    kernel = parse_kernel(FMA_CHAIN)
    gmem = np.zeros(256, dtype=np.uint8)
    run_kernel(Kernel(kernel.program, Launch(params=(0,))), cfg, SimOptions(mode="functional"),
               gmem=gmem)
    return float(gmem.view(np.uint32)[0]) / 64
