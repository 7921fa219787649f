"""Global-memory planning by liveness: every value of a graph gets an offset in one GM arena.

The arena has four regions, laid out in this order, each starting on an aligned boundary:
constants (weights), graph inputs, graph outputs, and the workspace that holds the
intermediate values. Constants, inputs and outputs are live for the whole run and are simply
packed. Intermediates share the workspace: a value is live from the node that produces it to
the last node that reads it (inclusive, so a node's outputs never overlap its inputs: no
in-place reuse), and two values may share bytes only if their lifetimes are disjoint. Values
inside FUSED bodies never reach global memory (they stay on chip) and are not planned.

Placement is TensorFlow Lite's "greedy by size" best fit (Lee et al. 2019, "On-Device Neural
Net Inference with Mobile GPUs", section 3.2): intermediates are placed largest first, each at
the lowest-waste gap among already-placed values whose lifetimes overlap its own.

`plan_memory` plans a graph's values (sizes from a size function: an estimate of what a
target allocates); `pack_blocks` is the placement itself, over any blocks and lifetimes. The
lowerings use it for the GM their programs really address: the DaVinci lowering over the
buffers it allocated with kernel-index lifetimes (`compiler.davinci.gm_plan`), the SIMT
lowering over the graph's intermediates with its exact sizes (`compiler.simt.gm_plan`); the
result is `Executable.memory`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from framework import Graph, Node, TensorType, topological

from .errors import CompileError

REGIONS = ("constant", "input", "output", "workspace")
"""Arena regions, in address order."""

SizeFn = Callable[[TensorType], int]


@dataclass(frozen=True)
class Allocation:
    """Where one value lives: byte ``offset`` from the arena base, ``nbytes``, its layout tag,
    its region, and (for workspace values) its lifetime as node indices [start, end]."""

    offset: int
    nbytes: int
    layout: str
    region: str
    start: int = 0
    end: int = 0

    @property
    def stop(self) -> int:
        """One past the last byte."""
        return self.offset + self.nbytes


@dataclass(frozen=True)
class MemoryPlan:
    """A GM plan: ``allocations`` (value -> Allocation), ``region_offsets`` (region -> base
    offset), ``peak_bytes`` (arena size: all regions, workspace at its peak),
    ``workspace_bytes`` (the workspace region alone) and ``naive_bytes`` (every value in its
    own aligned buffer, nothing shared), the ``alignment`` in bytes, and ``order``: the node
    names in the topological order that workspace lifetimes index."""

    allocations: Mapping[str, Allocation]
    region_offsets: Mapping[str, int]
    peak_bytes: int
    workspace_bytes: int
    naive_bytes: int
    alignment: int
    order: tuple[str, ...] = field(default=())

    @property
    def saving(self) -> float:
        """Fraction of the naive footprint the plan saves (0 when nothing is shared)."""
        return 1.0 - self.peak_bytes / self.naive_bytes if self.naive_bytes else 0.0

    @property
    def naive_workspace_bytes(self) -> int:
        """Bytes the intermediates would take with no sharing."""
        return sum(a.nbytes for a in self.allocations.values() if a.region == "workspace")

    def region_bytes(self, region: str) -> int:
        """Bytes the values of one region take: the workspace at its peak, a whole-run region
        the sum of its values (its span when packed, as `pack_blocks` does)."""
        if region == "workspace":
            return self.workspace_bytes
        return sum(a.nbytes for a in self.allocations.values() if a.region == region)

    def figures(self) -> dict[str, int]:
        """The plan's headline byte counts (JSON-ready): ``peak_bytes`` planned against
        ``naive_bytes`` (nothing shared), the workspace at its peak and unshared, and the
        whole-run regions."""
        return {
            "peak_bytes": self.peak_bytes, "naive_bytes": self.naive_bytes,
            "workspace_bytes": self.workspace_bytes,
            "naive_workspace_bytes": self.naive_workspace_bytes,
            **{f"{region}_bytes": self.region_bytes(region) for region in REGIONS[:3]},
        }

    def summary(self) -> str:
        """One line: peak planned against naive, then the regions."""
        size = format_bytes
        return (f"peak {size(self.peak_bytes)} planned vs {size(self.naive_bytes)} naive "
                f"(constants {size(self.region_bytes('constant'))}, inputs "
                f"{size(self.region_bytes('input'))}, outputs {size(self.region_bytes('output'))},"
                f" workspace {size(self.workspace_bytes)} shared vs "
                f"{size(self.naive_workspace_bytes)} naive)")

    def conflicts(self) -> list[tuple[str, str]]:
        """Pairs of values whose bytes overlap while both are live (empty for a valid plan).

        Whole-run values (constants, inputs, outputs) are live throughout, so they may not
        overlap anything. Also reports misaligned offsets as (value, "alignment").
        """
        bad = [(name, "alignment") for name, a in self.allocations.items()
               if a.offset % self.alignment]
        items = sorted(self.allocations.items(), key=lambda kv: kv[1].offset)
        for i, (name_a, a) in enumerate(items):
            for name_b, b in items[i + 1:]:
                if b.offset >= a.stop:
                    break
                if b.nbytes == 0 or a.nbytes == 0:
                    continue
                whole_run = a.region != "workspace" or b.region != "workspace"
                if whole_run or (a.start <= b.end and b.start <= a.end):
                    bad.append((name_a, name_b))
        return bad

    def check(self) -> MemoryPlan:
        """Return self, or raise CompileError naming the first conflicting pair."""
        bad = self.conflicts()
        if bad:
            raise CompileError(f"memory plan: {len(bad)} conflicts, first {bad[0]}")
        return self


def format_bytes(nbytes: int) -> str:
    """``nbytes`` in binary units with one decimal (``12.3 MiB``)."""
    value, unit = float(nbytes), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _lifetimes(graph: Graph) -> tuple[tuple[str, ...], dict[str, tuple[int, int]]]:
    """Topological node order and, per node-produced value, [defining index, last use]."""
    order = list(topological(graph))
    return tuple(n.name for n in order), value_lifetimes(order)


def value_lifetimes(order: Sequence[Node]) -> dict[str, tuple[int, int]]:
    """Per value the nodes in ``order`` produce: [index of its producer, index of its last
    reader] (inclusive)."""
    life: dict[str, tuple[int, int]] = {}
    for index, node in enumerate(order):
        for out in node.outputs:
            life[out] = (index, index)
        for value in node.inputs:
            if value in life:
                life[value] = (life[value][0], index)
    return life


def _best_fit(size: int, start: int, end: int, placed: list[tuple[int, int, int, int]]) -> int:
    """Lowest-waste offset for a block live over [start, end] among ``placed`` blocks
    (offset, stop, start, end); at the top of the arena if no gap fits."""
    busy = sorted((off, stop) for off, stop, s, e in placed if s <= end and start <= e)
    best, best_waste, cursor = None, None, 0
    for off, stop in busy:
        gap = off - cursor
        if gap >= size and (best_waste is None or gap - size < best_waste):
            best, best_waste = cursor, gap - size
        cursor = max(cursor, stop)
    return cursor if best is None else best


@dataclass(frozen=True)
class Block:
    """One buffer to place: its ``name``, ``nbytes``, layout tag, region and (for workspace
    blocks) its lifetime [start, end] as indices into some sequence of steps (graph nodes,
    kernels), inclusive at both ends."""

    name: str
    nbytes: int
    layout: str
    region: str
    start: int = 0
    end: int = 0


def pack_blocks(blocks: Sequence[Block], alignment: int = 512,
                order: tuple[str, ...] = ()) -> MemoryPlan:
    """Lay ``blocks`` out in one arena: the whole-run regions packed in `REGIONS` order, the
    workspace placed greedy by size (largest first, ties by lifetime, then by position in
    ``blocks``) at the best-fitting gap among blocks whose lifetimes overlap. Every block is
    ``alignment``-aligned and rounded up to it; ``order`` names the steps lifetimes index."""
    if alignment < 1:
        raise CompileError(f"plan_memory: alignment must be >= 1, got {alignment}")
    unknown = {b.region for b in blocks} - set(REGIONS)
    if unknown:
        raise CompileError(f"plan_memory: unknown regions {sorted(unknown)}")
    sized = [dataclasses.replace(b, nbytes=_align(b.nbytes, alignment)) for b in blocks]
    allocations: dict[str, Allocation] = {}
    region_offsets: dict[str, int] = {}
    cursor = 0
    for region in REGIONS[:3]:
        region_offsets[region] = cursor
        for b in sized:
            if b.region == region:
                allocations[b.name] = Allocation(cursor, b.nbytes, b.layout, region)
                cursor += b.nbytes
    base = region_offsets["workspace"] = cursor
    placed: list[tuple[int, int, int, int]] = []
    work = [b for b in sized if b.region == "workspace"]
    for b in sorted(work, key=lambda b: (-b.nbytes, b.start, b.end)):
        offset = _best_fit(b.nbytes, b.start, b.end, placed)
        placed.append((offset, offset + b.nbytes, b.start, b.end))
        allocations[b.name] = Allocation(base + offset, b.nbytes, b.layout, "workspace",
                                         b.start, b.end)
    workspace = max((stop for _, stop, _, _ in placed), default=0)
    return MemoryPlan(MappingProxyType(allocations), MappingProxyType(region_offsets),
                      base + workspace, workspace, sum(b.nbytes for b in sized), alignment,
                      order)


def plan_memory(graph: Graph, size_of: SizeFn | None = None, alignment: int = 512) -> MemoryPlan:
    """Plan ``graph``'s global memory. ``size_of`` maps a TensorType to its device bytes
    (default: ``TensorType.nbytes``; e.g. ``lambda t: device_nbytes(t, "float16")`` for padded
    device layouts). Every allocation is ``alignment``-aligned and rounded up to it."""
    if alignment < 1:
        raise CompileError(f"plan_memory: alignment must be >= 1, got {alignment}")
    size = size_of or (lambda t: t.nbytes)
    order, life = _lifetimes(graph)
    regions: dict[str, list[str]] = {
        "constant": list(graph.constants),
        "input": list(graph.inputs),
        "output": [v for v in dict.fromkeys(graph.outputs)
                   if v not in graph.constants and v not in graph.inputs],
    }
    whole_run = {v for names in regions.values() for v in names}
    regions["workspace"] = [v for v in life if v not in whole_run]
    blocks = [Block(v, size(graph.type_of(v)), graph.type_of(v).layout, region,
                    *(life[v] if region == "workspace" else (0, 0)))
              for region in REGIONS for v in regions[region]]
    return pack_blocks(blocks, alignment, order)
