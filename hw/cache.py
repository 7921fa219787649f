"""A set-associative LRU cache of lines, fast enough to sit on every global-memory transfer.

Shared by the chip models for their L2. State is a tag array and an LRU stamp array per set;
`access` runs in a numba kernel over the lines one transfer touches and returns the misses.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _access(lines: np.ndarray, tags: np.ndarray, stamps: np.ndarray, clock: np.ndarray) -> int:
    sets, ways = tags.shape
    misses = 0
    for line in lines:
        s = line % sets
        tag = line // sets
        clock[0] += 1
        victim = 0
        oldest = stamps[s, 0]
        hit = False
        for w in range(ways):
            if tags[s, w] == tag:
                stamps[s, w] = clock[0]
                hit = True
                break
            if stamps[s, w] < oldest:
                oldest = stamps[s, w]
                victim = w
        if not hit:
            misses += 1
            tags[s, victim] = tag
            stamps[s, victim] = clock[0]
    return misses


class LineCache:
    """``capacity_bytes`` of ``line_bytes`` lines in ``ways``-way sets, LRU replacement."""

    def __init__(self, capacity_bytes: int, line_bytes: int, ways: int = 16) -> None:
        sets = max(1, capacity_bytes // (line_bytes * ways))
        self.line_bytes = line_bytes
        self.tags = np.full((sets, ways), -1, dtype=np.int64)
        self.stamps = np.zeros((sets, ways), dtype=np.int64)
        self.clock = np.zeros(1, dtype=np.int64)

    def access(self, lines: np.ndarray) -> int:
        """Touch ``lines`` (line indices, int64) in order; return how many missed."""
        if lines.size == 0:
            return 0
        return int(_access(lines, self.tags, self.stamps, self.clock))


@numba.njit(cache=True)
def _burst_lines(start: int, n_burst: int, burst_bytes: int, pitch_bytes: int,
                 line_bytes: int) -> np.ndarray:
    out = np.empty(n_burst * (burst_bytes // line_bytes + 2), dtype=np.int64)
    count = 0
    last = -1
    for i in range(n_burst):
        first = start + i * pitch_bytes
        for line in range(first // line_bytes, (first + burst_bytes - 1) // line_bytes + 1):
            if line != last:
                out[count] = line
                count += 1
                last = line
    return out[:count]


def burst_lines(start: int, n_burst: int, burst_bytes: int, pitch_bytes: int,
                line_bytes: int) -> np.ndarray:
    """Line indices touched by ``n_burst`` bursts of ``burst_bytes`` every ``pitch_bytes``
    from byte ``start``, in order (a line touched twice in a row is listed once)."""
    return _burst_lines(start, n_burst, burst_bytes, pitch_bytes, line_bytes)
