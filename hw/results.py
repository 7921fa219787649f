"""RunResult: the typed record of a whole model run, built from per-kernel records.

hw knows nothing of graphs, so the caller (archsim) attaches to each kernel's `KernelRun` the
metadata it needs for reports: the layer it came from, its op, and its analytic cost (FLOPs and
the minimum bytes it must move), from which the roofline bound is computed on this chip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hw.simt.stats import GpuKernelRun
from hw.stats import KernelRun

# Reported unit name -> engine pipe name (DaVinci).
DAVINCI_UNITS = {"cube": "M", "vector": "V", "scalar": "S", "mte1": "MTE1", "mte2": "MTE2",
                 "mte3": "MTE3", "fixpipe": "FIX"}
# Reported unit name -> engine pipe name (SIMT GPU: sub-core pipes, then chip-wide queues).
GPU_UNITS = {"tensor": "tensor", "fp32": "fp32", "fp16": "fp16", "int": "int", "sfu": "sfu",
             "lsu": "lsu", "l1tex": "l1tex", "l2": "l2", "dram": "dram"}


@dataclass(frozen=True)
class KernelRecord:
    """One kernel launch: its run on the chip and where it came from."""

    name: str
    layer: str
    op: str
    origin: tuple[str, ...]
    flops: int
    min_bytes: int
    roofline_seconds: float
    run: KernelRun

    @property
    def seconds(self) -> float:
        return self.run.seconds

    @property
    def cycles(self) -> int:
        return self.run.total_cycles

    @property
    def hbm_bytes(self) -> int:
        level = "dram" if isinstance(self.run, GpuKernelRun) else "gm"
        return int(self.run.bytes_read.get(level, 0) + self.run.bytes_written.get(level, 0))

    def utilization(self) -> dict[str, float]:
        if isinstance(self.run, GpuKernelRun):
            return {unit: min(1.0, self.run.utilization(pipe)) for unit, pipe in GPU_UNITS.items()
                    if pipe in self.run.units_per_pipe}
        return self._davinci_shares(self.run.utilization)

    def chip_utilization(self) -> dict[str, float]:
        """Like `utilization`, but over every unit of the chip (DaVinci: a kernel on fewer
        cores counts the idle ones); the kernel's own shares on a GPU."""
        if isinstance(self.run, GpuKernelRun):
            return self.utilization()
        return self._davinci_shares(self.run.chip_utilization)

    def _davinci_shares(self, share: Callable[[str], float]) -> dict[str, float]:
        return {unit: share(pipe) for unit, pipe in DAVINCI_UNITS.items()
                if pipe in self.run.units_per_pipe or unit in ("cube", "vector", "scalar")}


def roofline_seconds(flops: int, min_bytes: int, peak_flops: float,
                     hbm_bytes_per_s: float) -> float:
    """The lower bound on a kernel's time: compute at peak or minimum traffic at full HBM
    bandwidth, whichever is longer."""
    return max(flops / peak_flops, min_bytes / hbm_bytes_per_s)


