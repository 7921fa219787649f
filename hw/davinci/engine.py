"""The discrete-event DaVinci engine (simpy): scalar issue into bounded per-pipe queues, pipes
executing in order and in parallel, flags and barriers, and the chip's shared HBM.

Each core unit (a coupled AI Core, or the AIC / AIV units of a separated core) is an
``UnitEngine`` with one issue process and one process per pipe. Time is integer cycles.

- Issue: the scalar unit issues one instruction per ``scalar_issue_cycles`` in program order.
  Scalar instructions (mask set-up) execute in place; the rest are pushed into their pipe's
  queue of depth ``queue_depth``. A full queue stalls issue (head-of-line blocking, counted as
  ``queue_full_cycles`` of that pipe). ``barrier ALL`` stops issue until every pipe drains.
- Pipes: in order, one instruction at a time; costs come from ``decode``. ``wait_flag`` blocks
  its pipe until the flag is set (``flag_wait_cycles``), then clears it; ``set_flag`` sets it
  once every earlier instruction of its pipe has completed.
- HBM: every GM transfer of every core reserves ``bytes / hbm_bytes_per_cycle`` on one shared
  timeline, so cores streaming at once see contention; a single core is limited by its path.

At the end, a pipe still blocked on a flag or an instruction never issued is a deadlock,
reported with the waiting instruction.

This engine is the reference. `fast_core.py` replays these processes, rules and event order in
numba for timing runs and must give the same records (tests/hw/test_fast_engine.py): a change
here is made there too.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

from hw.cache import LineCache
from hw.davinci.decode import Decoded, Kind, tally_bytes
from hw.davinci.races import RaceDetector
from hw.davinci.stats import PipeStats, TimelineEvent
from hw.errors import SimulationError
from isa.davinci import EXEC_PIPES, Pipe

Executor = Callable[[Decoded, Any], None]
_DRAINING = (Kind.SET_FLAG, Kind.BARRIER, Kind.CROSS_SET)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """What the engine records besides timing."""

    check_races: bool = True
    trace: bool = False
    max_events: int = 200_000


class ChipState:
    """State shared by every unit: the environment, HBM timeline and trace buffer."""

    def __init__(self, cfg: Any, options: EngineOptions) -> None:
        self.env = simpy.Environment()
        self.cfg = cfg
        self.options = options
        self.hbm_bytes_per_cycle = float(cfg.hbm_bytes_per_cycle)
        self.hbm_free = 0.0
        self.l2_bytes_per_cycle = float(cfg.l2_bytes_per_cycle)
        self.l2_free = 0.0
        self.line_bytes = int(cfg.l2_line_bytes)
        self.l2 = LineCache(int(cfg.l2_bytes), self.line_bytes, int(cfg.l2_ways))
        self.events: list[TimelineEvent] = []
        self.events_dropped = 0
        self.units: dict[tuple[int, str], UnitEngine] = {}
        self.race_checked: set[int] = set()  # stream shapes whose races a unit checks
        self.completed = 0  # instructions completed on any pipe, for stepping

    def gm_transfer(self, now: int, d: Decoded) -> tuple[float, int]:
        """Move ``d``'s GM bytes through the shared L2 and HBM.

        Every byte crosses the L2 (one shared timeline at ``l2_bytes_per_cycle``); lines that
        miss are filled from HBM (``l2_line_bytes`` each) and writes go through to HBM (a
        write-through approximation of the eventual write-back). Both timelines are
        first-come first-served reservations, so cores streaming at once contend. Returns
        when the transfer can have finished and the HBM bytes it caused.
        """
        misses = self.l2.access(d.gm_lines) if d.gm_lines is not None else 0
        hbm = d.gm_bytes if d.gm_write else misses * self.line_bytes
        start = max(float(now), self.l2_free)
        self.l2_free = done = start + d.gm_bytes / self.l2_bytes_per_cycle
        if hbm:
            start = max(float(now), self.hbm_free)
            self.hbm_free = start + hbm / self.hbm_bytes_per_cycle
            done = max(done, self.hbm_free)
        return done, hbm


class UnitEngine:
    """One instruction stream with its issue process, queues and pipes."""

    def __init__(self, chip: ChipState, core: int, name: str, decoded: tuple[Decoded, ...],
                 lines: tuple[int, ...], describe: Callable[[int], str],
                 execute: Executor | None, memory: Any, shape: int | None = None) -> None:
        """``shape``: streams of one shape have the same race verdict (the check is logical,
        not timed: `races`), so only the first unit of each shape checks."""
        self.chip, self.core, self.name = chip, core, name
        self.env = chip.env
        self.decoded, self.lines, self.describe = decoded, lines, describe
        self.execute, self.memory = execute, memory
        cfg = chip.cfg
        self.depth = cfg.queue_depth
        self.issue_cycles = cfg.scalar_issue_cycles
        self.queues: dict[Pipe, deque] = {pipe: deque() for pipe in EXEC_PIPES}
        self.pipe_waiter: dict[Pipe, simpy.Event | None] = dict.fromkeys(EXEC_PIPES)
        self.space_waiter: dict[Pipe, simpy.Event | None] = dict.fromkeys(EXEC_PIPES)
        self.drain_waiter: simpy.Event | None = None
        self.running: dict[Pipe, bool] = dict.fromkeys(EXEC_PIPES, False)
        self.current: dict[Pipe, int | None] = dict.fromkeys(EXEC_PIPES)  # executing now
        self.inflight: dict[Pipe, int] = dict.fromkeys(EXEC_PIPES, 0)  # last DMA landing
        self.flags: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.flag_waiters: dict[tuple[int, ...], simpy.Event] = {}
        self.cross_counts: Counter = Counter()
        self.cross_waiters: dict[int, simpy.Event] = {}
        self.blocked: dict[Pipe, tuple[int, Decoded]] = {}
        self.last_work_end: dict[Pipe, int] = dict.fromkeys(EXEC_PIPES, -1)
        self.end = 0
        self.issued = 0
        self.issue_done = False
        self.stall_at: tuple[Pipe, int] | None = None
        self.busy: Counter = Counter()
        self.flag_wait: Counter = Counter()
        self.queue_full: Counter = Counter()
        self.count: Counter = Counter()
        self.mnemonics: Counter = Counter()
        self.bytes_by_path: Counter = Counter()
        self.bytes_read: Counter = Counter()
        self.bytes_written: Counter = Counter()
        self.flops = 0
        self.races = None
        if chip.options.check_races and shape not in chip.race_checked:
            self.races = RaceDetector(describe)
            if shape is not None:
                chip.race_checked.add(shape)
        self.env.process(self._issue())
        for pipe in EXEC_PIPES:
            self.env.process(self._pipe(pipe))

    # ------------------------------------------------------------------ issue

    def _issue(self):  # noqa: C901 - one loop, one branch per instruction kind
        env = self.env
        t = 0
        for index, d in enumerate(self.decoded):
            issue_at, t = t, t + self.issue_cycles
            kind = d.kind
            if kind is Kind.SCALAR:
                self.count[Pipe.S] += 1
                self.busy[Pipe.S] += self.issue_cycles
                continue
            if kind is Kind.BARRIER_ALL or (kind is Kind.CROSS_WAIT and d.pipe is Pipe.S):
                if issue_at > env.now:
                    yield env.timeout(issue_at - env.now)
                if kind is Kind.BARRIER_ALL:
                    while not self._drained():
                        self.drain_waiter = env.event()
                        yield self.drain_waiter
                    landing = max(self.inflight.values())
                    if landing > env.now:
                        yield env.timeout(landing - env.now)
                    if self.races:
                        self.races.join_all()
                else:
                    yield from self._cross_wait(Pipe.S, index, d)
                self.count[Pipe.S] += 1
                self.busy[Pipe.S] += self.issue_cycles
                t = env.now + self.issue_cycles
                continue
            queue = self.queues[d.pipe]
            if len(queue) >= self.depth:
                if issue_at > env.now:
                    yield env.timeout(issue_at - env.now)
                while len(queue) >= self.depth:
                    self.stall_at = (d.pipe, index)
                    waiter = self.space_waiter[d.pipe] = env.event()
                    yield waiter
                self.stall_at = None
                if env.now > issue_at:
                    self.queue_full[d.pipe] += env.now - issue_at
                    issue_at, t = env.now, env.now + self.issue_cycles
            queue.append((issue_at, index, d))
            self.issued += 1
            waiter = self.pipe_waiter[d.pipe]
            if waiter is not None:
                self.pipe_waiter[d.pipe] = None
                waiter.succeed()
        self.issue_done = True
        self.end = max(self.end, t - self.issue_cycles if self.decoded else 0)
        for pipe, waiter in self.pipe_waiter.items():
            if waiter is not None:
                self.pipe_waiter[pipe] = None
                waiter.succeed()

    def _drained(self) -> bool:
        return not any(self.queues.values()) and not any(self.running.values())

    # ------------------------------------------------------------------ pipes

    def _pipe(self, pipe: Pipe):  # noqa: C901 - one branch per instruction kind
        env = self.env
        queue = self.queues[pipe]
        chip = self.chip
        trace = chip.options.trace
        while True:
            if not queue:
                if self.issue_done:
                    return
                waiter = self.pipe_waiter[pipe] = env.event()
                yield waiter
                continue
            issue_at, index, d = queue[0]
            if issue_at > env.now:
                yield env.timeout(issue_at - env.now)
            queue.popleft()
            self.running[pipe] = True
            self.current[pipe] = index
            waiter = self.space_waiter[pipe]
            if waiter is not None:
                self.space_waiter[pipe] = None
                waiter.succeed()
            start = env.now
            kind = d.kind
            waited_from = None
            cost = d.cycles
            latency = 0
            if kind is Kind.WORK:
                if d.head_cycles and self.last_work_end[pipe] < start:
                    cost += d.head_cycles
                if d.gm_bytes:
                    gm_done, hbm = chip.gm_transfer(start, d)
                    cost = max(cost, math.ceil(gm_done - start))
                    (self.bytes_written if d.gm_write else self.bytes_read)["hbm"] += hbm
                latency = d.latency_cycles
                if self.races is not None:
                    self.races.access(pipe, index, d.reads, d.writes)
                self._account(d)
            elif kind is Kind.SET_FLAG:
                pass  # fires once the pipe's transfers in flight have landed (see below)
            elif kind in _DRAINING and self.inflight[pipe] > start:
                # a barrier or cross-core flag covers this pipe's transfers still in flight
                yield env.timeout(self.inflight[pipe] - start)
            elif kind is Kind.WAIT_FLAG:
                if d.flag not in self.flags:
                    waited_from = start
                    self.blocked[pipe] = (index, d)
                    waiter = self.flag_waiters[d.flag] = env.event()
                    yield waiter
                    del self.blocked[pipe]
                    self.flag_wait[pipe] += env.now - start
                snapshot = self.flags.pop(d.flag)
                if self.races is not None:
                    self.races.join(pipe, snapshot)
            elif kind is Kind.CROSS_WAIT:
                waited_from = start
                yield from self._cross_wait(pipe, index, d)
                if env.now == start:
                    waited_from = None
            elif kind is Kind.BARRIER:
                if self.last_work_end[pipe] != start:
                    cost = 0  # nothing outstanding to drain
            begin = env.now
            if cost:
                yield env.timeout(cost)
            end = env.now
            if kind is Kind.SET_FLAG:
                # Modelling choice: set_flag does not hold the pipe while earlier transfers
                # are in flight; the flag rises when they have all landed. The happens-before
                # snapshot is taken here, at the flag's place in the pipe.
                snapshot = self.races.snapshot(d.pipe) if self.races is not None else ()
                landing = self.inflight[pipe]
                if landing > end:
                    env.timeout(landing - end).callbacks.append(
                        lambda _, i=index, d=d, s=snapshot: self._set_flag(i, d, s))
                    self.end = max(self.end, landing)
                else:
                    self._set_flag(index, d, snapshot)
            elif kind is Kind.CROSS_SET:
                self._cross_set(index, d)
            elif kind is Kind.WORK:
                self.last_work_end[pipe] = end
                if latency:
                    # DMA engines keep transfers in flight: the pipe moves on after the
                    # transfer time and the data lands `latency` cycles later, in order. As on
                    # the hardware, a later instruction of the same pipe is not held back for
                    # it: a same-pipe dependency through memory needs `barrier PIPE`
                    # [ASC-ARCH] facts §4.
                    done = end + latency
                    self.inflight[pipe] = max(self.inflight[pipe], done)
                    self.end = max(self.end, done)
                    if self.execute is not None:
                        env.timeout(latency).callbacks.append(
                            lambda _, d=d: self.execute(d, self.memory))
                elif self.execute is not None:  # the data lands when the instruction completes
                    self.execute(d, self.memory)
            self.busy[pipe] += end - begin
            self.count[pipe] += 1
            chip.completed += 1
            self.current[pipe] = None
            self.mnemonics[d.instr.mnemonic] += 1
            self.end = max(self.end, end)
            self.running[pipe] = False
            if self.drain_waiter is not None and self._drained():
                drain, self.drain_waiter = self.drain_waiter, None
                drain.succeed()
            if trace:
                self._trace(pipe, index, d, begin, end, waited_from)

    def _account(self, d: Decoded) -> None:
        tally_bytes(d, 1, self.bytes_by_path, self.bytes_read, self.bytes_written)
        self.flops += d.flops

    def _set_flag(self, index: int, d: Decoded, snapshot: tuple[int, ...]) -> None:
        if d.flag in self.flags:
            raise flag_set_twice(self.core, self.name, self.describe(index))
        self.flags[d.flag] = snapshot
        waiter = self.flag_waiters.pop(d.flag, None)
        if waiter is not None:
            waiter.succeed()

    def _cross_set(self, index: int, d: Decoded) -> None:
        target = self.chip.units.get((self.core, d.instr.target.value))
        if target is None:
            raise no_target_unit(self.core, self.name, self.describe(index), d)
        flag = d.flag[0]
        target.cross_counts[flag] += 1
        if target.cross_counts[flag] > CROSS_PENDING_LIMIT:
            raise cross_flag_overflow(self.core, self.name, self.describe(index), flag)
        waiter = target.cross_waiters.pop(flag, None)
        if waiter is not None:
            waiter.succeed()

    def _cross_wait(self, pipe: Pipe, index: int, d: Decoded):
        flag = d.flag[0]
        start = self.env.now
        while self.cross_counts[flag] == 0:
            self.blocked[pipe] = (index, d)
            waiter = self.cross_waiters[flag] = self.env.event()
            yield waiter
        self.blocked.pop(pipe, None)
        self.cross_counts[flag] -= 1
        self.flag_wait[pipe] += self.env.now - start

    def _trace(self, pipe: Pipe, index: int, d: Decoded, start: int, end: int,
               waited_from: int | None) -> None:
        chip = self.chip
        if len(chip.events) >= chip.options.max_events:
            chip.events_dropped += 1
            return
        chip.events.append(TimelineEvent(
            self.core, self.name, pipe.name, d.instr.mnemonic, self.lines[index]
            if self.lines else index + 1, start, end, d.path_bytes, waited_from,
        ))

    # ------------------------------------------------------------------ results

    def deadlock_report(self) -> str | None:
        """Why this unit cannot finish, or None if it finished."""
        return deadlock_report(self.core, self.name, self.blocked, self.stall_at,
                               self.issue_done, self.describe)

    def pipe_stats(self) -> dict[str, PipeStats]:
        stats = {}
        for pipe in (Pipe.S, *EXEC_PIPES):
            stats[pipe.name] = PipeStats(
                self.busy[pipe], self.flag_wait[pipe], self.queue_full[pipe], self.count[pipe]
            )
        return stats

    def pipes_present(self) -> set[str]:
        present = {"S"}
        for d in self.decoded:
            if d.kind is Kind.WORK:
                present.add(d.pipe.name)
        return present


# ---------------------------------------------------------------------- errors (shared with
# the fast engine, `fast.py`, which must say the same)

CROSS_PENDING_LIMIT = 15  # pending sets per cross-core flag [ASC-2201] facts §4


def flag_set_twice(core: int, name: str, where: str) -> SimulationError:
    return SimulationError(f"core {core} {name}: {where} sets a flag that is already set "
                           f"(each set_flag needs a wait_flag before the next set)")


def no_target_unit(core: int, name: str, where: str, d: Decoded) -> SimulationError:
    return SimulationError(f"core {core} {name}: {where} targets unit "
                           f"{d.instr.target.value}, which has no stream on this core")


def cross_flag_overflow(core: int, name: str, where: str, flag: int) -> SimulationError:
    return SimulationError(f"core {core} {name}: {where} leaves more than "
                           f"{CROSS_PENDING_LIMIT} pending sets on cross-core flag {flag}")


def deadlock_report(core: int, name: str, blocked: dict[Pipe, tuple[int, Decoded]],
                    stall_at: tuple[Pipe, int] | None, issue_done: bool,
                    describe: Callable[[int], str]) -> str | None:
    """Why a unit cannot finish (pipes blocked on flags, issue stalled on a full queue), or
    None if it finished."""
    problems = []
    for pipe, (index, d) in sorted(blocked.items()):
        if d.kind is Kind.WAIT_FLAG:
            src, dst, event = d.flag
            problems.append(
                f"{pipe.name} is blocked at {describe(index)}: flag "
                f"({Pipe(src).name} -> {Pipe(dst).name}, event {event}) is never set"
            )
        else:
            problems.append(
                f"{pipe.name} is blocked at {describe(index)}: cross-core flag "
                f"{d.flag[0]} is never set"
            )
    if stall_at is not None:
        pipe, index = stall_at
        problems.append(
            f"issue is stalled at {describe(index)} because the {pipe.name} queue is full"
        )
    if not problems and not issue_done:
        problems.append("issue never finished")
    if not problems:
        return None
    return f"core {core} {name}: " + "; ".join(problems)
