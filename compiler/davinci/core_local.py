"""One launch for consecutive kernels whose cores never exchange data.

A kernel launch costs a fixed ~10 us (facts §10) and ends with every core waiting for the
slowest. When, over a run of consecutive kernels, each unit reads only GM bytes that no other
unit of the run writes, and writes bytes no other unit touches, nothing has to travel between
cores: every unit can run its parts back to back in one launch. Each unit's parts are joined
without their flags and the flags are planned again over the whole (flags.py): a part's loads
then start as soon as the bytes they overwrite are free, while the previous part's Cube work
and stores finish, and a later part reads what the unit wrote only once it has landed. The
batch-parallel schedule gives such runs: with the batch a multiple of the core count and every
kernel splitting its work by image (conv_tiling's ``image_parallel``), core c computes its own
images through the whole network, and the network is one launch.

A "unit" is a core of a coupled chip, or one of the cube/vector units of a separated core: a
vector unit may not read what the cube unit of its core wrote in an earlier part, since nothing
orders the two across parts.

Runs on the virtual GM layout, before the liveness plan: merged kernels then share a lifetime,
so no buffer of a run reuses another's bytes (a core running ahead would overwrite what a
slower core still reads).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from compiler.davinci.batching import joined_launch
from compiler.davinci.builder import shared_plan
from compiler.davinci.flags import FlagPlan
from compiler.davinci.gm_plan import gm_regions, merge_intervals
from compiler.executable import KernelLaunch
from isa.davinci import Barrier, Instruction, Kernel, SetFlag, Stream, WaitFlag

Owner = tuple[int, str]  # (core index, unit name)
Spans = list[tuple[int, int]]  # sorted, merged [start, stop)


def merge_core_local(launches: Sequence[KernelLaunch], event_ids: int,
                     territory: Callable[[int], int]) -> list[KernelLaunch]:
    """``launches`` with every maximal run of core-local kernels merged into one (order
    kept). A kernel joins the run before it when none of its units reads bytes another unit
    of the run wrote, or writes bytes another unit of the run read or wrote. ``event_ids``
    and ``territory`` are what flag planning needs (`flags.flag_shape`)."""
    out: list[KernelLaunch] = []
    group: list[KernelLaunch] = []
    state = _RunAccesses()
    memo: dict[int, tuple] = {}  # the launches keep the instructions (and their ids) alive
    for launch in launches:
        reads, writes = _unit_accesses(launch.program, memo)
        if group and not state.admits(reads, writes):
            out.append(_merged(group, event_ids, territory))
            group, state = [], _RunAccesses()
        group.append(launch)
        state.add(reads, writes)
    if group:
        out.append(_merged(group, event_ids, territory))
    return out


class _RunAccesses:
    """Which unit read and which wrote each GM byte of a run."""

    def __init__(self) -> None:
        self.reads = _Owners()
        self.writes = _Owners()

    def admits(self, reads: dict[Owner, Spans], writes: dict[Owner, Spans]) -> bool:
        for owner, spans in writes.items():
            for start, stop in spans:
                if self.writes.others(start, stop, owner) or \
                        self.reads.others(start, stop, owner):
                    return False
        return not any(self.writes.others(start, stop, owner)
                       for owner, spans in reads.items() for start, stop in spans)

    def add(self, reads: dict[Owner, Spans], writes: dict[Owner, Spans]) -> None:
        for table, accesses in ((self.reads, reads), (self.writes, writes)):
            for owner, spans in accesses.items():
                for start, stop in spans:
                    table.add(start, stop, owner)


_MANY = ("many", "")  # a segment touched by several units (differs from every Owner)


class _Owners:
    """Disjoint sorted segments of GM, each with the one unit that touched it or `_MANY`."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.stops: list[int] = []
        self.owners: list[Owner] = []

    def others(self, start: int, stop: int, owner: Owner) -> bool:
        """Whether a unit other than ``owner`` touched a byte of [start, stop)."""
        i = max(bisect.bisect_right(self.starts, start) - 1, 0)
        while i < len(self.starts) and self.starts[i] < stop:
            if self.stops[i] > start and self.owners[i] != owner:
                return True
            i += 1
        return False

    def add(self, start: int, stop: int, owner: Owner) -> None:
        self._split(start)
        self._split(stop)
        i = j = bisect.bisect_left(self.starts, start)
        segments: list[tuple[int, int, Owner]] = []  # what replaces segments i..j-1
        at = start
        while j < len(self.starts) and self.starts[j] < stop:
            if self.starts[j] > at:  # a gap nobody touched yet
                segments.append((at, self.starts[j], owner))
            shared = owner if self.owners[j] == owner else _MANY
            segments.append((self.starts[j], self.stops[j], shared))
            at = self.stops[j]
            j += 1
        if at < stop:
            segments.append((at, stop, owner))
        self.starts[i:j] = [segment[0] for segment in segments]
        self.stops[i:j] = [segment[1] for segment in segments]
        self.owners[i:j] = [segment[2] for segment in segments]

    def _split(self, at: int) -> None:
        """Cut the segment that holds ``at`` inside it in two."""
        i = bisect.bisect_right(self.starts, at) - 1
        if i >= 0 and self.starts[i] < at < self.stops[i]:
            self.starts.insert(i + 1, at)
            self.stops.insert(i + 1, self.stops[i])
            self.owners.insert(i + 1, self.owners[i])
            self.stops[i] = at


