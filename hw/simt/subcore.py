"""Warps, CTAs, the sub-core warp schedulers and the SM process that steps them.

Each cycle a sub-core issues at most one instruction from one of its warps. A warp can issue
when its scoreboard clears (every source and destination register and predicate ready), its
pipe's initiation interval has passed, and it is not waiting at a barrier or on cp.async
groups. GTO keeps issuing from the last warp while it can, then the oldest; loose round-robin
(LRR) starts after the last warp issued. When no warp can issue, the cycles until the first can
are charged to that warp's binding reason (Nsight-style stall reasons).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import simpy

from hw.simt.decode import UNITS, Kind, Op
from hw.simt.functional import ExecContext
from hw.simt.functional_memory import shadow_addresses
from hw.simt.lanes import Lanes, ShadowLanes

if TYPE_CHECKING:
    from hw.simt.engine import Gpu

INF = math.inf
STALL_REASONS = ("scoreboard_memory", "scoreboard_alu", "pipe_busy", "barrier", "async_wait",
                 "idle")
"""Why a sub-core issued nothing in a cycle (``idle``: no resident warp)."""


class Cta:
    """A resident CTA: its warps, shared memory, barrier arrivals and execution context."""

    __slots__ = ("cta_id", "sm", "warps", "live", "arrived", "ctx", "start", "shadow_ctx")

    def __init__(self, cta_id: int, sm: int, ctx: ExecContext, start: int) -> None:
        self.shadow_ctx: ExecContext | None = None
        self.cta_id = cta_id
        self.sm = sm
        self.warps: list[Warp] = []
        self.live = 0
        self.arrived: list[Warp] = []
        self.ctx = ctx
        self.start = start


class Warp:
    """One warp's lanes plus its scoreboard (ready cycle per register and predicate)."""

    __slots__ = ("lanes", "cta", "index", "age", "sub", "reg_ready", "reg_mem", "pred_ready",
                 "next_issue", "at_barrier", "blocked_until", "groups", "open_group", "ready",
                 "why", "unit", "shadow")

    def __init__(self, lanes: Lanes, cta: Cta, index: int, age: int, sub: SubCore,
                 nregs: int, now: int) -> None:
        self.lanes = lanes
        self.shadow: ShadowLanes | None = None
        self.cta = cta
        self.index = index
        self.age = age
        self.sub = sub
        self.reg_ready = [0] * nregs
        self.reg_mem = [False] * nregs
        self.pred_ready = [0] * 8
        self.next_issue = now
        self.at_barrier = False
        self.blocked_until = 0
        self.groups: list[int] = []
        self.open_group = -1
        self.ready: float = now  # see SubCore.refresh
        self.why = "pipe_busy"
        self.unit = 0


