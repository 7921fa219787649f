"""A sectored, set-associative LRU cache (128 B lines of four 32 B sectors), in numba.

Used for every SM's L1 and the shared L2. One call handles all lines of one warp request:
the hot path of memory-bound kernels, hence compiled. Tags are line addresses (byte address
// 128); the set is the line address modulo the number of sets.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from hw.simt.config import LINE_BYTES


@njit(cache=True)
def _access(tags: np.ndarray, valid: np.ndarray, dirty: np.ndarray, stamp: np.ndarray,
            fill: np.ndarray, clock: np.ndarray, ways: int, lines: np.ndarray,
            masks: np.ndarray, write: bool, allocate: bool, hits: np.ndarray,
            pending: np.ndarray, slots: np.ndarray) -> int:  # pragma: no cover - compiled
    """Look up each (line, sector mask); ``hits[i]`` gets the mask of sectors that hit,
    ``pending[i]`` the cycle the line's last fill lands (0: landed) and ``slots[i]`` its slot
    (-1 if not cached). Missing sectors are filled when ``allocate`` (or, for writes, when the
    line is present); writes mark sectors dirty. Returns dirty sectors evicted."""
    sets = tags.shape[0] // ways
    evicted = 0
    for i in range(lines.shape[0]):
        line = lines[i]
        mask = masks[i]
        base = (line % sets) * ways
        clock[0] += 1
        found = -1
        for w in range(ways):
            if tags[base + w] == line:
                found = base + w
                break
        if found >= 0:
            hits[i] = valid[found] & mask
            valid[found] |= mask
            stamp[found] = clock[0]
            pending[i] = fill[found]
            slots[i] = found
            if write:
                dirty[found] |= mask
            continue
        hits[i] = 0
        pending[i] = 0.0
        slots[i] = -1
        if not allocate:
            continue
        victim = base
        for w in range(1, ways):
            if stamp[base + w] < stamp[victim]:
                victim = base + w
        d = dirty[victim]
        while d:
            evicted += d & 1
            d >>= 1
        tags[victim] = line
        valid[victim] = mask
        dirty[victim] = mask if write else 0
        stamp[victim] = clock[0]
        fill[victim] = 0.0
        slots[i] = victim
    return evicted


class SectoredCache:
    """``size_bytes`` of ``ways``-way sets of 128 B lines with 32 B sector valid/dirty bits."""

    __slots__ = ("ways", "tags", "valid", "dirty", "stamp", "fill", "clock", "size_bytes")

    def __init__(self, size_bytes: int, ways: int) -> None:
        lines = max(ways, size_bytes // LINE_BYTES // ways * ways)
        self.size_bytes = lines * LINE_BYTES
        self.ways = ways
        self.tags = np.full(lines, -1, dtype=np.int64)
        self.valid = np.zeros(lines, dtype=np.uint8)
        self.dirty = np.zeros(lines, dtype=np.uint8)
        self.stamp = np.zeros(lines, dtype=np.int64)
        self.fill = np.zeros(lines, dtype=np.float64)  # cycle the line's last fill lands
        self.clock = np.zeros(1, dtype=np.int64)

    def access(self, lines: np.ndarray, masks: np.ndarray, *, write: bool = False,
               allocate: bool = True) -> CacheAccess:
        """Look up (and fill) the lines of one request."""
        n = lines.shape[0]
        hits = np.zeros(n, dtype=np.uint8)
        pending = np.zeros(n, dtype=np.float64)
        slots = np.zeros(n, dtype=np.int64)
        evicted = _access(self.tags, self.valid, self.dirty, self.stamp, self.fill, self.clock,
                          self.ways, lines, masks, write, allocate, hits, pending, slots)
        return CacheAccess(hits, int(evicted), pending, slots)

    def set_fill(self, slots: np.ndarray, cycle: float) -> None:
        """The lines in ``slots`` (from `access`) are being filled; their data lands at
        ``cycle``, so hits on them before then wait for it (an in-flight miss)."""
        valid = slots[slots >= 0]
        self.fill[valid] = np.maximum(self.fill[valid], cycle)


class CacheAccess(NamedTuple):
    """Per request line: hit sector masks, the cycle its pending fill lands (0: none) and its
    slot; plus the dirty sectors evicted."""

    hits: np.ndarray
    evicted: int
    pending: np.ndarray
    slots: np.ndarray
