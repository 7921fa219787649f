"""The per-layer and top-kernel tables: FLOPs, bytes per memory level, arithmetic intensity,
cycles, share of time and what bounds each layer.

The bound compares the execution time (launch excluded) with the time each roof alone would
need: the compute time at peak and, per memory level, its bytes at that level's bandwidth.
If the largest of these is under `LATENCY_FRACTION` of the execution time, no roof explains
the time and the layer is "latency" bound (pipeline fill, flag waits, DMA latency, too little
parallel work); otherwise the largest names the bound: "compute" or "memory (LEVEL)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hw.results import KernelRecord, RunResult
from reports.ceilings import Ceilings
from reports.roofline import execution_seconds

LATENCY_FRACTION = 0.5
"""A layer whose tightest roof accounts for less than this share of its time is latency bound."""


def bound(flops: int, level_bytes: dict[str, int], seconds: float,
          ceilings: Ceilings) -> str:
    """"compute", "memory (LEVEL)" or "latency" (see the module docstring)."""
    if seconds <= 0:
        return "latency"
    times = {"compute": flops / ceilings.peak_flops}
    for m in ceilings.memory:
        times[f"memory ({m.name})"] = level_bytes.get(m.name, 0) / m.bytes_per_s
    name, limit = max(times.items(), key=lambda item: item[1])
    return name if limit >= LATENCY_FRACTION * seconds else "latency"


@dataclass(frozen=True)
class LayerRow:
    """One layer (the kernels that came from it): the figures of ``RunResult.layers()`` plus
    bytes per memory level, intensity and bound."""

    name: str
    op: str
    kernels: int
    flops: int
    cycles: int  # incl. launch overhead, as RunResult.layers()
    seconds: float  # incl. launch overhead
    execution_seconds: float  # launch excluded
    share: float  # of the run's time
    roofline_seconds: float
    level_bytes: dict[str, int]
    intensity: float  # FLOPs per byte at the off-chip level (0 if it moved none)
    bound: str
    utilization: dict[str, float] = field(default_factory=dict)
    origin: tuple[str, ...] = ()


def _row(name: str, kernels: Sequence[KernelRecord], total_s: float, ceilings: Ceilings,
         utilization: dict[str, float]) -> LayerRow:
    flops = sum(k.flops for k in kernels)
    seconds = sum(k.seconds for k in kernels)
    exec_s = sum(execution_seconds(k) for k in kernels)
    level_bytes = {m.name: sum(m.bytes_of(k.run) for k in kernels) for m in ceilings.memory}
    off_chip = level_bytes.get(ceilings.memory[0].name, 0) if ceilings.memory else 0
    origin = tuple(dict.fromkeys(o for k in kernels for o in k.origin))
    return LayerRow(
        name=name, op=kernels[0].op, kernels=len(kernels), flops=flops,
        cycles=sum(k.cycles for k in kernels), seconds=seconds, execution_seconds=exec_s,
        share=seconds / total_s if total_s else 0.0,
        roofline_seconds=sum(k.roofline_seconds for k in kernels), level_bytes=level_bytes,
        intensity=flops / off_chip if off_chip else 0.0,
        bound=bound(flops, level_bytes, exec_s, ceilings), utilization=utilization,
        origin=origin)


def layer_rows(result: RunResult, ceilings: Ceilings) -> list[LayerRow]:
    """One row per layer in run order; utilisation as ``RunResult.layers()`` reports it."""
    groups: dict[str, list[KernelRecord]] = {}
    for k in result.kernels:
        groups.setdefault(k.layer, []).append(k)
    util = {row["name"]: row["utilization"] for row in result.layers()}
    return [_row(name, ks, result.seconds, ceilings, util.get(name, {}))
            for name, ks in groups.items()]


def kernel_rows(result: RunResult, ceilings: Ceilings) -> list[LayerRow]:
    """One row per kernel (named by kernel), in run order."""
    return [_row(k.name, [k], result.seconds, ceilings, k.utilization())
            for k in result.kernels]


def top(rows: Sequence[LayerRow], n: int = 10) -> list[LayerRow]:
    """The ``n`` rows that took the most time."""
    return sorted(rows, key=lambda r: -r.seconds)[:n]


def bound_shares(rows: Sequence[LayerRow]) -> dict[str, float]:
    """Share of the run's time in layers of each bound, largest first."""
    shares: dict[str, float] = {}
    for r in rows:
        shares[r.bound] = shares.get(r.bound, 0.0) + r.share
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


CSV_COLUMNS = ("layer", "op", "kernels", "flops", "cycles", "seconds", "execution_seconds",
               "share", "roofline_seconds", "intensity_flop_per_byte", "bound")
"""The fixed leading columns of ``layers.csv``; ``bytes_<LEVEL>`` and ``util_<unit>`` follow."""


def csv_rows(rows: Sequence[LayerRow], ceilings: Ceilings) -> tuple[list[str], list[list]]:
    """(header, rows) for ``layers.csv``."""
    units = list(dict.fromkeys(u for r in rows for u in r.utilization))
    header = [*CSV_COLUMNS, *(f"bytes_{m.name}" for m in ceilings.memory),
              *(f"util_{u}" for u in units)]
    body = [[r.name, r.op, r.kernels, r.flops, r.cycles, repr(r.seconds),
             repr(r.execution_seconds), repr(r.share), repr(r.roofline_seconds),
             repr(r.intensity), r.bound, *(r.level_bytes[m.name] for m in ceilings.memory),
             *(repr(r.utilization.get(u, 0.0)) for u in units)] for r in rows]
    return header, body