@dataclass(frozen=True)
class RunResult:
    """A model run on one chip: per-kernel records and their totals.

    ``outputs`` maps graph output names to arrays in functional mode. ``notes`` carries
    statements about how the numbers were obtained (e.g. sampling).
    """

    model: str
    hw: str
    batch: int
    mode: str
    freq_hz: float
    peak_flops: float
    hbm_bytes_per_s: float
    kernels: tuple[KernelRecord, ...]
    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return sum(k.cycles for k in self.kernels)

    @property
    def seconds(self) -> float:
        return sum(k.seconds for k in self.kernels)

    @property
    def flops(self) -> int:
        return sum(k.flops for k in self.kernels)

    @property
    def hbm_bytes(self) -> int:
        return sum(k.hbm_bytes for k in self.kernels)

    @property
    def roofline_seconds(self) -> float:
        return sum(k.roofline_seconds for k in self.kernels)

    @property
    def throughput_per_s(self) -> float:
        return self.batch / self.seconds if self.seconds else 0.0

    def utilization(self) -> dict[str, float]:
        """Busy share of each unit of the chip over the whole run (time-weighted over kernels,
        launches included; a kernel on fewer cores counts the idle ones)."""
        busy: Counter = Counter()
        for k in self.kernels:
            for unit, fraction in k.chip_utilization().items():
                busy[unit] += fraction * k.run.cycles
        total = sum(k.run.total_cycles for k in self.kernels) or 1
        return {unit: min(1.0, value / total) for unit, value in busy.items()}

    def layers(self) -> list[dict[str, Any]]:
        """Per-layer rows (kernels grouped by the layer they came from, in order)."""
        rows: dict[str, dict[str, Any]] = {}
        for k in self.kernels:
            row = rows.setdefault(k.layer, {"name": k.layer, "op": k.op, "cycles": 0,
                                            "flops": 0, "hbm_bytes": 0, "seconds": 0.0,
                                            "roofline_seconds": 0.0, "_busy": Counter()})
            row["cycles"] += k.cycles
            row["flops"] += k.flops
            row["hbm_bytes"] += k.hbm_bytes
            row["seconds"] += k.seconds
            row["roofline_seconds"] += k.roofline_seconds
            for unit, fraction in k.chip_utilization().items():
                row["_busy"][unit] += fraction * k.run.cycles
        out = []
        for row in rows.values():
            busy = row.pop("_busy")
            row["utilization"] = {u: min(1.0, v / max(row["cycles"], 1)) for u, v in busy.items()}
            out.append(row)
        return out

    def to_json(self) -> dict[str, Any]:
        """The keys DESIGN.md promises for ``archsim run --json``."""
        return {
            "model": self.model, "hw": self.hw, "batch": self.batch, "mode": self.mode,
            "cycles": self.cycles, "seconds": self.seconds,
            "throughput_per_s": self.throughput_per_s, "flops": self.flops,
            "hbm_bytes": self.hbm_bytes, "roofline_seconds": self.roofline_seconds,
            "utilization": self.utilization(), "layers": self.layers(),
            "kernels": len(self.kernels), "notes": dict(self.notes),
        }

    def _repr_html_(self, top: int = 10) -> str:
        """A compact table in notebooks: totals, unit utilisation, the ``top`` slowest layers
        (``reports.write_report`` renders the full report)."""
        from html import escape

        util = self.utilization()
        total = self.seconds or 1.0
        head = (f"<b>{escape(self.model)}</b> on <b>{escape(self.hw)}</b>, batch {self.batch}, "
                f"{self.mode}: <b>{self.seconds * 1e3:.3f} ms</b> ({self.cycles:,} cycles, "
                f"{self.throughput_per_s:.1f}/s), {self.flops / 1e9:.2f} GFLOP, "
                f"roofline {self.roofline_seconds * 1e3:.3f} ms, {len(self.kernels)} kernels")
        notes = "".join(f"<br><i>{escape(k)}: {escape(v)}</i>" for k, v in self.notes.items())
        cells = "".join(f"<th>{escape(u)}</th>" for u in util)
        values = "".join(f"<td>{v:.1%}</td>" for v in util.values())
        layers = sorted(self.layers(), key=lambda r: -r["seconds"])
        units = [u for u in ("cube", "vector") if u in util] or list(util)[:2]
        rows = "".join(
            f"<tr><td style='text-align:left'>{escape(r['name'])}</td>"
            f"<td style='text-align:left'>{escape(r['op'])}</td>"
            f"<td>{r['seconds'] * 1e6:.1f}</td><td>{r['seconds'] / total:.1%}</td>"
            f"<td>{r['cycles']:,}</td><td>{r['flops'] / 1e9:.3f}</td>"
            + "".join(f"<td>{r['utilization'].get(u, 0.0):.0%}</td>" for u in units)
            + "</tr>" for r in layers[:top])
        more = (f"<tr><td colspan='{6 + len(units)}' style='text-align:left'>"
                f"... {len(layers) - top} more layers</td></tr>" if len(layers) > top else "")
        unit_heads = "".join(f"<th>{escape(u)} %</th>" for u in units)
        return (f"<div>{head}{notes}<table><tr><th>utilisation</th>{cells}</tr>"
                f"<tr><td></td>{values}</tr></table><table><tr><th>slowest layers</th>"
                f"<th>op</th><th>us</th><th>share</th><th>cycles</th><th>GFLOP</th>"
                f"{unit_heads}</tr>{rows}{more}</table></div>")
