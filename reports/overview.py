"""The headline of a report: run totals, where the time goes (per op, launch overhead apart) and
what bounds it; shared by the HTML report, ``summary.md`` and the comparison."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from matplotlib.figure import Figure

from hw.results import RunResult
from reports.ceilings import Ceilings
from reports.plots import new_figure, style
from reports.roofline import execution_seconds
from reports.tables import LayerRow, bound_shares


@dataclass(frozen=True)
class Overview:
    """A run's totals. Every figure is a sum or ratio of the RunResult's own numbers."""

    model: str
    hw: str
    batch: int
    mode: str
    kernels: int
    cycles: int
    seconds: float
    throughput_per_s: float
    flops: int
    hbm_bytes: int  # RunResult.hbm_bytes (GM traffic, before the L2)
    roofline_seconds: float
    launch_seconds: float
    achieved_flops_per_s: float  # FLOPs over the whole time, launches included
    peak_flops: float
    utilization: dict[str, float]
    bounds: dict[str, float]  # share of time per bound
    notes: dict[str, str]

    @property
    def peak_share(self) -> float:
        return self.achieved_flops_per_s / self.peak_flops if self.peak_flops else 0.0

    @property
    def launch_share(self) -> float:
        return self.launch_seconds / self.seconds if self.seconds else 0.0

    @property
    def roofline_ratio(self) -> float:
        """Simulated time over the roofline lower bound (>= 1)."""
        return self.seconds / self.roofline_seconds if self.roofline_seconds else 0.0


def overview(result: RunResult, ceilings: Ceilings, rows: list[LayerRow]) -> Overview:
    """The totals of ``result`` (``rows`` are its layer rows, for the bound shares)."""
    launch = sum(k.seconds - execution_seconds(k) for k in result.kernels)
    return Overview(
        model=result.model, hw=result.hw, batch=result.batch, mode=result.mode,
        kernels=len(result.kernels), cycles=result.cycles, seconds=result.seconds,
        throughput_per_s=result.throughput_per_s, flops=result.flops,
        hbm_bytes=result.hbm_bytes, roofline_seconds=result.roofline_seconds,
        launch_seconds=launch,
        achieved_flops_per_s=result.flops / result.seconds if result.seconds else 0.0,
        peak_flops=ceilings.peak_flops, utilization=result.utilization(),
        bounds=bound_shares(rows), notes=dict(result.notes))


def time_by_op(result: RunResult) -> dict[str, tuple[float, float]]:
    """op -> (execution seconds, launch seconds), largest total first."""
    body: dict[str, float] = defaultdict(float)
    launch: dict[str, float] = defaultdict(float)
    for k in result.kernels:
        body[k.op] += execution_seconds(k)
        launch[k.op] += k.seconds - execution_seconds(k)
    return {op: (body[op], launch[op])
            for op in sorted(body, key=lambda op: -(body[op] + launch[op]))}


_BOUND_COLOURS = {"compute": "#009E73", "latency": "#999999"}


def time_figure(result: RunResult, rows: list[LayerRow], title: str) -> Figure:
    """Left: time per op, execution and launch overhead. Right: time per bound."""
    with style():
        fig, (left, right) = new_figure(10.0, 0.28 * max(len(time_by_op(result)), 4) + 1.4,
                                        1, 2, width_ratios=(1.6, 1))
        ops = time_by_op(result)
        names = list(ops)[::-1]
        body = [1e3 * ops[n][0] for n in names]
        launch = [1e3 * ops[n][1] for n in names]
        left.barh(names, body, color="#0072B2", label="on the chip")
        left.barh(names, launch, left=body, color="#BBBBBB", label="launch overhead")
        left.set_xlabel("time (ms)")
        left.set_title("time per op")
        left.legend(loc="lower right")
        left.grid(True, axis="x", alpha=0.3)
        bounds = bound_shares(rows)
        labels = list(bounds)[::-1]
        right.barh(labels, [100 * bounds[b] for b in labels],
                   color=[_BOUND_COLOURS.get(b, "#D55E00") for b in labels])
        right.set_xlim(0, 100)
        right.set_xlabel("% of run time in layers with this bound")
        right.set_title("what bounds the layers")
        right.grid(True, axis="x", alpha=0.3)
        fig.suptitle(title)
    return fig
