"""Global-memory planning of a lowered DaVinci program by liveness, and the relocation that
applies the plan.

Lowering bump-allocates every GM buffer (graph values, constant images, kernel scratch) in a
virtual address space where no two buffers share a byte. Once every kernel exists, this module
reads which buffers each kernel touches (the GM regions of its instructions' ``reads()`` and
``writes()``), gives each buffer a lifetime [first kernel, last kernel] (inclusive: two buffers
one kernel touches never share bytes), lays one arena out with `pack_blocks` (greedy by size,
best fit) and rewrites every GM address of every kernel and placement.

Planning after lowering rather than from the graph means the sizes are exactly the bytes
lowering allocated (device dtype, NC1HWC0/fractal padding, relayouts, special constant
layouts), reshapes that alias their source extend the source's life through the accesses made
through them, and kernel-private scratch (`LoweringContext.workspace`) is live only during the
kernels that touch it.

Rules, each for correctness:

- constants (weights, compiler images, including images a kernel writes on device), graph
  inputs and graph outputs are whole-run: their own regions, never shared;
- a buffer some kernel reads before earlier kernels (or that kernel) wrote those bytes relies
  on GM's initial zeros (e.g. padding lanes no producer writes): it lives from kernel 0, so no
  earlier buffer leaves data in its bytes;
- a buffer's slot covers every byte any access of it reaches (a few vector kernels read whole
  blocks a little past a tensor's end, or start an unaligned row read a few bytes before
  it), so such reads never touch another live buffer. An access belongs to the buffer its
  start address lies in, or, when it starts in the gap between two virtual buffers (the
  lowering leaves a guard gap), to the nearer of the two.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

from compiler.executable import KernelLaunch
from compiler.memory_plan import Block, MemoryPlan, pack_blocks
from isa.davinci import Addr, Instruction, Kernel, Space, Stream

KINDS = ("constant", "input", "value", "scratch")
"""What a GM buffer holds: a constant image, a graph input, a graph value, kernel scratch."""

_REGION_OF_KIND = {"constant": "constant", "input": "input", "value": "workspace",
                   "scratch": "workspace"}


@dataclass(frozen=True)
class GmBuffer:
    """One bump allocation of the lowering: ``key`` (the placement that made it), its virtual
    ``offset`` and ``nbytes``, what it holds (`KINDS`) and its layout tag."""

    key: str
    offset: int
    nbytes: int
    kind: str
    layout: str


@dataclass
class _Usage:
    """What the kernels do to one buffer: first and last touching kernel, the furthest byte
    (from the buffer start) any access reaches, and the written bytes (merged intervals)
    until the buffer is wholly written or found to rely on initial zeros."""

    first: int = -1
    last: int = -1
    extent: int = 0
    head: int = 0  # bytes accesses reach before the buffer's start
    written: list[tuple[int, int]] = field(default_factory=list)
    complete: bool = False
    zero_init: bool = False


@cache
def _addr_fields(cls: type) -> tuple[str, ...]:
    """Names of the fields of an instruction class that hold addresses."""
    return tuple(f.name for f in dataclasses.fields(cls) if "Addr" in str(f.type))


def _touches_gm(ins: Instruction) -> bool:
    return any(getattr(ins, name).space is Space.GM for name in _addr_fields(type(ins))
               if getattr(ins, name) is not None)


def _unique_streams(kernel: Kernel) -> Iterator[Stream]:
    """Each distinct stream once (identical streams are shared between cores)."""
    seen: set[int] = set()
    for core in kernel.cores:
        for stream in core.values():
            if id(stream) not in seen:
                seen.add(id(stream))
                yield stream


def gm_accesses(kernel: Kernel) -> Iterator[tuple[bool, int, int]]:
    """(is_write, start, stop) of every GM region the kernel's instructions touch (an
    instruction object shared by several streams is looked at once)."""
    seen: set[int] = set()  # ids of instructions the kernel keeps alive
    for stream in _unique_streams(kernel):
        for ins in stream.instructions:
            if id(ins) in seen:
                continue
            seen.add(id(ins))
            yield from gm_regions(ins)


def gm_regions(ins: Instruction) -> tuple[tuple[bool, int, int], ...]:
    """(is_write, start, stop) of every GM region one instruction touches."""
    if not _touches_gm(ins):
        return ()
    return tuple((write, r.start, r.stop)
                 for write, group in ((False, ins.reads()), (True, ins.writes()))
                 for r in group if r.space is Space.GM)


def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching [start, stop) intervals joined."""
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def _covered(merged: list[tuple[int, int]], start: int, stop: int) -> bool:
    """Whether [start, stop) lies inside one interval of ``merged``."""
    index = bisect.bisect_right(merged, (start, float("inf"))) - 1
    return index >= 0 and merged[index][0] <= start and stop <= merged[index][1]


