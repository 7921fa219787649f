"""Traffic per level and per path, achieved bandwidth per layer."""

from __future__ import annotations

from reports.tables import layer_rows
from reports.traffic import achieved_bandwidth, level_traffic, path_traffic, traffic_figure


def test_levels_sum_the_kernels_counters(resnet_910) -> None:
    levels = {lv.level: lv for lv in level_traffic(resnet_910)}
    assert list(levels)[:2] == ["hbm", "gm"]  # off-chip first
    for name, lv in levels.items():
        assert lv.read_bytes == sum(k.run.bytes_read.get(name, 0) for k in resnet_910.kernels)
        assert lv.written_bytes == sum(k.run.bytes_written.get(name, 0)
                                       for k in resnet_910.kernels)
    gm = levels["gm"]
    assert gm.total_bytes == resnet_910.hbm_bytes  # RunResult.hbm_bytes counts GM traffic


def test_paths_sum_and_sort(resnet_910) -> None:
    paths = path_traffic(resnet_910)
    assert list(paths.values()) == sorted(paths.values(), reverse=True)
    assert paths["gm->l1"] == sum(k.run.bytes_by_path.get("gm->l1", 0)
                                  for k in resnet_910.kernels)


def test_achieved_bandwidth_stays_under_each_peak(resnet_910, roofs_910) -> None:
    for row in layer_rows(resnet_910, roofs_910):
        achieved = achieved_bandwidth(row, roofs_910)
        for m in roofs_910.memory:
            assert 0.0 <= achieved[m.name] <= m.bytes_per_s * (1 + 1e-9)


def test_figure_series(resnet_910, roofs_910) -> None:
    rows = layer_rows(resnet_910, roofs_910)
    levels = level_traffic(resnet_910)
    fig = traffic_figure(levels, rows, roofs_910, "t")
    left, right = fig.axes
    assert [t.get_text() for t in left.get_yticklabels()] == [lv.level for lv in levels][::-1]
    assert len(left.patches) == 2 * len(levels)  # read and written bars
    assert right.get_ylabel().startswith("achieved bandwidth")
    labels = [h.get_label() for h in right.get_legend_handles_labels()[0]]
    assert [label.split(" ")[0] for label in labels] == [m.name for m in roofs_910.memory]
