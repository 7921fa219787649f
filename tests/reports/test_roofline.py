"""The hierarchical roofline: roofs from the config, one point per kernel and level, no point
above its roof, and the figure's series and axes."""

from __future__ import annotations

import pytest
from matplotlib.collections import PathCollection

from hw import load_hw
from reports import ceilings_for
from reports.roofline import (
    RooflineSeries,
    execution_seconds,
    roofline_figure,
    roofline_points,
)


def test_ceilings_come_from_the_config() -> None:
    config = load_hw("ascend910")
    roofs = ceilings_for(config)
    assert roofs.peak_flops == config.peak_flops("fp16")
    by_name = {m.name: m for m in roofs.memory}
    assert list(by_name) == ["HBM", "L2", "L1", "UB"]
    assert by_name["HBM"].bytes_per_s == config.hbm_bytes_per_s
    assert by_name["L2"].bytes_per_s == config.l2_bytes_per_s
    l1_paths = by_name["L1"].paths
    assert "gm->l1" in l1_paths and "l1->l0a" in l1_paths and "l0c->ub" not in l1_paths
    per_core = sum(getattr(config, f"{p.replace('->', '_to_')}_bytes_per_cycle")
                   for p in l1_paths)
    assert by_name["L1"].bytes_per_s == pytest.approx(per_core * config.cores * config.freq_hz)


def test_separated_chip_puts_ub_on_the_vector_cores() -> None:
    config = load_hw("ascend910b")
    ub = next(m for m in ceilings_for(config).memory if m.name == "UB")
    per_core = sum(getattr(config, f"{p.replace('->', '_to_')}_bytes_per_cycle")
                   for p in ub.paths)
    assert ub.bytes_per_s == pytest.approx(per_core * config.vector_cores * config.freq_hz)


def test_gpu_preset_has_dram_l2_l1_and_shared_roofs() -> None:
    from hw.simt import PRESETS

    config = next(iter(PRESETS.values()))
    roofs = ceilings_for(config)
    assert [m.name for m in roofs.memory] == ["DRAM", "L2", "L1", "shared"]
    assert roofs.peak_flops == pytest.approx(max(config.peak_tensor_flops,
                                                 config.peak_fp32_flops))


@pytest.mark.parametrize("run, roofs", [("mlp_traced", "roofs_910"),
                                        ("resnet_910", "roofs_910"),
                                        ("resnet_910b", "roofs_910b")])
def test_no_point_lies_above_its_roof(run: str, roofs: str,
                                      request: pytest.FixtureRequest) -> None:
    result, ceilings = request.getfixturevalue(run), request.getfixturevalue(roofs)
    points = roofline_points(result, ceilings)
    assert points
    for p in points:
        assert p.flops_per_s <= p.roof_flops_per_s * (1 + 1e-9), p
        assert p.flops_per_s <= ceilings.peak_flops


def test_points_are_the_kernels_own_numbers(resnet_910, roofs_910) -> None:
    points = roofline_points(resnet_910, roofs_910)
    kernels = {k.name: k for k in resnet_910.kernels}
    levels = {m.name: m for m in roofs_910.memory}
    expected = sum(1 for k in resnet_910.kernels if k.flops for m in roofs_910.memory
                   if m.bytes_of(k.run))
    assert len(points) == expected
    for p in points:
        k = kernels[p.kernel]
        assert p.flops_per_s == pytest.approx(k.flops / execution_seconds(k))
        assert p.intensity == pytest.approx(k.flops / levels[p.level].bytes_of(k.run))
        assert p.layer == k.layer and p.op == k.op


def test_figure_has_log_axes_a_roof_per_level_and_points_per_level(resnet_910,
                                                                   roofs_910) -> None:
    points = roofline_points(resnet_910, roofs_910)
    fig = roofline_figure([RooflineSeries("ascend910", roofs_910, tuple(points))], "t")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "arithmetic intensity" in ax.get_xlabel() and "FLOP/s" in ax.get_ylabel()
    roofs = [line.get_label() for line in ax.get_lines()]
    for m in roofs_910.memory:
        assert any(label.startswith(m.name) for label in roofs)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in scatters) == len(points)
    levels_with_points = {p.level for p in points}
    assert len(scatters) == len(levels_with_points)
    # the y axis reaches above the peak so the compute roof is visible
    assert ax.get_ylim()[1] > roofs_910.peak_flops
