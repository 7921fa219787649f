"""Utilisation and stall breakdown per layer, and its stacked-bar figure."""

from __future__ import annotations

import pytest

from reports.utilization import layer_breakdowns, plotted_units, utilization_figure


def test_busy_share_equals_run_result_utilisation(resnet_910) -> None:
    rows = layer_breakdowns(resnet_910)
    reference = resnet_910.layers()
    assert [r.layer for r in rows] == [r["name"] for r in reference]
    for row, ref in zip(rows, reference, strict=True):
        for unit, value in ref["utilization"].items():
            assert row.units[unit]["busy"] == pytest.approx(value)


def test_shares_stack_to_at_most_one(resnet_910, mlp_traced) -> None:
    for result in (resnet_910, mlp_traced):
        for row in layer_breakdowns(result):
            for parts in row.units.values():
                assert all(0.0 <= v <= 1.0 for v in parts.values())
                assert parts["busy"] + parts["flag wait"] <= 1.0 + 1e-9
            assert all(0.0 <= v <= 1.0 for v in row.issue.values())


def test_flag_waits_and_queue_stalls_are_reported(mlp_traced) -> None:
    rows = layer_breakdowns(mlp_traced)
    assert any(parts["flag wait"] > 0 for r in rows for parts in r.units.values())
    assert any(reason.startswith("queue full: ") for r in rows for reason in r.issue)


def test_layers_follow_each_other_in_time(resnet_910) -> None:
    rows = layer_breakdowns(resnet_910)
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.start_seconds == pytest.approx(before.start_seconds + before.seconds)
    assert rows[-1].start_seconds + rows[-1].seconds == pytest.approx(resnet_910.seconds)


def test_figure_has_a_row_per_busy_unit_and_a_bar_per_layer(resnet_910) -> None:
    rows = layer_breakdowns(resnet_910)
    fig = utilization_figure(rows, "t")
    busy_units = plotted_units(rows)
    # this small ResNet leaves the chip nearly idle (launches dominate): no unit reaches 1 %
    # of a layer's cycles, so the units shown are those within a tenth of the busiest
    peak = max(r.units[u]["busy"] for r in rows for u in r.units)
    assert 0 < peak < 0.01
    assert set(busy_units) == {u for u in rows[0].units
                               if any(r.units[u]["busy"] > peak / 10 for r in rows)}
    has_issue = any(r.issue for r in rows)
    assert len(fig.axes) == len(busy_units) + has_issue
    assert busy_units
    first = fig.axes[0]
    assert first.get_ylabel() == busy_units[0]
    # three stacked parts (busy, flag wait, launch) per layer
    assert len(first.patches) == 3 * len(rows)
    assert first.get_ylim() == (0.0, 100.0)
    assert "time through the run" in fig.axes[-1].get_xlabel()


def test_run_shares_count_the_idle_cores_of_a_kernel_on_fewer_cores() -> None:
    """A one-core kernel keeps its own Cube busy, but on a 32-core chip the run's Cube share
    is that over 32: the run-level figures are shares of the whole chip."""
    from pathlib import Path

    from hw.davinci import get_preset
    from hw.davinci.run import run_kernel
    from hw.results import KernelRecord, RunResult
    from isa.davinci.asm import load_kernel

    cfg = get_preset("ascend910")
    example = Path(__file__).resolve().parents[2] / "examples" / "asm" / "matmul_128x256x512_db.s"
    run = run_kernel(load_kernel(example), cfg)
    own = run.utilization("M")
    assert own > 0.1 and run.chip_utilization("M") == pytest.approx(own / cfg.cores)
    record = KernelRecord("k", "layer", "matmul", ("layer",), run.flops, 0, 0.0, run)
    result = RunResult("one", cfg.name, 1, "timing", cfg.freq_hz, 1.0, 1.0, (record,))
    share = own / cfg.cores * run.cycles / run.total_cycles
    assert result.utilization()["cube"] == pytest.approx(share)
    assert result.layers()[0]["utilization"]["cube"] == pytest.approx(share)
