"""Layer and kernel tables: the same numbers as RunResult.layers(), the bound rule, the CSV."""

from __future__ import annotations

import csv

import pytest

from reports import Ceilings, ComputeRoof, MemoryRoof
from reports.outputs import write_layers_csv
from reports.tables import CSV_COLUMNS, bound, bound_shares, kernel_rows, layer_rows, top

_ROOFS = Ceilings("toy", (ComputeRoof("peak", 100.0),),
                  (MemoryRoof("HBM", 10.0, levels=("hbm",)), MemoryRoof("L2", 50.0,
                                                                        levels=("gm",))))


@pytest.mark.parametrize("flops, nbytes, seconds, expected", [
    (100, {"HBM": 1, "L2": 1}, 1.0, "compute"),  # compute alone needs 1 s of 1 s
    (1, {"HBM": 10, "L2": 1}, 1.0, "memory (HBM)"),  # HBM alone needs 1 s
    (1, {"HBM": 1, "L2": 40}, 1.0, "memory (L2)"),  # L2 alone needs 0.8 s
    (10, {"HBM": 1, "L2": 1}, 1.0, "latency"),  # the tightest roof explains 0.1 s of 1 s
    (0, {}, 0.0, "latency"),
])
def test_bound_names_the_roof_that_explains_the_time(flops, nbytes, seconds, expected) -> None:
    assert bound(flops, nbytes, seconds, _ROOFS) == expected


def test_layer_rows_equal_run_result_layers(resnet_910, roofs_910) -> None:
    rows = layer_rows(resnet_910, roofs_910)
    reference = resnet_910.layers()
    assert [r.name for r in rows] == [r["name"] for r in reference]
    for row, ref in zip(rows, reference, strict=True):
        assert row.op == ref["op"]
        assert row.cycles == ref["cycles"]
        assert row.flops == ref["flops"]
        assert row.seconds == pytest.approx(ref["seconds"])
        assert row.roofline_seconds == pytest.approx(ref["roofline_seconds"])
        assert row.utilization == ref["utilization"]
        assert row.execution_seconds <= row.seconds
    assert sum(r.share for r in rows) == pytest.approx(1.0)
    assert sum(r.kernels for r in rows) == len(resnet_910.kernels)
    assert sum(bound_shares(rows).values()) == pytest.approx(1.0)


def test_level_bytes_and_intensity(resnet_910, roofs_910) -> None:
    rows = layer_rows(resnet_910, roofs_910)
    hbm = roofs_910.memory[0]
    assert sum(r.level_bytes["HBM"] for r in rows) == sum(hbm.bytes_of(k.run)
                                                          for k in resnet_910.kernels)
    for r in rows:
        if r.level_bytes["HBM"]:
            assert r.intensity == pytest.approx(r.flops / r.level_bytes["HBM"])


def test_top_kernels_are_the_slowest(resnet_910, roofs_910) -> None:
    kernels = kernel_rows(resnet_910, roofs_910)
    best = top(kernels, 5)
    assert len(best) == 5
    assert [k.seconds for k in best] == sorted((k.seconds for k in kernels), reverse=True)[:5]


def test_layers_csv_columns_and_values(resnet_910, roofs_910, tmp_path) -> None:
    path = write_layers_csv(tmp_path / "layers.csv", resnet_910, roofs_910)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    assert header[:len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    assert {f"bytes_{m.name}" for m in roofs_910.memory} <= set(header)
    assert {f"util_{u}" for u in resnet_910.utilization()} <= set(header)
    reference = resnet_910.layers()
    assert [r["layer"] for r in rows] == [r["name"] for r in reference]
    for row, ref in zip(rows, reference, strict=True):
        assert int(row["cycles"]) == ref["cycles"]
        assert int(row["flops"]) == ref["flops"]
        assert float(row["seconds"]) == ref["seconds"]
        assert float(row["util_cube"]) == ref["utilization"]["cube"]
