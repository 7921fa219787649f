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

from collections.abc import Callable
from dataclasses import dataclass

from hw.errors import RaceError
from isa.davinci import Pipe, Region

_PIPES = len(Pipe)
_PRUNE_AT = 512


@dataclass(slots=True)
class _Access:
    epoch: int
    start: int
    stop: int
    write: bool
    index: int


class RaceDetector:
    """Happens-before bookkeeping for the pipes of one core unit.

    ``describe(index)`` renders an instruction (line and text) for error messages.
    """

    def __init__(self, describe: Callable[[int], str]) -> None:
        self._describe = describe
        self._clock = [[0] * _PIPES for _ in range(_PIPES)]
        self._shadow: dict[int, list[list[_Access]]] = {}

    def access(self, pipe: Pipe, index: int, reads: tuple[Region, ...],
               writes: tuple[Region, ...]) -> None:
        """Record one instruction's accesses, raising RaceError on an unordered overlap."""
        clock = self._clock[pipe]
        clock[pipe] += 1
        epoch = clock[pipe]
        for region, write in [(r, False) for r in reads] + [(w, True) for w in writes]:
            per_pipe = self._shadow.get(region.space)
            if per_pipe is None:
                per_pipe = self._shadow[region.space] = [[] for _ in range(_PIPES)]
            self._check(pipe, index, clock, per_pipe, region, write)
            own = per_pipe[pipe]
            own.append(_Access(epoch, region.start, region.stop, write, index))
            if len(own) > _PRUNE_AT:
                self._prune(pipe, own)

    def _check(self, pipe: Pipe, index: int, clock: list[int], per_pipe: list[list[_Access]],
               region: Region, write: bool) -> None:
        for other, entries in enumerate(per_pipe):
            if other == pipe or not entries:
                continue
            known = clock[other]
            for earlier in reversed(entries):
                if earlier.epoch <= known:
                    break
                if (write or earlier.write) and earlier.start < region.stop \
                        and region.start < earlier.stop:
                    lo, hi = max(earlier.start, region.start), min(earlier.stop, region.stop)
                    kinds = ("write" if earlier.write else "read", "write" if write else "read")
                    raise RaceError(
                        f"race on {region.space.name}[{lo:#x}:{hi:#x}]: "
                        f"{Pipe(other).name} {kinds[0]} by {self._describe(earlier.index)} and "
                        f"{pipe.name} {kinds[1]} by {self._describe(index)} are not ordered by "
                        f"any flag (add set_flag {Pipe(other).name} -> {pipe.name} after the "
                        f"first and wait_flag before the second)"
                    )

    def _prune(self, pipe: Pipe, entries: list[_Access]) -> None:
        # An access every other pipe already knows about can never race again.
        floor = min(self._clock[other][pipe] for other in range(_PIPES) if other != pipe)
        entries[:] = [a for a in entries if a.epoch > floor]

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
