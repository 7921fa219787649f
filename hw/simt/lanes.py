"""Per-warp lane state: 32-lane registers and predicates as NumPy rows, the active mask and
min-PC reconvergence (the warp runs the lowest PC any live lane waits at; lanes rejoin when
their PCs meet, which reconverges if/else and loops laid out in program order)."""

from __future__ import annotations

import numpy as np

from isa.simt import LANES

LANE_IDS = np.arange(LANES, dtype=np.uint32)
ALL_LANES = np.ones(LANES, dtype=bool)


class Lanes:
    """Registers ``regs`` (nregs, 32) uint32, predicates ``preds`` (8, 32) bool, the live
    lanes (not exited, inside the block) and the program counter(s) of one warp."""

    __slots__ = ("regs", "preds", "alive", "pc", "lane_pc", "active", "tid")

    def __init__(self, regs: np.ndarray, preds: np.ndarray, alive: np.ndarray,
                 tid: np.ndarray) -> None:
        self.regs = regs
        self.preds = preds
        self.alive = alive
        self.tid = tid  # (3, 32) thread index x, y, z of every lane
        self.pc = 0
        self.lane_pc: np.ndarray | None = None  # per-lane PCs while diverged
        self.active = alive.copy()  # lanes at self.pc

    @property
    def done(self) -> bool:
        return not self.alive.any()

    def guard(self, pred: int, neg: bool) -> np.ndarray:
        """Active lanes whose guard predicate holds."""
        held = self.preds[pred]
        return self.active & (~held if neg else held)

    def step(self) -> None:
        """Every active lane moves to the next instruction."""
        if self.lane_pc is None:
            self.pc += 1
        else:
            self.lane_pc[self.active] = self.pc + 1
            self._select()

    def branch(self, taken: np.ndarray, target: int) -> None:
        """Active lanes in ``taken`` jump to ``target``; the other active lanes fall through."""
        if self.lane_pc is None:
            if np.array_equal(taken, self.active):
                self.pc = target
                return
            if not taken.any():
                self.pc += 1
                return
            self.lane_pc = np.full(LANES, self.pc, dtype=np.int64)
        self.lane_pc[self.active] = self.pc + 1
        self.lane_pc[taken] = target
        self._select()

    def exit(self, leaving: np.ndarray) -> None:
        """Lanes in ``leaving`` finish; the remaining active lanes fall through."""
        self.alive &= ~leaving
        self.active &= ~leaving
        if not self.alive.any():
            return
        if self.lane_pc is None and np.array_equal(self.active, self.alive):
            self.pc += 1
            return
        if self.lane_pc is None:
            self.lane_pc = np.full(LANES, self.pc, dtype=np.int64)
        self.lane_pc[self.active] = self.pc + 1
        self._select()

    def _select(self) -> None:
        assert self.lane_pc is not None
        live_pcs = self.lane_pc[self.alive]
        if live_pcs.size == 0:
            return
        self.pc = int(live_pcs.min())
        self.active = self.alive & (self.lane_pc == self.pc)
        if np.array_equal(self.active, self.alive):
            self.lane_pc = None  # reconverged


class ShadowLanes:
    """The slice registers of the CTAs a sampled warp stands for when only some SMs are
    simulated (axis 1 of ``regs``/``preds`` is the shadow CTA). Shadows follow the sampled
    warp's control flow (PC and active lanes) and compute only what addresses need, so the
    L2 and DRAM see the whole wave's traffic (`hw.simt.run`)."""

    __slots__ = ("regs", "preds", "tid", "real")

    def __init__(self, regs: np.ndarray, preds: np.ndarray, tid: np.ndarray,
                 real: Lanes) -> None:
        self.regs = regs  # (nregs, shadows, 32)
        self.preds = preds  # (8, shadows, 32)
        self.tid = tid
        self.real = real

    @property
    def active(self) -> np.ndarray:
        return self.real.active

    def guard(self, pred: int, neg: bool) -> np.ndarray:
        """(shadows, 32) lanes active in the sampled warp whose own guard holds."""
        held = self.preds[pred]
        return self.real.active & (~held if neg else held)
