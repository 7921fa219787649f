"""LSU coalescing into sectors and lines, shared-memory bank conflicts, the sectored cache."""

from __future__ import annotations

import numpy as np
import pytest

from hw.simt.cache import SectoredCache
from hw.simt.memory import coalesce, shared_wavefronts

LANES = np.arange(32)


@pytest.mark.parametrize("stride, size, lines, sectors", [
    (4, 4, 1, 4),  # fully coalesced 32-bit: 128 B = 4 sectors of one line (facts §4.1)
    (16, 16, 4, 16),  # 128-bit: 512 B
    (128, 4, 32, 32),  # one sector in each of 32 lines
    (0, 4, 1, 1),  # every lane on one word
    (8, 4, 2, 8),  # half the bytes of 256 B used, every sector touched
])
def test_coalescing(stride: int, size: int, lines: int, sectors: int) -> None:
    got_lines, masks, got_sectors = coalesce(0x1000 + LANES * stride, size)
    assert (got_lines.size, got_sectors) == (lines, sectors)
    assert sum(bin(int(m)).count("1") for m in masks) == sectors


@pytest.mark.parametrize("stride_words, ways", [(1, 1), (2, 2), (3, 1), (4, 4), (8, 8),
                                                (16, 16), (32, 32), (33, 1)])
def test_bank_conflicts_are_distinct_words_per_bank(stride_words: int, ways: int) -> None:
    assert shared_wavefronts(LANES, LANES * stride_words * 4, 4) == ways


def test_broadcast_and_wide_access_phases() -> None:
    assert shared_wavefronts(LANES, np.zeros(32, dtype=np.int64), 4) == 1  # broadcast
    assert shared_wavefronts(LANES, LANES * 8, 8) == 2  # 64-bit: two half-warp phases
    assert shared_wavefronts(LANES, LANES * 16, 16) == 4  # 128-bit: four quarter-warp phases
    assert shared_wavefronts(LANES[:8], LANES[:8] * 16, 16) == 1  # one phase only


def test_sectored_cache_hits_evicts_lru_and_writes_back() -> None:
    cache = SectoredCache(2 * 128, ways=2)  # one set of two lines
    lines = np.array([5], dtype=np.int64)
    hits, _, _, _ = cache.access(lines, np.array([0b0011], dtype=np.uint8))
    assert hits[0] == 0
    hits, _, _, _ = cache.access(lines, np.array([0b0110], dtype=np.uint8))
    assert hits[0] == 0b0010  # only the sector already fetched hits
    cache.access(np.array([6], dtype=np.int64), np.array([1], dtype=np.uint8), write=True)
    cache.access(lines, np.array([1], dtype=np.uint8))  # 5 is now most recent
    _, evicted, _, _ = cache.access(np.array([7], dtype=np.int64), np.array([1], dtype=np.uint8))
    assert evicted == 1  # line 6 (least recent, one dirty sector) went back to DRAM
    hits, _, _, _ = cache.access(lines, np.array([1], dtype=np.uint8), allocate=False)
    assert hits[0] == 1


def test_hits_on_an_in_flight_line_wait_for_its_fill() -> None:
    """Two warps load the same cold line a cycle apart: the second hits in L2 (and with ca in
    L1) but must wait for the first one's DRAM fill, as an MSHR merge would."""
    from hw.simt import PRESETS
    from hw.simt.run import SimOptions, run_kernel
    from isa.simt import parse_kernel

    cfg = PRESETS["a100"]
    for cache in ("ca", "cg"):
        kernel = parse_kernel(f"""
.kernel inflight
.block 64
.regs 8
    mov.sreg d=r0 s=tid.x
    mov type=u32 d=r1 a=0x1000
    mov.sreg d=r2 s=clock
    ld.global d=r3 addr=r1 cache={cache}
    add type=u32 d=r4 a=r3 b=0
    mov.sreg d=r4 s=clock
    sub type=u32 d=r5 a=r4 b=r2
    shl type=u32 d=r6 a=r0 b=2
    st.global a=r5 addr=r6
    exit
""")
        gmem = np.zeros(8192, dtype=np.uint8)
        run_kernel(kernel, cfg, SimOptions(mode="functional"), gmem=gmem)
        latencies = gmem.view(np.uint32)[[0, 32]]
        assert all(latencies >= cfg.dram_latency_cycles - 2), (cache, latencies)
