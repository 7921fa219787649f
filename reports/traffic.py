"""Memory traffic: bytes read and written per memory level and per data path over the run,
and the bandwidth each layer achieved at each roofline level (bytes over the layer's
execution time, launch excluded), as a share of that level's peak."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from hw.results import RunResult
from reports.ceilings import Ceilings
from reports.plots import colours, new_figure, si, style
from reports.tables import LayerRow

# Levels from off-chip inwards, for ordering (DaVinci then GPU names); others follow.
_LEVEL_ORDER = ("hbm", "dram", "gm", "l2", "l1", "shared", "l0a", "l0b", "l0c", "ub", "bt",
                "fb")


LEVEL_NOTES = {
    "hbm": "off-chip HBM: L2 misses (whole lines) and writes",
    "dram": "off-chip DRAM: L2 misses and write-backs",
    "gm": "global-memory accesses of the cores; every byte crosses the L2",
    "l2": "L2 accesses of the SMs",
    "l1": "on-chip L1 buffer (DaVinci) or L1 cache hits (GPU)",
    "shared": "shared memory",
    "l0a": "Cube input A buffer", "l0b": "Cube input B buffer",
    "l0c": "Cube accumulator buffer", "ub": "Vector unified buffer",
    "bt": "bias table", "fb": "FixPipe buffer",
}
"""What each level's byte counters count, for the report's table."""


@dataclass(frozen=True)
class LevelTraffic:
    """Bytes read from and written to one memory level over the run."""

    level: str
    read_bytes: int
    written_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.read_bytes + self.written_bytes


def level_traffic(result: RunResult) -> list[LevelTraffic]:
    """Per memory level (``KernelRun.bytes_read``/``bytes_written`` keys), off-chip first."""
    read: Counter = Counter()
    written: Counter = Counter()
    for k in result.kernels:
        read.update(k.run.bytes_read)
        written.update(k.run.bytes_written)
    names = set(read) | set(written)
    order = {name: i for i, name in enumerate(_LEVEL_ORDER)}
    return [LevelTraffic(n, int(read[n]), int(written[n]))
            for n in sorted(names, key=lambda n: (order.get(n, len(order)), n))]


def path_traffic(result: RunResult) -> dict[str, int]:
    """Bytes per data path (``KernelRun.bytes_by_path``), largest first."""
    total: Counter = Counter()
    for k in result.kernels:
        total.update(k.run.bytes_by_path)
    return {p: int(n) for p, n in sorted(total.items(), key=lambda item: -item[1])}


def achieved_bandwidth(row: LayerRow, ceilings: Ceilings) -> dict[str, float]:
    """Level name -> bytes/s the layer achieved there (0 for a layer with no time)."""
    seconds = row.execution_seconds
    return {m.name: (row.level_bytes[m.name] / seconds if seconds else 0.0)
            for m in ceilings.memory}


def traffic_figure(levels: Sequence[LevelTraffic], rows: Sequence[LayerRow],
                   ceilings: Ceilings, title: str) -> Figure:
    """Left: bytes per level, read and written. Right: each layer's achieved bandwidth per
    roofline level as a share of the level's peak, bars as wide as the layer's time."""
    with style():
        fig, (left, right) = new_figure(10.0, 3.8, 1, 2, width_ratios=(1, 2.2))
        names = [lv.level for lv in levels][::-1]
        reads = [lv.read_bytes for lv in levels][::-1]
        writes = [lv.written_bytes for lv in levels][::-1]
        left.barh(names, [r / 1e6 for r in reads], color="#0072B2", label="read")
        left.barh(names, [w / 1e6 for w in writes], left=[r / 1e6 for r in reads],
                  color="#E69F00", label="written")
        left.set_xlabel("MB over the run")
        left.set_title("traffic per level")
        left.legend(loc="lower right")
        for y, (r, w) in enumerate(zip(reads, writes, strict=True)):
            left.annotate(si(r + w, "B"), ((r + w) / 1e6, y), xytext=(3, 0),
                          textcoords="offset points", va="center", fontsize=7)
        left.margins(x=0.3)
        level_colours = colours(m.name for m in ceilings.memory)
        edges = [0.0]
        for row in rows:
            edges.append(edges[-1] + 1e3 * row.seconds)
        achieved = [achieved_bandwidth(row, ceilings) for row in rows]
        for m in ceilings.memory:
            right.stairs([100 * a[m.name] / m.bytes_per_s for a in achieved], edges,
                         color=level_colours[m.name], lw=1.4,
                         label=f"{m.name} (peak {si(m.bytes_per_s, 'B/s')})")
        start = edges[-1] / 1e3
        right.set_ylim(0, 100)
        right.set_xlim(0, 1e3 * start if start else 1)
        right.set_xlabel("time through the run (ms); one step per layer")
        right.set_ylabel("achieved bandwidth, % of peak")
        right.set_title("bandwidth per layer (launch excluded)")
        right.grid(True, alpha=0.3)
        right.legend(loc="upper right", ncols=2)
        fig.suptitle(title)
    return fig