class _Tracker:
    """Walks the kernels in order and fills one `_Usage` per buffer."""

    def __init__(self, buffers: Sequence[GmBuffer]) -> None:
        self.buffers = buffers
        self.starts = [b.offset for b in buffers]
        self.ends = [b.offset + max(b.nbytes, 1) for b in buffers]
        self.usage = [_Usage() for _ in buffers]
        # whole-run buffers hold their contents from the start: no initialisation to check
        self.tracked = [b.kind in ("value", "scratch") for b in buffers]

    def owner(self, address: int) -> int:
        """Index of the buffer a virtual address belongs to: the one holding it, or in the
        gap between two buffers the nearer one (over-reads past an end, reads started
        before a start)."""
        index = max(0, bisect.bisect_right(self.starts, address) - 1)
        after = index + 1
        if address < self.starts[index]:
            return index  # before the first buffer
        if after < len(self.starts) and address >= self.ends[index] and \
                self.starts[after] - address < address - self.ends[index]:
            return after
        return index

    def kernel(self, index: int, kernel: Kernel) -> None:
        """Record the accesses of the ``index``-th kernel."""
        writes: dict[int, list[tuple[int, int]]] = {}
        reads: dict[int, list[tuple[int, int]]] = {}
        for is_write, start, stop in gm_accesses(kernel):
            b = self.owner(start)
            use, base = self.usage[b], self.starts[b]
            if use.first < 0:
                use.first = index
            use.last = index
            use.extent = max(use.extent, stop - base)
            use.head = max(use.head, base - start)
            if self.tracked[b] and not (use.complete or use.zero_init):
                (writes if is_write else reads).setdefault(b, []).append(
                    (start - base, stop - base))
        # a kernel's own writes count before its reads: kernels write what they read back
        # (partial sums), and none reads GM it overwrites later in the same launch
        for b, intervals in writes.items():
            use = self.usage[b]
            use.written = merge_intervals(use.written + intervals)
            use.complete = _covered(use.written, 0, self.buffers[b].nbytes)
        for b, intervals in reads.items():
            use, nbytes = self.usage[b], self.buffers[b].nbytes
            if use.complete:
                continue
            use.zero_init = any(not _covered(use.written, s, min(e, nbytes))
                                for s, e in intervals if s < min(e, nbytes))


def _head_bytes(use: _Usage, alignment: int) -> int:
    """Room kept before a buffer's data for reads that start before it, in whole alignment
    units so the data keeps its alignment."""
    return -(-use.head // alignment) * alignment


def _blocks(buffers: Sequence[GmBuffer], usage: Sequence[_Usage], outputs: set[int],
            last_kernel: int, alignment: int) -> list[Block]:
    """One planning block per buffer, sized to cover every access."""
    blocks = []
    for index, (buf, use) in enumerate(zip(buffers, usage, strict=True)):
        region = _REGION_OF_KIND[buf.kind]
        if region == "workspace" and index in outputs:
            region = "output"
        nbytes = _head_bytes(use, alignment) + max(buf.nbytes, use.extent, 1)
        if region != "workspace":
            blocks.append(Block(buf.key, nbytes, buf.layout, region))
            continue
        start = 0 if use.zero_init else max(use.first, 0)
        end = max(use.last, start) if use.first >= 0 else 0
        blocks.append(Block(buf.key, nbytes, buf.layout, region, start, min(end, last_kernel)))
    return blocks


def plan_gm(buffers: Sequence[GmBuffer], launches: Sequence[KernelLaunch],
            output_offsets: Iterable[int], alignment: int
            ) -> tuple[MemoryPlan, Callable[[int], int]]:
    """Plan the buffers of a lowered program (``buffers`` in virtual-address order, as the
    bump allocator made them) over the kernels ``launches`` run in order. Returns the plan
    (lifetimes index kernels) and the map from a virtual GM address to its planned one."""
    tracker = _Tracker(buffers)
    for index, launch in enumerate(launches):
        tracker.kernel(index, launch.program)
    outputs = {tracker.owner(offset) for offset in output_offsets}
    blocks = _blocks(buffers, tracker.usage, outputs, max(len(launches) - 1, 0), alignment)
    plan = pack_blocks(blocks, alignment, tuple(k.name for k in launches)).check()
    starts = tracker.starts
    planned = [plan.allocations[b.key].offset + _head_bytes(use, alignment)
               for b, use in zip(buffers, tracker.usage, strict=True)]

    def translate(address: int) -> int:
        if not buffers:
            return address
        b = tracker.owner(address)
        return planned[b] + address - starts[b]

    return plan, translate


def _relocate_instruction(ins: Instruction, translate: Callable[[int], int]) -> Instruction:
    changes = {}
    for name in _addr_fields(type(ins)):
        addr = getattr(ins, name)
        if addr is not None and addr.space is Space.GM:
            changes[name] = Addr(Space.GM, translate(addr.offset))
    return dataclasses.replace(ins, **changes) if changes else ins


def relocate_kernel(kernel: Kernel, translate: Callable[[int], int]) -> Kernel:
    """``kernel`` with every GM address mapped by ``translate`` (shared streams stay shared).

    Each buffer moves as a whole and the buffers one kernel touches are live together, so
    they do not overlap after planning either: streams keep their ``shape``."""
    done: dict[int, Stream] = {}
    moved: dict[int, Instruction] = {}  # by id: an instruction shared by streams stays shared

    def instruction(i: Instruction) -> Instruction:
        out = moved.get(id(i))
        if out is None:
            out = moved[id(i)] = _relocate_instruction(i, translate)
        return out

    def stream(s: Stream) -> Stream:
        if id(s) not in done:
            done[id(s)] = dataclasses.replace(s, instructions=tuple(
                instruction(i) for i in s.instructions))
        return done[id(s)]

    cores = tuple({unit: stream(s) for unit, s in core.items()} for core in kernel.cores)
    decls = [tuple(dataclasses.replace(d, addr=Addr(Space.GM, translate(d.addr.offset)))
                   if d.addr.space is Space.GM else d for d in group)
             for group in (kernel.inputs, kernel.outputs)]
    return dataclasses.replace(kernel, cores=cores, inputs=decls[0], outputs=decls[1])
