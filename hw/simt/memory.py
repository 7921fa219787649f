"""The memory system: LSU coalescing, shared-memory bank conflicts, sectored L1 per SM, the
shared L2 and DRAM, priced as queues with a next-free time (bandwidth) plus a latency.

Rules (facts/gpu.md §4): a warp request touches N 32 B sectors in M 128 B lines; the L1 tag
stage resolves 4 lines per cycle and L1 moves `l1_bytes_per_cycle`, so a request holds the SM's
LSU for max(ceil(M / 4), ceil(32 N / l1_bytes_per_cycle)) cycles. Only missing sectors go to L2
and only L2-missing sectors to DRAM. L1 is write-through without allocation; L2 is write-back
with allocation, so dirty evictions cost DRAM write bandwidth. Shared memory costs one wavefront
per cycle, a wavefront per distinct word in the busiest bank, 64-bit accesses in two half-warp
phases and 128-bit in four quarter-warp phases (§4.2). Latencies are load-to-use totals; queue
waits add to them. Requests are priced when issued (in simulated-time order), which keeps the
engine free of per-request processes.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from hw.simt.cache import SectoredCache
from hw.simt.config import LINE_BYTES, SECTOR_BYTES, GpuConfig

_POPCOUNT = np.array([bin(i).count("1") for i in range(16)], dtype=np.int64)
_TAGS_PER_CYCLE = 4  # L1 tag stage: 4 lines per cycle (facts §4.1, NVIDIA forum)


def coalesce(addrs: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(distinct 128 B lines, their 4-bit sector masks, sector count) of a warp request of
    ``size``-byte aligned accesses."""
    sectors = np.unique(addrs >> 5)
    if size > SECTOR_BYTES:  # cannot happen for aligned <= 16 B accesses; kept for safety
        sectors = np.unique(((addrs[:, None] + np.arange(0, size, SECTOR_BYTES)) >> 5).ravel())
    lines = sectors >> 2
    bits = (1 << (sectors & 3)).astype(np.uint8)
    unique, first = np.unique(lines, return_index=True)
    return unique, np.bitwise_or.reduceat(bits, first).astype(np.uint8), int(sectors.size)


