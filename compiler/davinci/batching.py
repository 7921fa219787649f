"""Batching small independent vector kernels into one launch.

A training step ends with hundreds of tiny element-wise kernels (each parameter's momentum and
weight update, batch-norm statistics bookkeeping) whose own work takes a fraction of the fixed
launch cost (~10 us, facts §10). Runtimes batch such work into one launch (multi-tensor
optimiser kernels); here consecutive kernels are merged when

- each runs on the vector side only (no Cube, MTE1 or FixPipe instruction) and its roofline
  work is shorter than a launch (its minimum GM traffic at HBM bandwidth), and
- no kernel in the batch touches GM bytes another one writes: the chip has no cross-core
  synchronisation, so a kernel of the batch may not read a result another core produces in the
  same launch.

Every core runs its parts' streams one after the other, separated by ``barrier ALL`` (all
pipes drained, transfers landed), so parts reusing the same UB buffers never overlap. Runs on
the virtual GM layout, before the liveness plan: batched kernels then share a lifetime, so
their buffers never share bytes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from compiler.davinci.gm_plan import gm_accesses
from compiler.executable import KernelLaunch
from isa.davinci import Barrier, Kernel, Pipe, Stream

_CUBE_SIDE = frozenset({Pipe.M, Pipe.MTE1, Pipe.FIX})
MAX_BATCH = 64
"""Kernels per batch at most: keeps a batched launch's report row readable."""


def batch_launches(launches: Sequence[KernelLaunch], target) -> list[KernelLaunch]:
    """``launches`` with runs of small independent vector kernels merged (order kept)."""
    out: list[KernelLaunch] = []
    group: list[KernelLaunch] = []
    reads: list[tuple[int, int]] = []
    writes: list[tuple[int, int]] = []
    for launch in launches:
        if not _small_vector(launch, target):
            out.extend(_flush(group))
            out.append(launch)
            group, reads, writes = [], [], []
            continue
        r, w = _accesses(launch)
        if group and (len(group) >= MAX_BATCH or _overlaps(w, reads + writes)
                      or _overlaps(r, writes)):
            out.extend(_flush(group))
            group, reads, writes = [], [], []
        group.append(launch)
        reads += r
        writes += w
    out.extend(_flush(group))
    return out


def _small_vector(launch: KernelLaunch, target) -> bool:
    if launch.min_bytes / target.hbm_bytes_per_cycle >= target.kernel_launch_cycles:
        return False
    return not any(ins.pipe in _CUBE_SIDE for core in launch.program.cores
                   for stream in core.values() for ins in stream.instructions)


def _accesses(launch: KernelLaunch) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    reads: list[tuple[int, int]] = []
    writes: list[tuple[int, int]] = []
    for is_write, start, stop in gm_accesses(launch.program):
        (writes if is_write else reads).append((start, stop))
    return reads, writes


def _overlaps(these: list[tuple[int, int]], those: list[tuple[int, int]]) -> bool:
    """Whether any [start, stop) of ``these`` meets one of ``those``."""
    if not these or not those:
        return False
    spans: list[list[int]] = []
    for start, stop in sorted(those):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], stop)
        else:
            spans.append([start, stop])
    starts = [span[0] for span in spans]
    for start, stop in these:
        i = bisect.bisect_left(starts, stop) - 1  # the last span starting before ``stop``
        if i >= 0 and spans[i][1] > start:
            return True
    return False


def _flush(group: list[KernelLaunch]) -> list[KernelLaunch]:
    if len(group) <= 1:
        return list(group)
    return [_merged(group)]


def _merged(group: list[KernelLaunch]) -> KernelLaunch:
    width = max(len(k.program.cores) for k in group)
    cores = []
    for index in range(width):
        units: dict[str, list] = {}
        for launch in group:
            if index >= len(launch.program.cores):
                continue
            for unit, stream in launch.program.cores[index].items():
                part = units.setdefault(unit, [])
                if part:
                    part.append(Barrier(Pipe.ALL))
                part.extend(stream.instructions)
        cores.append({unit: Stream(tuple(instructions)) for unit, instructions in units.items()})
    return joined_launch(group, cores, "batched",
                         f"{len(group)} small independent vector kernels in one launch ("
                         + ", ".join(k.name for k in group) + ")")


def joined_launch(group: list[KernelLaunch], cores: list[dict[str, Stream]], op: str,
                  tiling: str) -> KernelLaunch:
    """The launch that runs ``group``'s kernels as ``cores`` (named after the first kernel,
    its origin, cost and values those of the whole group)."""
    first = group[0]
    name = f"{first.name}+{len(group) - 1}"
    return KernelLaunch(
        name=name, target=first.target, program=Kernel(name, tuple(cores)), layer=first.layer,
        op=op, origin=tuple(n for k in group for n in k.origin),
        flops=sum(k.flops for k in group), min_bytes=sum(k.min_bytes for k in group),
        inputs=tuple(dict.fromkeys(v for k in group for v in k.inputs)),
        outputs=tuple(dict.fromkeys(v for k in group for v in k.outputs)), tiling=tiling)