class SubCore:
    """A warp scheduler with its pipes (next-free cycle per `FuncUnit`); its SM's process
    asks it each cycle to issue (`step`)."""

    def __init__(self, gpu: Gpu, sm: Sm, index: int) -> None:
        self.gpu = gpu
        self.owner = sm
        self.sm = sm.index
        self.index = index
        self.warps: list[Warp] = []
        self.last: Warp | None = None
        self.pipe_free = [0] * len(UNITS)
        self.pipe_busy = [0] * len(UNITS)
        self.pipe_count = [0] * len(UNITS)
        self.issued = 0
        self.stalls: Counter[str] = Counter()
        self.reason = "barrier"  # why the last step issued nothing
        self.issued_at = -1
        self.lrr = gpu.cfg.scheduler == "lrr"

    def add(self, warp: Warp) -> None:
        self.warps.append(warp)
        self.refresh(warp)
        self.notify()

    def notify(self) -> None:
        self.owner.notify()

    def refresh(self, warp: Warp) -> None:
        """Recompute when the warp's next instruction clears its scoreboard (everything but
        the pipe, which other warps change) and the binding reason until then."""
        if warp.at_barrier:
            warp.ready, warp.why = INF, "barrier"
            return
        op = self.gpu.ops[warp.lanes.pc]
        t, why = warp.next_issue, "pipe_busy"
        if warp.blocked_until > t:
            t, why = warp.blocked_until, "async_wait"
        ready, mem = warp.reg_ready, warp.reg_mem
        for r in op.srcs:
            if ready[r] > t:
                t, why = ready[r], ("scoreboard_memory" if mem[r] else "scoreboard_alu")
        for r in op.dsts:
            if ready[r] > t:
                t, why = ready[r], ("scoreboard_memory" if mem[r] else "scoreboard_alu")
        for p in op.psrcs:
            if warp.pred_ready[p] > t:
                t, why = warp.pred_ready[p], "scoreboard_alu"
        warp.ready, warp.why, warp.unit = t, why, op.unit

    def _candidates(self) -> list[Warp]:
        warps = self.warps
        last = self.last
        if last is None or last not in warps:
            return warps
        if self.lrr:
            at = warps.index(last) + 1
            return warps[at:] + warps[:at]
        return [last, *warps]

    def step(self, now: int) -> float:
        """Issue one instruction at cycle ``now`` if a warp can (returns ``now``), else the
        first cycle one could (INF: none without an event), remembering why in ``reason``."""
        best_t: float = INF
        reason = "barrier"  # what keeps every warp from issuing forever
        pipe_free = self.pipe_free
        for warp in self._candidates():
            t, why = warp.ready, warp.why
            if pipe_free[warp.unit] > t:
                t, why = pipe_free[warp.unit], "pipe_busy"
            if t <= now:
                self.issue(warp, now)
                return now
            if t < best_t:
                best_t, reason = t, why
        self.reason = reason
        return best_t

    def issue(self, warp: Warp, now: int) -> None:
        """Issue the warp's next instruction at cycle ``now``."""
        gpu = self.gpu
        lanes = warp.lanes
        op: Op = gpu.ops[lanes.pc]
        kind = op.kind
        ctx = warp.cta.ctx
        ctx.now = now
        ctx.warpid = warp.index
        self.last = warp
        self.issued += 1
        self.issued_at = now
        self.pipe_free[op.unit] = now + op.ii
        self.pipe_busy[op.unit] += op.ii
        self.pipe_count[op.unit] += 1
        warp.next_issue = now + 1
        gpu.instruction_counts[op.name] += 1
        done = now + op.latency
        if kind == Kind.ALU:
            if op.needed:
                mask = lanes.active if op.guard < 0 else lanes.guard(op.guard, op.guard_neg)
                if op.is_mma or mask.any():
                    op.execute(lanes, mask, ctx)
            shadow = warp.shadow
            if shadow is not None and op.in_slice:
                shadow_ctx = warp.cta.shadow_ctx
                assert shadow_ctx is not None
                shadow_ctx.now, shadow_ctx.warpid = now, warp.index
                op.execute(shadow, shadow.active if op.guard < 0 else
                           shadow.guard(op.guard, op.guard_neg), shadow_ctx)
            self._written(warp, op, done, False)
            lanes.step()
        elif kind <= Kind.CP_ASYNC:
            done = self._memory(warp, op, now)
            lanes.step()
        else:
            done = self._control(warp, op, now)
        if gpu.trace:
            gpu.event(self, warp, op, now, done)
        if not lanes.done:
            self.refresh(warp)

    def _written(self, warp: Warp, op: Op, done: int, memory: bool) -> None:
        for r in op.dsts:
            warp.reg_ready[r] = done
            warp.reg_mem[r] = memory
        for p in op.pdsts:
            warp.pred_ready[p] = done

    def _memory(self, warp: Warp, op: Op, now: int) -> int:
        lanes, gpu = warp.lanes, self.gpu
        mask = lanes.active if op.guard < 0 else lanes.guard(op.guard, op.guard_neg)
        addrs = op.execute(lanes, mask, warp.cta.ctx)
        mem, sm, kind, size = gpu.memory, self.sm, op.kind, op.width_bytes
        if warp.shadow is not None and op.addr_reg >= 0:
            self._shadow_traffic(warp, op, now)
        if kind == Kind.LD_GLOBAL:
            done = mem.load(sm, now, addrs, size, use_l1=op.target == 0)
            self._written(warp, op, done, True)
        elif kind == Kind.LD_SHARED:
            lane_ids = np.arange(op.row_lanes) if op.row_lanes else np.flatnonzero(mask)
            done = mem.shared(sm, now, lane_ids, addrs, size, write=False)
            self._written(warp, op, done, True)
        elif kind == Kind.ST_GLOBAL:
            mem.store(sm, now, addrs, size)
            done = now + 1
        elif kind == Kind.ST_SHARED:
            done = mem.shared(sm, now, np.flatnonzero(mask), addrs, size, write=True)
        else:  # cp.async: the group completes when its last copy lands in shared memory
            done = mem.load(sm, now, addrs, size, use_l1=op.target == 0, to_shared=True)
            warp.open_group = max(warp.open_group, done)
        return done

    def _shadow_traffic(self, warp: Warp, op: Op, now: int) -> None:
        """Present the shadow CTAs' copies of this global access to the memory system ahead
        of the sampled warp's own request. The kernel ends when its slowest SM does, and the
        slowest is the one served last: the sampled SMs play that part, so their requests queue
        behind (and hit the in-flight lines of) their whole wave."""
        shadow = warp.shadow
        assert shadow is not None
        mask = shadow.active if op.guard < 0 else shadow.guard(op.guard, op.guard_neg)
        index, addrs = shadow_addresses(shadow.regs[op.addr_reg], mask, op.addr_offset,
                                        op.width_bytes, warp.cta.ctx.gmem.size)
        memory = self.gpu.memory
        ids, lines, masks = memory.shadow_lines(index + self.sm * self.gpu.shadows, addrs)
        memory.shadow(now, ids, lines, masks, op.target == 0, op.kind == Kind.ST_GLOBAL)

    def _control(self, warp: Warp, op: Op, now: int) -> int:
        lanes, kind = warp.lanes, op.kind
        if kind == Kind.COMMIT:
            warp.groups.append(max(warp.open_group, now))
            warp.open_group = -1
            lanes.step()
        elif kind == Kind.WAIT:
            finished = len(warp.groups) - op.target  # op.target holds n of wait_group n
            if finished > 0:
                warp.blocked_until = max(warp.groups[:finished])
                del warp.groups[:finished]
            lanes.step()
        elif kind == Kind.BAR:
            lanes.step()
            warp.at_barrier = True
            warp.cta.arrived.append(warp)
            self.gpu.barrier_check(warp.cta, now)
        elif kind == Kind.BRA:
            taken = lanes.active if op.guard < 0 else lanes.guard(op.guard, op.guard_neg)
            lanes.branch(taken, op.target)
        else:  # exit
            leaving = lanes.active if op.guard < 0 else lanes.guard(op.guard, op.guard_neg)
            lanes.exit(leaving)
            if lanes.done:
                self.warps.remove(warp)
                if self.last is warp:
                    self.last = None
                # a warp retires once its loads have landed and its stores have left the LSU
                end = max(now + op.latency, max(warp.reg_ready, default=0),
                          self.gpu.memory.lsu_free[self.sm], *warp.groups, warp.open_group)
                self.gpu.warp_done(warp, end)
                return end
        return now + op.latency


