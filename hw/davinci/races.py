"""Cross-pipe race detection with vector clocks.

Two instructions on different pipes of one core unit are ordered only by flags (set_flag on the
source pipe after the first, wait_flag on the destination pipe before the second) and by
``barrier ALL``. Each pipe carries a vector clock; ``set_flag`` snapshots the source pipe's
clock into the flag and ``wait_flag`` joins it into the destination's. An access that overlaps
an earlier access of another pipe (one of them a write) that does not happen-before it is a
race. The check is logical, not timed, so it finds races that happen not to corrupt data in
this particular schedule, and it gives the same verdict in timing and functional mode.

GM accesses are checked within a unit only; cross-core GM ordering is not modelled here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from hw.davinci.decode import Kind, executes_at_issue
from hw.errors import RaceError
from isa.davinci import Pipe, Region

_PIPES = len(Pipe)
_PAGE_SHIFT = 16  # shadow memory is bucketed in 64 KiB pages so a check only sees neighbours
_PRUNE_AT = 32

# An entry of the shadow memory: (start, stop, is_write) -> (epoch of the access, instruction)
_Entries = dict[tuple[int, int, bool], tuple[int, int]]


class RaceDetector:
    """Happens-before bookkeeping for the pipes of one core unit.

    ``describe(index)`` renders an instruction (line and text) for error messages. The shadow
    memory keeps, per 64 KiB page and pipe, the latest access to each distinct region: a later
    access to the same region by the same pipe subsumes the earlier one, which keeps checks
    short on loops that reuse a few buffers.
    """

    def __init__(self, describe: Callable[[int], str]) -> None:
        self._describe = describe
        self._clock = [[0] * _PIPES for _ in range(_PIPES)]
        self._shadow: dict[tuple[int, int], list[_Entries | None]] = {}

    def access(self, pipe: Pipe, index: int, reads: tuple[Region, ...],
               writes: tuple[Region, ...]) -> None:
        """Record one instruction's accesses, raising RaceError on an unordered overlap."""
        clock = self._clock[pipe]
        clock[pipe] += 1
        epoch = clock[pipe]
        for region in reads:
            self._visit(pipe, index, clock, epoch, region, False)
        for region in writes:
            self._visit(pipe, index, clock, epoch, region, True)

    def _visit(self, pipe: Pipe, index: int, clock: list[int], epoch: int, region: Region,
               write: bool) -> None:
        start, stop = region.start, region.stop
        for page in range(start >> _PAGE_SHIFT, ((stop - 1) >> _PAGE_SHIFT) + 1):
            slot = self._shadow.get((region.space, page))
            if slot is None:
                slot = self._shadow[region.space, page] = [None] * _PIPES
            for other, entries in enumerate(slot):
                if entries is None or other == pipe:
                    continue
                known = clock[other]
                for (e_start, e_stop, e_write), (e_epoch, e_index) in entries.items():
                    if e_epoch > known and (write or e_write) and e_start < stop \
                            and start < e_stop:
                        self._report(Pipe(other), e_index, e_write, pipe, index, write,
                                     region, max(e_start, start), min(e_stop, stop))
            own = slot[pipe]
            if own is None:
                own = slot[pipe] = {}
            own[start, stop, write] = (epoch, index)
            if len(own) > _PRUNE_AT:
                self._prune(pipe, own)

    def _report(self, first: Pipe, first_index: int, first_write: bool, second: Pipe,
                second_index: int, second_write: bool, region: Region, lo: int,
                hi: int) -> None:
        # Name the pair in program order: the flag must go from the earlier instruction's pipe
        # to the later one's, whichever happened to run first in this schedule.
        if second_index < first_index:
            first, first_index, first_write, second, second_index, second_write = (
                second, second_index, second_write, first, first_index, first_write)
        kinds = ("write" if first_write else "read", "write" if second_write else "read")
        raise RaceError(
            f"race on {region.space.name}[{lo:#x}:{hi:#x}]: "
            f"{first.name} {kinds[0]} by {self._describe(first_index)} and "
            f"{second.name} {kinds[1]} by {self._describe(second_index)} are not ordered by "
            f"any flag (set_flag {first.name} -> {second.name} after the first and wait_flag "
            f"before the second would order them)"
        )

    def _prune(self, pipe: Pipe, entries: _Entries) -> None:
        # An access every other pipe already knows about can never race again.
        floor = min(self._clock[other][pipe] for other in range(_PIPES) if other != pipe)
        for key in [k for k, (epoch, _) in entries.items() if epoch <= floor]:
            del entries[key]

    def snapshot(self, pipe: Pipe) -> tuple[int, ...]:
        """The source pipe's clock, carried by a flag it sets."""
        return tuple(self._clock[pipe])

    def join(self, pipe: Pipe, snapshot: tuple[int, ...]) -> None:
        """A wait on ``pipe`` that consumed a flag carrying ``snapshot``."""
        clock = self._clock[pipe]
        for i, value in enumerate(snapshot):
            if value > clock[i]:
                clock[i] = value

    def join_all(self) -> None:
        """``barrier ALL``: every pipe now knows everything every pipe did."""
        merged = [max(column) for column in zip(*self._clock, strict=True)]
        self._clock = [list(merged) for _ in range(_PIPES)]


def check_stream(decoded: Sequence[Any], describe: Callable[[int], str]) -> None:
    """Check one unit's stream for races without timing it (the fast engine's check).

    Each pipe runs its instructions in program order; a ``wait_flag`` waits for its flag's
    ``set_flag`` and ``barrier ALL`` for every pipe to drain, exactly the orderings the timed
    engine respects, so the verdict is the timed engine's (`RaceDetector` is order-blind: a
    conflicting pair is found by whichever access comes second). A stream that deadlocks is
    checked up to the deadlock; the timing engine reports the deadlock itself.
    """
    detector = RaceDetector(describe)
    queues: dict[Pipe, deque] = {}
    flags: dict[tuple[int, ...], tuple[int, ...]] = {}

    def drain() -> bool:
        progress = True
        while progress:
            progress = False
            for pipe, queue in queues.items():
                while queue:
                    index, d = queue[0]
                    if d.kind is Kind.WAIT_FLAG:
                        if d.flag not in flags:
                            break
                        detector.join(pipe, flags.pop(d.flag))
                    elif d.kind is Kind.SET_FLAG:
                        if d.flag in flags:
                            break  # the timed engine reports a flag set twice
                        flags[d.flag] = detector.snapshot(pipe)
                    elif d.kind is Kind.WORK:
                        detector.access(pipe, index, d.reads, d.writes)
                    queue.popleft()
                    progress = True
        return not any(queues.values())

    for index, d in enumerate(decoded):
        if d.kind is Kind.BARRIER_ALL:
            if not drain():
                return
            detector.join_all()
        elif not executes_at_issue(d):
            queues.setdefault(d.pipe, deque()).append((index, d))
    drain()
