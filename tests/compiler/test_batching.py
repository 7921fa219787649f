"""Small independent vector kernels share one launch; dependent ones never do."""

from __future__ import annotations

from davinci_harness import PRESET, build, check, check_roofline, lower

from compiler import CompileOptions
from compiler.davinci.lower import lower_graph
from hw.davinci import get_preset


def test_independent_small_kernels_share_one_launch() -> None:
    # three unrelated element-wise results, each far shorter than a launch
    graph = build(lambda gb, x, y, z: (gb.relu(x), gb.exp(y), gb.neg(z)),
                  x=(8, 64), y=(4, 32), z=(16, 48))
    exe = lower(graph)
    assert [k.op for k in exe.kernels] == ["batched"]
    assert set(exe.kernels[0].origin) == {n.name for n in graph.nodes}
    check(graph)
    assert check_roofline(graph)


def test_a_kernel_reading_a_result_of_the_batch_starts_a_new_launch() -> None:
    # the sum is read by the add: another core may still be writing it within one launch
    graph = build(lambda gb, x, w: gb.add(gb.reduce_sum(x, -1), w), x=(8, 64), w=(8,))
    exe = lower_graph(graph, get_preset(PRESET), CompileOptions(merge_launches=False))
    assert len(exe.kernels) == 2 and "batched" not in [k.op for k in exe.kernels]
    # here core c sums row c and adds to it: the kernels are core-local (core_local.py)
    assert [k.op for k in lower(graph).kernels] == ["merged"]
    check(graph)


def test_kernels_with_work_longer_than_a_launch_run_alone() -> None:
    graph = build(lambda gb, x, y: (gb.relu(x), gb.exp(y)), x=(4096, 4096), y=(8, 64))
    assert "batched" not in [k.op for k in lower(graph).kernels]