def shared_wavefronts(lanes: np.ndarray, addrs: np.ndarray, size: int, banks: int = 32,
                      bank_bytes: int = 4) -> int:
    """Wavefronts of one shared-memory request: per phase, the most distinct words any bank
    must deliver (same-word lanes are served by broadcast), summed over phases."""
    if addrs.size == 0:
        return 1
    words_per_lane = max(1, size // bank_bytes)
    lanes_per_phase = 32 // words_per_lane
    words = ((addrs // bank_bytes)[:, None] + np.arange(words_per_lane)).ravel()
    phase = np.repeat(lanes // lanes_per_phase, words_per_lane).astype(np.int64)
    keys = np.unique((phase << 40) | words)
    bank_keys, counts = np.unique((keys >> 40) * banks + (keys & ((1 << 40) - 1)) % banks,
                                  return_counts=True)
    per_phase = np.zeros(int(phase.max()) + 1, dtype=np.int64)
    np.maximum.at(per_phase, bank_keys // banks, counts)
    return int(per_phase.sum())


class MemorySystem:
    """L1 per simulated SM, one L2 and DRAM. ``share`` scales the chip-wide L2 capacity and
    L2/DRAM bandwidth when only some SMs are simulated (each gets its fair share)."""

    def __init__(self, cfg: GpuConfig, sms: int, shared_per_sm_bytes: int, share: float,
                 shadow_l1s: int = 0) -> None:
        self.cfg = cfg
        # The L1s of the SMs that shadow CTAs stand for, pooled: cache c's set s is pooled set
        # s * shadow_l1s + c, so the pool behaves exactly as shadow_l1s separate caches.
        self.shadow_l1s = shadow_l1s
        self.shadow_l1 = SectoredCache(cfg.l1_bytes(shared_per_sm_bytes) * shadow_l1s,
                                       cfg.l1_ways) if shadow_l1s else None
        self.shadow_counts: Counter[str] = Counter()
        self.l1 = [SectoredCache(cfg.l1_bytes(shared_per_sm_bytes), cfg.l1_ways)
                   for _ in range(sms)]
        self.l2 = SectoredCache(max(LINE_BYTES * cfg.l2_ways, int(cfg.l2_bytes * share)),
                                cfg.l2_ways)
        self.l2_bytes_per_cycle = cfg.l2_bytes_per_cycle * share
        self.dram_bytes_per_cycle = cfg.dram_bytes_per_cycle * share
        self.lsu_free = [0] * sms
        self.l2_free = 0.0
        self.dram_free = 0.0
        self.l2_busy = 0.0
        self.dram_busy = 0.0
        self.lsu_busy = 0
        self.counts: Counter[str] = Counter()
        # Request shapes repeat (every warp runs the same code): memoise by the lane pattern
        # relative to its first address. Coalescing is invariant under shifts by whole lines,
        # bank conflicts under shifts by whole words.
        self._lines: dict[bytes, tuple[np.ndarray, np.ndarray, int]] = {}
        self._wavefronts: dict[bytes, int] = {}

    def coalesce(self, addrs: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, int]:
        """`coalesce`, memoised on the request's shape."""
        base = int(addrs[0]) & ~(LINE_BYTES - 1)
        key = (addrs - base).tobytes() + bytes((size,))
        shape = self._lines.get(key)
        if shape is None:
            shape = coalesce(addrs - base, size)
            self._lines[key] = shape
        lines, masks, sectors = shape
        return lines + (base // LINE_BYTES), masks, sectors

    def wavefronts(self, lanes: np.ndarray, addrs: np.ndarray, size: int) -> int:
        """`shared_wavefronts`, memoised on the request's shape."""
        if addrs.size == 0:
            return 1
        base = int(addrs[0]) & ~3
        key = (addrs - base).tobytes() + lanes.tobytes() + bytes((size,))
        count = self._wavefronts.get(key)
        if count is None:
            count = shared_wavefronts(lanes, addrs - base, size, self.cfg.shared_banks,
                                      self.cfg.shared_bank_bytes)
            self._wavefronts[key] = count
        return count

    # ---------------------------------------------------------------- queues

    def _lsu(self, sm: int, now: int, cycles: int) -> int:
        start = max(now, self.lsu_free[sm])
        self.lsu_free[sm] = start + cycles
        self.lsu_busy += cycles
        return start

    def _dram(self, at: float, sectors: int) -> float:
        """Queue ``sectors`` on DRAM from time ``at``; returns the wait before service."""
        start = max(at, self.dram_free)
        service = sectors * SECTOR_BYTES / self.dram_bytes_per_cycle
        self.dram_free = start + service
        self.dram_busy += service
        return start - at

    def _l2(self, at: float, lines: np.ndarray, masks: np.ndarray, write: bool,
            counts: Counter[str] | None = None) -> tuple[float, int, int, float, float]:
        """(queue wait, L2-hit sectors, L2-miss sectors, DRAM wait of the misses, the cycle
        the latest in-flight fill among the hit lines lands). Read misses mark their lines
        in flight until their DRAM data lands, so later hits on them wait for it."""
        sectors = int(_POPCOUNT[masks].sum())
        start = max(at, self.l2_free)
        service = sectors * SECTOR_BYTES / self.l2_bytes_per_cycle
        self.l2_free = start + service
        self.l2_busy += service
        hits, evicted, pending, slots = self.l2.access(lines, masks, write=write, allocate=True)
        hit_sectors = int(_POPCOUNT[hits].sum())
        miss_sectors = 0 if write else sectors - hit_sectors
        counts = self.counts if counts is None else counts
        counts["l2_sectors"] += sectors
        counts["l2_hit_sectors"] += hit_sectors if not write else sectors
        dram_wait = 0.0
        if miss_sectors or evicted:
            dram_wait = self._dram(start, miss_sectors + evicted)
            counts["dram_read_bytes"] += miss_sectors * SECTOR_BYTES
            counts["dram_write_bytes"] += evicted * SECTOR_BYTES
        landed = 0.0
        if not write:
            missed = hits != masks
            if missed.any():  # data lands as a miss issued from `at` would see it
                self.l2.set_fill(slots[missed],
                                 start + dram_wait + self.cfg.dram_latency_cycles - 1)
            if (~missed).any():
                landed = float(pending[~missed].max())
        return start - at, hit_sectors, miss_sectors, dram_wait, landed

    # ---------------------------------------------------------------- requests

    def load(self, sm: int, now: int, addrs: np.ndarray, size: int, use_l1: bool,
             to_shared: bool = False) -> int:
        """Cycle at which a global load (or cp.async) issued at ``now`` has all its data."""
        if addrs.size == 0:
            return now + 1
        cfg, counts = self.cfg, self.counts
        lines, masks, sectors = self.coalesce(addrs, size)
        occupancy = max(-(-lines.size // _TAGS_PER_CYCLE),
                        math.ceil(sectors * SECTOR_BYTES / cfg.l1_bytes_per_cycle))
        base = self._lsu(sm, now, occupancy) + occupancy - 1
        counts["global_load_requests"] += 1
        counts["global_load_sectors"] += sectors
        counts["global_load_bytes"] += addrs.size * size
        ready: float = base + cfg.l1_latency_cycles
        l1 = None
        if use_l1:
            l1 = self.l1[sm].access(lines, masks)
            misses = masks & ~l1.hits
            hit_sectors = int(_POPCOUNT[l1.hits].sum())
            if hit_sectors:  # a hit on a line still being filled waits for the fill
                ready = max(ready, float(l1.pending[l1.hits != 0].max()))
            counts["l1_sectors"] += sectors
            counts["l1_hit_sectors"] += hit_sectors
        else:
            misses, hit_sectors = masks, 0
        if to_shared:
            counts["shared_write_bytes"] += addrs.size * size
        if hit_sectors == sectors:
            return math.ceil(ready)
        keep = misses != 0
        wait, l2_hits, l2_misses, dram_wait, landed = self._l2(base + 1, lines[keep],
                                                               misses[keep], False)
        counts["l2_to_l1_bytes"] += (sectors - hit_sectors) * SECTOR_BYTES
        if hit_sectors == 0:
            ready = base
        if l2_hits:
            ready = max(ready, base + wait + cfg.l2_latency_cycles, landed)
        if l2_misses:
            ready = max(ready, base + wait + dram_wait + cfg.dram_latency_cycles)
        if l1 is not None:
            self.l1[sm].set_fill(l1.slots[keep], ready)
        return math.ceil(ready)

    def store(self, sm: int, now: int, addrs: np.ndarray, size: int) -> None:
        """A global store: write-through L1 (update only), write-back L2."""
        if addrs.size == 0:
            return
        lines, masks, sectors = self.coalesce(addrs, size)
        occupancy = max(-(-lines.size // _TAGS_PER_CYCLE),
                        math.ceil(sectors * SECTOR_BYTES / self.cfg.l1_bytes_per_cycle))
        start = self._lsu(sm, now, occupancy)
        self.l1[sm].access(lines, masks, allocate=False)
        self.counts["global_store_requests"] += 1
        self.counts["global_store_bytes"] += addrs.size * size
        self.counts["sm_to_l2_bytes"] += sectors * SECTOR_BYTES
        self._l2(start + occupancy, lines, masks, True)

    def shared(self, sm: int, now: int, lanes: np.ndarray, addrs: np.ndarray, size: int,
               write: bool) -> int:
        """Cycle at which a shared-memory access issued at ``now`` completes."""
        wavefronts = self.wavefronts(lanes, addrs, size)
        start = self._lsu(sm, now, wavefronts)
        self.counts["shared_requests"] += 1
        self.counts["shared_wavefronts"] += wavefronts
        self.counts["shared_write_bytes" if write else "shared_read_bytes"] += addrs.size * size
        return start + wavefronts - 1 + self.cfg.shared_latency_cycles

    @staticmethod
    def shadow_lines(l1_ids: np.ndarray, addrs: np.ndarray) -> tuple[
            np.ndarray, np.ndarray, np.ndarray]:
        """(L1 id, line, sector mask) of shadow accesses, sorted by L1 id then line."""
        if addrs.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.uint8)
        sectors = np.unique((l1_ids.astype(np.int64) << 40) | (addrs >> 5))
        keys = sectors >> 2  # (l1 id << 38) | line, sorted
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        masks = np.bitwise_or.reduceat((1 << (sectors & 3)).astype(np.uint8), starts)
        unique = keys[starts]
        return unique >> 38, unique & ((1 << 38) - 1), masks.astype(np.uint8)

    def shadow(self, now: int, l1_id: np.ndarray, lines: np.ndarray, masks: np.ndarray,
               use_l1: bool, write: bool) -> None:
        """The traffic of shadow CTAs (other SMs' CTAs of the same wave, from `shadow_lines`):
        through their own L1s into the shared L2 and DRAM queues, at cycle ``now``. Counted
        apart (``shadow_counts``); only its effect on L2 contents and queues matters."""
        if lines.size == 0:
            return
        if self.shadow_l1 is not None and (use_l1 or write):
            pooled = lines * self.shadow_l1s + l1_id
            hits = self.shadow_l1.access(pooled, masks, allocate=not write).hits
            if not write:
                masks = masks & ~hits
        keep = masks != 0
        if keep.any():
            self._l2(now + 1, lines[keep], masks[keep], write, self.shadow_counts)