class Sm:
    """One SM: its sub-cores, stepped by one simpy process. Each cycle every sub-core with a
    ready warp issues one instruction; when none can, the process sleeps until the first
    becomes ready or a barrier release or new CTA wakes it. Cycles a sub-core with warps
    issues nothing are charged to its binding stall reason."""

    def __init__(self, gpu: Gpu, index: int) -> None:
        self.env: simpy.Environment = gpu.env
        self.index = index
        self.subcores = [SubCore(gpu, self, k) for k in range(gpu.cfg.subcores_per_sm)]
        self.wake: simpy.Event = self.env.event()
        self.process = self.env.process(self.run())

    def notify(self) -> None:
        if not self.wake.triggered:
            self.wake.succeed()

    def run(self) -> Generator[simpy.Event, object, None]:
        env = self.env
        subcores = self.subcores
        while True:
            busy = [s for s in subcores if s.warps]
            if not busy:
                self.wake = env.event()
                yield self.wake
                continue
            now = int(env.now)
            soonest: float = INF
            issued = False
            for sub in busy:
                t = sub.step(now)
                if t == now:
                    issued = True
                elif t < soonest:
                    soonest = t
            if issued:
                for sub in busy:
                    if sub.issued_at != now:
                        sub.stalls[sub.reason] += 1
                yield env.timeout(1)
                continue
            self.wake = env.event()
            if soonest == INF:
                yield self.wake
            else:
                yield env.timeout(int(soonest) - now) | self.wake
            elapsed = int(env.now) - now
            for sub in busy:
                sub.stalls[sub.reason] += elapsed