def _unit_accesses(kernel: Kernel, memo: dict[int, tuple]
                   ) -> tuple[dict[Owner, Spans], dict[Owner, Spans]]:
    """Per unit, the GM spans its stream reads and writes (``memo``: each instruction
    object's GM regions by id, for instructions several streams share)."""
    reads: dict[Owner, Spans] = {}
    writes: dict[Owner, Spans] = {}
    known: dict[int, tuple[Spans, Spans]] = {}  # by stream id: streams shared by cores
    for index, core in enumerate(kernel.cores):
        for unit, stream in core.items():
            spans = known.get(id(stream))
            if spans is None:
                spans = known[id(stream)] = _stream_accesses(stream, memo)
            reads[(index, unit)], writes[(index, unit)] = spans
    return reads, writes


def _stream_accesses(stream: Stream, memo: dict[int, tuple]) -> tuple[Spans, Spans]:
    reads: Spans = []
    writes: Spans = []
    for ins in stream.instructions:
        regions = memo.get(id(ins))
        if regions is None:
            regions = memo[id(ins)] = gm_regions(ins)
        for is_write, start, stop in regions:
            (writes if is_write else reads).append((start, stop))
    return merge_intervals(reads), merge_intervals(writes)


def _merged(group: list[KernelLaunch], event_ids: int,
            territory: Callable[[int], int]) -> KernelLaunch:
    if len(group) == 1:
        return group[0]
    width = max(len(k.program.cores) for k in group)
    plans: dict[tuple, tuple[FlagPlan, int]] = {}
    memo: dict[int, tuple] = {}
    cores = []
    for index in range(width):
        parts: dict[str, list[Instruction]] = {}
        for launch in group:
            if index < len(launch.program.cores):
                for unit, stream in launch.program.cores[index].items():
                    parts.setdefault(unit, []).extend(
                        i for i in stream.instructions if type(i) not in _SYNC)
        cores.append({unit: _flagged(instructions, event_ids, territory, plans, memo)
                      for unit, instructions in parts.items()})
    return joined_launch(group, cores, "merged",
                         f"{len(group)} kernels whose cores exchange no data, in one launch:"
                         + "".join(f"\n  {k.name}: {k.tiling}" for k in group))


# what flag planning inserts (kernels are generated without synchronisation, flags.py)
_SYNC = (SetFlag, WaitFlag, Barrier)


def _flagged(instructions: list[Instruction], event_ids: int, territory: Callable[[int], int],
             plans: dict[tuple, tuple[FlagPlan, int]], memo: dict[int, tuple]) -> Stream:
    """The stream with its flags, planned once per shape (as `KernelBuilder.build` does)."""
    plan, shape = shared_plan(instructions, event_ids, territory, plans, memo)
    return Stream(tuple(plan.apply(instructions)), shape=shape)
