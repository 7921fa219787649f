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
    hits, _ = cache.access(lines, np.array([0b0011], dtype=np.uint8))
    assert hits[0] == 0
    hits, _ = cache.access(lines, np.array([0b0110], dtype=np.uint8))
    assert hits[0] == 0b0010  # only the sector already fetched hits
    cache.access(np.array([6], dtype=np.int64), np.array([1], dtype=np.uint8), write=True)
    cache.access(lines, np.array([1], dtype=np.uint8))  # 5 is now most recent
    _, evicted = cache.access(np.array([7], dtype=np.int64), np.array([1], dtype=np.uint8))
    assert evicted == 1  # line 6 (least recent, one dirty sector) went back to DRAM
    hits, _ = cache.access(lines, np.array([1], dtype=np.uint8), allocate=False)
    assert hits[0] == 1
