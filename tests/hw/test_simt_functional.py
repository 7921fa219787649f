"""The SIMT engine executes lanes with NumPy: examples match NumPy, divergence reconverges,
shuffles/SFU/conversions work, timing mode gives the functional mode's cycles, and bad
programs fail with one SimulationError naming the line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsim.checks import evaluate_checks
from hw.errors import SimulationError
from hw.simt import PRESETS
from hw.simt.functional import EXEC_RULES
from hw.simt.run import SimOptions, run_kernel
from isa.simt import INSTRUCTION_CLASSES, fragments, load_kernel, parse_kernel

EXAMPLES = Path(__file__).parents[2] / "examples" / "simt"
A100 = PRESETS["a100"]
FUNCTIONAL = SimOptions(mode="functional")


def test_every_format_has_an_executor() -> None:
    assert set(EXEC_RULES) == set(INSTRUCTION_CLASSES)


@pytest.mark.parametrize("name", ["saxpy.s", "gemm_fp16.s"])
def test_examples_match_numpy_and_timing_mode(name: str) -> None:
    kernel = load_kernel(EXAMPLES / name)
    run = run_kernel(kernel, A100, FUNCTIONAL)
    assert all(c.passed for c in evaluate_checks(kernel.checks, run.outputs, kernel.tolerance))
    timing = run_kernel(kernel, A100)
    assert timing.cycles == run.cycles
    assert timing.instruction_counts == run.instruction_counts
    assert timing.stall_cycles == run.stall_cycles


def _run(body: str, regs: int = 16, block: int = 32, out_words: int = 32,
         cfg=A100) -> tuple[np.ndarray, object]:
    """Run ``body`` with r15 = lane * 4 (the lane's output slot) and return the words stored."""
    kernel = parse_kernel(
        f".kernel t\n.block {block}\n.regs {regs}\n.param 0\n"
        "    mov.sreg d=r0 s=tid.x\n    shl type=u32 d=r15 a=r0 b=2\n" + body + "\n    exit\n")
    gmem = np.zeros(4 * out_words + 64, dtype=np.uint8)
    run = run_kernel(kernel, cfg, FUNCTIONAL, gmem=gmem)
    return gmem.view(np.uint32)[:out_words].copy(), run


def test_if_else_and_loops_reconverge() -> None:
    words, _ = _run("""
    and type=u32 d=r1 a=r0 b=1
    setp cmp=eq type=u32 p=p0 a=r1 b=0
    @!p0 bra target=ODD
    mov type=u32 d=r2 a=100                     # even lanes
    bra target=JOIN
ODD:
    mov type=u32 d=r2 a=200                     # odd lanes
JOIN:
    mov type=u32 d=r3 a=0                       # lane l loops l times
LOOP:
    setp cmp=lt type=u32 p=p1 a=r3 b=r0
    @!p1 bra target=DONE
    add type=u32 d=r2 a=r2 b=1
    add type=u32 d=r3 a=r3 b=1
    bra target=LOOP
DONE:
    add type=u32 d=r2 a=r2 b=1000               # runs once per lane: reconverged
    st.global a=r2 addr=r15""")
    lanes = np.arange(32)
    assert np.array_equal(words, np.where(lanes % 2 == 0, 100, 200) + lanes + 1000)


def test_butterfly_shuffle_sums_the_warp() -> None:
    body = "    cvt dst=f32 src=u32 d=r1 a=r0\n"
    for delta in (16, 8, 4, 2, 1):
        body += f"    shfl.bfly d=r2 a=r1 b={delta}\n    add type=f32 d=r1 a=r1 b=r2\n"
    words, _ = _run(body + "    st.global a=r1 addr=r15")
    assert np.all(words.view(np.float32) == sum(range(32)))


def test_sfu_conversions_select_and_partial_warps() -> None:
    words, _ = _run("""
    cvt dst=f32 src=u32 d=r1 a=r0
    mul type=f32 d=r1 a=r1 b=0.25
    ex2 d=r2 a=r1
    cvt dst=f16 src=f32 d=r3 a=r2
    cvt dst=f32 src=f16 d=r3 a=r3
    setp cmp=gt type=f32 p=p2 a=r1 b=4.0
    selp d=r4 a=r3 b=r1 p=p2
    st.global a=r4 addr=r15""", block=24)
    lanes = np.arange(32, dtype=np.float32) * 0.25
    expected = np.where(lanes > 4, np.exp2(lanes).astype(np.float16), lanes)
    assert np.allclose(words[:24].view(np.float32), expected[:24], rtol=1e-3)
    assert not words[24:].any()  # lanes past the block do not exist


def test_misaligned_and_out_of_range_accesses_name_the_line() -> None:
    with pytest.raises(SimulationError, match=r"^t:8: ld.global: address 0x2 is not aligned"):
        _run("    mov type=u32 d=r1 a=2\n    ld.global d=r2 addr=r1")
    with pytest.raises(SimulationError, match=r"^t:8: st.global: address 0x10000 \+ 4 B"):
        _run("    mov type=u32 d=r1 a=0x10000\n    st.global a=r1 addr=r1")


def test_a_cta_that_does_not_fit_names_the_resource() -> None:
    kernel = parse_kernel(".kernel big\n.block 1024\n.regs 128\n    exit\n")
    with pytest.raises(SimulationError, match="needs 131072 registers of 65536"):
        run_kernel(kernel, A100)


def test_runaway_program_stops_at_max_cycles() -> None:
    kernel = parse_kernel(".kernel spin\nTOP:\n    bra target=TOP\n")
    with pytest.raises(SimulationError, match="spin: did not finish within 5000 cycles"):
        run_kernel(kernel, A100, SimOptions(max_cycles=5000))


def test_barrier_waits_for_every_warp() -> None:
    # warp 1 stores late; after bar.sync warp 0 reads warp 1's shared word
    kernel = parse_kernel("""
.kernel bar
.block 64
.regs 8
.shared 256
    mov.sreg d=r0 s=tid.x
    mov.sreg d=r1 s=warpid
    setp cmp=eq type=u32 p=p0 a=r1 b=1
    @!p0 bra target=SYNC
    mov type=f32 d=r2 a=1.0
""" + "    ex2 d=r2 a=r2\n" * 3 + """
    mov type=u32 d=r3 a=0
    st.shared a=r2 addr=r3
SYNC:
    bar.sync
    mov type=u32 d=r3 a=0
    ld.shared d=r4 addr=r3
    shl type=u32 d=r5 a=r0 b=2
    st.global a=r4 addr=r5
    exit
""")
    gmem = np.zeros(512, dtype=np.uint8)
    run_kernel(kernel, A100, FUNCTIONAL, gmem=gmem)
    expected = np.float32(1.0)
    for _ in range(3):
        expected = np.exp2(expected)
    assert np.all(gmem.view(np.float32)[:64] == expected)


@pytest.mark.parametrize("scheduler", ["gto", "lrr"])
def test_statistics_add_up(scheduler: str) -> None:
    kernel = load_kernel(EXAMPLES / "gemm_fp16.s")
    cfg = A100.replace(scheduler=scheduler)
    run = run_kernel(kernel, cfg, SimOptions(trace=True))
    assert run.issue_cycles + sum(run.stall_cycles.values()) == run.subcore_cycles
    assert run.issue_cycles == sum(run.instruction_counts.values())
    assert all(0 <= u <= 1 for u in run.utilizations().values())
    assert run.pipes["tensor"].instructions == run.instruction_counts["mma.m16n8k16"]
    assert run.flops == 2 * 128 * 128 * 64
    assert 0 < run.achieved_occupancy <= run.theoretical_occupancy <= 1
    assert run.occupancy_limiter == "registers"
    assert len(run.events) == run.issue_cycles and {e.unit for e in run.events} == {
        "sub0", "sub1", "sub2", "sub3"}
    assert run.bytes_read["dram"] == 2 * 128 * 64 * 2  # A and Bt once each, cold


def test_runs_add_up_sequentially() -> None:
    kernel = load_kernel(EXAMPLES / "saxpy.s")
    one = run_kernel(kernel, A100)
    two = one + one
    assert two.cycles == 2 * one.cycles and two.flops == 2 * one.flops
    assert two.stall_cycles["idle"] == 2 * one.stall_cycles["idle"]
    assert two.achieved_occupancy == pytest.approx(one.achieved_occupancy)
    assert two.seconds == pytest.approx(2 * one.seconds)


def test_ldmatrix_fills_mma_fragments() -> None:
    """ldmatrix.x4 of a row-major 16 x 16 A tile gives A's fragment; ldmatrix.x2.trans of a
    row-major 16 x 8 B tile gives B's fragment (PTX)."""
    kernel = parse_kernel("""
.kernel ldm
.regs 16
.shared 768
    mov.sreg d=r0 s=laneid
    shl type=u32 d=r1 a=r0 b=4                  # 16 B chunk per lane
    cp.async dst=r1 src=r1                      # A: 512 B at 0
    setp cmp=lt type=u32 p=p0 a=r0 b=16
    @p0 cp.async dst=r1 src=r1 dst_offset=512 src_offset=512   # B: 256 B at 512
    cp.async.commit_group
    cp.async.wait_group n=0
    bar.sync
    and type=u32 d=r2 a=r0 b=7                  # row within matrix
    shr type=u32 d=r3 a=r0 b=3                  # matrix j
    and type=u32 d=r4 a=r3 b=1
    shl type=u32 d=r4 a=r4 b=3
    add type=u32 d=r4 a=r4 b=r2                 # A row = r + 8 (j % 2)
    shl type=u32 d=r4 a=r4 b=5
    shr type=u32 d=r5 a=r3 b=1
    shl type=u32 d=r5 a=r5 b=4                  # A column bytes = 16 (j // 2)
    add type=u32 d=r4 a=r4 b=r5
    ldmatrix d=r8 addr=r4
    and type=u32 d=r6 a=r0 b=15
    shl type=u32 d=r6 a=r6 b=4                  # B row k = lane, 16 B rows
    ldmatrix d=r12 addr=r6 num=2 trans=true offset=512
    shl type=u32 d=r7 a=r0 b=2
    add type=u32 d=r7 a=r7 b=1024
""" + "".join(f"    st.global a=r{8 + i} addr=r7 offset={128 * i}\n" for i in range(4)) +
        "".join(f"    st.global a=r{12 + i} addr=r7 offset={512 + 128 * i}\n" for i in range(2))
        + "    exit\n")
    rng = np.random.default_rng(3)
    a = rng.standard_normal((16, 16)).astype(np.float16)
    b = rng.standard_normal((16, 8)).astype(np.float16)
    gmem = np.zeros(2048, dtype=np.uint8)
    gmem[:512] = a.view(np.uint8).ravel()
    gmem[512:768] = b.view(np.uint8).ravel()
    run_kernel(kernel, A100, FUNCTIONAL, gmem=gmem)
    words = gmem[1024:].view(np.uint32)
    assert np.array_equal(words[:128].reshape(4, 32), fragments.pack_a(a))
    assert np.array_equal(words[128:192].reshape(2, 32), fragments.pack_b(b))
