"""Automatic flag insertion from the instructions' reads() and writes().

Kernels are generated without any synchronisation; this pass adds the set_flag / wait_flag
pairs that order every cross-pipe dependency (read-after-write, write-after-read and
write-after-write on overlapping bytes), and no more:

- Pipes are in order, so a dependency on a pipe's instruction also covers its predecessors.
- A wait already executed by the consumer pipe covers everything the flag's producer pipe had
  done (vector clocks, as in the engine's race detector), so transitive orderings need no flag.
- The set_flag goes right after the producing instruction, not before the consumer, so the
  producer pipe can run ahead (double buffering keeps working); the wait_flag goes right before
  the consumer. Consumers that follow each other directly in program order (a run of loads
  into one buffer) share one pair whose set follows the last of their producers.
- Event ids are reused round-robin per (src, dst) pair; if every id is still pending at some
  point of the interval, the dependency falls back to ``barrier ALL`` before the consumer
  (counted in `FlagStats`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from isa.davinci import (
    Barrier,
    Copy,
    CopyGather,
    CopyL0cToUb,
    CopyNd2Nz,
    Fixpipe,
    Img2Col,
    Instruction,
    Load2D,
    Pipe,
    Region,
    SetFlag,
    Space,
    WaitFlag,
)

# Data movers keep transfers in flight, so a later instruction of the same pipe that touches
# their bytes needs pipe_barrier first ([ASC-ARCH] facts §4).
_PIPELINED = (Copy, CopyNd2Nz, CopyGather, Load2D, Img2Col, CopyL0cToUb, Fixpipe)

_PIPES = len(Pipe)
_PAGE_SHIFT = 16


@dataclass(frozen=True, slots=True)
class FlagStats:
    """How many flag pairs, fallback ``barrier ALL`` and same-pipe barriers the pass
    inserted."""

    pairs: int
    barriers: int
    pipe_barriers: int = 0


@dataclass(slots=True)
class _Pair:
    src: Pipe
    dst: Pipe
    set_after: int  # index of the producing instruction in the input stream
    wait_before: int  # index of the consuming instruction
    consumer_epoch: int  # the consumer's position in its pipe
    src_knows_dst: int  # dst epochs the src pipe is ordered after when it sets the flag
    event: int = 0


@dataclass(frozen=True, slots=True)
class FlagPlan:
    """Where the flags of one stream go: the instructions to put before and after the
    instruction at each index. Streams with the same `flag_shape` share a plan."""

    before: dict[int, tuple[Instruction, ...]]
    after: dict[int, tuple[Instruction, ...]]
    stats: FlagStats

    def apply(self, instructions: Sequence[Instruction]) -> list[Instruction]:
        before, after = self.before, self.after
        out: list[Instruction] = []
        for index, instr in enumerate(instructions):
            if index in before:
                out.extend(before[index])
            out.append(instr)
            if index in after:
                out.extend(after[index])
        return out


def insert_flags(instructions: Sequence[Instruction], event_ids: int,
                 skip_spaces: frozenset[Space] = frozenset()
                 ) -> tuple[list[Instruction], FlagStats]:
    """Return the stream with the flags it needs, and how many were inserted.

    ``event_ids`` is the number of event ids per pipe pair on the target chip. Accesses to
    ``skip_spaces`` are not tracked.
    """
    plan = plan_flags(instructions, event_ids, skip_spaces)
    return plan.apply(instructions), plan.stats


def flag_shape(instructions: Sequence[Instruction], territory: Callable[[int], int],
               memo: dict[int, tuple] | None = None) -> tuple | None:
    """A key that two streams share only if `plan_flags` places the same flags in both.

    The plan depends on each instruction's pipe, whether it keeps transfers in flight, the
    target of a ``barrier`` and which accessed regions overlap. The key holds exactly those,
    with each GM region taken relative to the stream's first access of the same
    ``territory`` (the virtual GM is laid out as separate buffers, one territory each), so
    cores doing the same work on different parts of their tensors share one plan. Returns
    None (share nothing) if some GM region spans two territories. ``memo`` keeps each
    instruction object's own part of the key (by id, so the caller keeps the instructions
    alive) for the next stream that holds it.
    """
    if memo is None:
        memo = {}
    firsts: dict[int, tuple[int, int]] = {}  # territory -> (ordinal, first start)
    key: list = []
    for instr in instructions:
        own = memo.get(id(instr))
        if own is None:
            own = memo[id(instr)] = _own_key(instr)
        element, gm = own
        if gm is None:
            key.append(element)
            continue
        regions = []
        for write, space, start, stop in gm:
            if space is Space.GM:
                t = territory(start)
                if territory(stop - 1) != t:
                    return None
                ordinal, first = firsts.setdefault(t, (len(firsts), start))
                regions.append((write, ordinal, start - first, stop - first))
            else:
                regions.append((write, space, start, stop))
        key.append((*element, tuple(regions)))
    return tuple(key)


def _own_key(instr: Instruction) -> tuple:
    """(key element, None) for an instruction whose part of the `flag_shape` key is fixed;
    ((pipe, pipelined), its regions) for one that touches GM, placed per stream."""
    pipe = instr.pipe
    if pipe is Pipe.S:
        return (instr.target if isinstance(instr, Barrier) else None), None
    regions = tuple((write, r.space, r.start, r.stop)
                    for write, group in ((False, instr.reads()), (True, instr.writes()))
                    for r in group)
    pipelined = isinstance(instr, _PIPELINED)
    if all(space is not Space.GM for _, space, _, _ in regions):
        return (pipe, pipelined, regions), None
    return (pipe, pipelined), regions


def plan_flags(instructions: Sequence[Instruction], event_ids: int,
               skip_spaces: frozenset[Space] = frozenset()) -> FlagPlan:
    """The flags ``instructions`` need (see the module notes and `insert_flags`)."""
    epochs = [0] * _PIPES  # instructions seen per pipe
    epoch_index: list[dict[int, int]] = [{} for _ in range(_PIPES)]  # pipe -> epoch -> index
    known = [[0] * _PIPES for _ in range(_PIPES)]  # known[p][q]: q epochs p is ordered after
    known_at: dict[int, tuple[int, ...]] = {}  # producer index -> its pipe's knowledge then
    shadow: dict[tuple[Space, int], list[dict[tuple[int, int, bool], int] | None]] = {}
    pairs: list[_Pair] = []
    fenced = [0] * _PIPES  # epoch up to which each pipe's own transfers are known landed
    barriers_on: dict[int, Pipe] = {}  # instruction index -> pipe to drain before it
    open_pairs: dict[tuple[int, int], _Pair] = {}  # latest pair per (src, dst)
    run_end: dict[tuple[int, int], int] = {}  # last consumer-side index a pair's wait covers
    previous = -1  # index of the previous non-scalar instruction

    for index, instr in enumerate(instructions):
        pipe = instr.pipe
        if pipe is Pipe.S:
            if isinstance(instr, Barrier) and instr.target is Pipe.ALL:
                for row in known:
                    row[:] = epochs
            continue
        epochs[pipe] += 1
        epoch = epochs[pipe]
        epoch_index[pipe][epoch] = index
        needs = [0] * _PIPES  # latest epoch of each other pipe this instruction depends on
        accesses = [(r, False) for r in instr.reads()] + [(w, True) for w in instr.writes()]
        for region, write in accesses:
            if region.space not in skip_spaces:
                _conflicts(shadow, region, write, pipe, needs)
        own_need, needs[pipe] = needs[pipe], 0
        mine = known[pipe]
        for other in range(_PIPES):
            if needs[other] > mine[other]:
                producer = epoch_index[other][needs[other]]
                seen = known_at[producer]
                run = open_pairs.get((other, pipe))
                if run is not None and run_end.get((other, pipe)) == previous \
                        and run.set_after <= producer < run.wait_before:
                    # consecutive consumers: one flag, set after the last producer
                    run.set_after = producer
                    run.src_knows_dst = seen[pipe]
                else:
                    run = _Pair(Pipe(other), pipe, producer, index, epoch, seen[pipe])
                    pairs.append(run)
                    open_pairs[other, pipe] = run
                # the wait orders this pipe after everything the producer's pipe had seen,
                # including its own earlier transfers having landed
                for q, value in enumerate(seen):
                    if value > mine[q]:
                        mine[q] = value
                fenced[pipe] = max(fenced[pipe], seen[pipe])
        if own_need > fenced[pipe]:
            # an earlier transfer of this same pipe may still be in flight: pipe_barrier
            barriers_on[index] = pipe
            fenced[pipe] = epoch - 1
        for key in open_pairs:
            if key[1] == pipe and run_end.get(key) == previous:
                run_end[key] = index
        for key, run in open_pairs.items():
            if run.wait_before == index:
                run_end[key] = index
        previous = index
        mine[pipe] = epoch
        known_at[index] = tuple(mine)
        pipelined = isinstance(instr, _PIPELINED)
        for region, write in accesses:
            if region.space not in skip_spaces:
                _record(shadow, region, write, pipe, epoch, pipelined)

    barriers_before = _assign_events(pairs, event_ids)
    sets_after: dict[int, list[_Pair]] = {}
    waits_before: dict[int, list[_Pair]] = {}
    for pair in pairs:
        if pair.event >= 0:
            sets_after.setdefault(pair.set_after, []).append(pair)
            waits_before.setdefault(pair.wait_before, []).append(pair)
    before: dict[int, tuple[Instruction, ...]] = {}
    for index in sorted(set(barriers_before) | set(barriers_on) | set(waits_before)):
        head: list[Instruction] = []
        if index in barriers_before:
            head.append(Barrier(Pipe.ALL))
        elif index in barriers_on:
            head.append(Barrier(barriers_on[index]))
        head += [WaitFlag(p.src, p.dst, p.event) for p in waits_before.get(index, ())]
        before[index] = tuple(head)
    after = {index: tuple(SetFlag(p.src, p.dst, p.event) for p in group)
             for index, group in sets_after.items()}
    inserted = sum(1 for p in pairs if p.event >= 0)
    return FlagPlan(before, after, FlagStats(inserted, len(barriers_before), len(barriers_on)))


def _conflicts(shadow: dict, region: Region, write: bool, pipe: int, needs: list[int]) -> None:
    """Raise ``needs[q]`` to the latest conflicting access of pipe q (of this same pipe only
    for a read of bytes a transfer that may still be in flight writes)."""
    start, stop = region.start, region.stop
    for page in range(start >> _PAGE_SHIFT, ((stop - 1) >> _PAGE_SHIFT) + 1):
        slot = shadow.get((region.space, page))
        if slot is None:
            continue
        for other, entries in enumerate(slot):
            if entries is None:
                continue
            for (e_start, e_stop, e_write), (e_epoch, pipelined) in entries.items():
                if other == pipe:
                    # in-flight transfers of one pipe land in order, so only a read of bytes
                    # an earlier transfer writes needs the barrier
                    if not (pipelined and e_write and not write):
                        continue
                elif not (write or e_write):
                    continue
                if e_epoch > needs[other] and e_start < stop and start < e_stop:
                    needs[other] = e_epoch


def _record(shadow: dict, region: Region, write: bool, pipe: int, epoch: int,
            pipelined: bool) -> None:
    start, stop = region.start, region.stop
    for page in range(start >> _PAGE_SHIFT, ((stop - 1) >> _PAGE_SHIFT) + 1):
        slot = shadow.get((region.space, page))
        if slot is None:
            slot = shadow[region.space, page] = [None] * _PIPES
        entries = slot[pipe]
        if entries is None:
            entries = slot[pipe] = {}
        entries[start, stop, write] = (epoch, pipelined)


def _assign_events(pairs: list[_Pair], event_ids: int) -> set[int]:
    """Give each pair an event id; return the consumers that need a barrier instead.

    An id may be reused by a later pair of the same pipes only once the earlier pair's wait is
    known to have executed before the later set (the setting pipe is ordered after the earlier
    consumer); otherwise the flag could be set twice. When every id is still in use, the new
    dependency is merged into the most recent pending pair by moving that pair's set_flag
    after the new producer (its consumer then waits a little longer and, being earlier in the
    consumer pipe, orders the new consumer too); only when even that is impossible does the
    consumer fall back to ``barrier ALL``.
    """
    barriers_before: set[int] = set()
    holders: dict[tuple[Pipe, Pipe], list[_Pair | None]] = {}
    for pair in sorted(pairs, key=lambda p: p.wait_before):
        slots = holders.setdefault((pair.src, pair.dst), [None] * event_ids)
        free = [e for e, held in enumerate(slots)
                if held is None or pair.src_knows_dst >= held.consumer_epoch]
        if free:
            pair.event = free[0]
            slots[pair.event] = pair
            continue
        latest = max((held for held in slots if held is not None),
                     key=lambda held: held.wait_before)
        if latest.set_after <= pair.set_after < latest.wait_before:
            latest.set_after = pair.set_after
            latest.src_knows_dst = pair.src_knows_dst
            pair.event = -2  # covered by `latest`
            continue
        pair.event = -1
        barriers_before.add(pair.wait_before)
    return barriers_before
