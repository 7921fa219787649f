"""Global-memory planning: regions, alignment, reuse across disjoint lifetimes, no overlap
of live values (hypothesis over random DAGs), and device layout sizes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler import CompileError, CompileOptions, device_nbytes, plan_memory, run_pipeline
from compiler.layouts import c0, padded_shape
from framework import Graph, GraphBuilder, TensorType


def _chain(length: int, n: int = 1000) -> Graph:
    b = GraphBuilder("chain")
    y = b.input("x", (n,))
    for _ in range(length):
        y = b.exp(y)
    b.output(y)
    return b.build()


def test_a_chain_reuses_two_buffers() -> None:
    plan = plan_memory(_chain(8)).check()
    work = [a for a in plan.allocations.values() if a.region == "workspace"]
    assert len(work) == 7 and len({a.offset for a in work}) == 2  # ping-pong
    assert plan.workspace_bytes == 2 * 4096  # 4000 B rounded up to 512 B twice
    assert plan.naive_bytes == 9 * 4096 and plan.peak_bytes == 4 * 4096
    assert plan.naive_workspace_bytes == 7 * 4096
    assert 0 < plan.saving < 1


def test_regions_are_ordered_and_whole_run_values_are_not_in_the_workspace() -> None:
    b = GraphBuilder()
    x = b.input("x", (10,))
    w = b.constant(np.ones(10, np.float32), name="w")
    h = b.add(x, w)
    r = b.relu(h)
    b.output(r, h)
    plan = plan_memory(b.build(), alignment=64).check()
    regions = {name: a.region for name, a in plan.allocations.items()}
    assert regions == {"w": "constant", "x": "input", h: "output", r: "output"}
    offsets = plan.region_offsets
    assert offsets["constant"] < offsets["input"] < offsets["output"] <= offsets["workspace"]
    assert plan.workspace_bytes == 0 and plan.region_bytes("output") == 128


def test_custom_size_function_and_layout_tags_are_recorded() -> None:
    compiled = run_pipeline(_small_cnn())
    opts = CompileOptions()
    plan = plan_memory(compiled,
                       lambda t: device_nbytes(t, opts.storage_dtype(t.dtype))).check()
    x = plan.allocations["x"]
    assert x.layout == "NC1HWC0" and x.nbytes == 2 * 1 * 8 * 8 * 16 * 2  # C=3 padded to 16
    assert any(a.layout == "FRACTAL_Z" for a in plan.allocations.values())


def _small_cnn() -> Graph:
    b = GraphBuilder("cnn")
    rng = np.random.default_rng(0)
    h = b.input("x", (2, 3, 8, 8))
    for cin, cout in ((3, 8), (8, 8), (8, 8)):
        h = b.relu(b.conv2d(h, b.constant(rng.normal(size=(cout, cin, 3, 3)).astype(np.float32)),
                            padding=1))
    b.output(b.global_avg_pool(h))
    return b.build()


def test_check_reports_overlapping_live_values() -> None:
    plan = plan_memory(_chain(3))
    work = sorted(v for v, a in plan.allocations.items() if a.region == "workspace")
    a, b = plan.allocations[work[0]], plan.allocations[work[1]]
    clobbered = dict(plan.allocations, **{work[1]: type(b)(a.offset, b.nbytes, b.layout,
                                                           b.region, b.start, b.end)})
    broken = dataclasses.replace(plan, allocations=clobbered)
    with pytest.raises(CompileError, match="conflicts"):
        broken.check()
    with pytest.raises(CompileError, match="alignment"):
        plan_memory(_chain(2), alignment=0)


@st.composite
def random_dags(draw: st.DrawFn) -> Graph:
    """Random DAGs of unary and binary ops over random sizes, with several outputs."""
    b = GraphBuilder("random")
    values = [b.input("x0", (draw(st.integers(1, 300)),))]
    sizes = {values[0]: b.shape(values[0])[0]}
    for _ in range(draw(st.integers(1, 25))):
        src = draw(st.sampled_from(values))
        if draw(st.booleans()):
            others = [v for v in values if sizes[v] == sizes[src]]
            out = b.add(src, draw(st.sampled_from(others)))
        elif draw(st.booleans()):
            n = draw(st.integers(1, 300))
            out = b.pad(src, (0, max(0, n - sizes[src])))
        else:
            out = b.exp(src)
        sizes[out] = b.shape(out)[0]
        values.append(out)
    outs = draw(st.lists(st.sampled_from(values[1:]), min_size=1, max_size=3, unique=True))
    b.output(*outs)
    return b.build()


@given(random_dags(), st.sampled_from([1, 32, 512]))
def test_no_two_live_values_overlap(graph: Graph, alignment: int) -> None:
    plan = plan_memory(graph, alignment=alignment)
    assert plan.conflicts() == []
    assert plan.peak_bytes <= plan.naive_bytes
    assert set(plan.allocations) == set(graph.types)
    for a in plan.allocations.values():
        assert a.offset % alignment == 0 and a.nbytes % alignment == 0
        assert a.stop <= plan.peak_bytes


def test_resnet18_plan_is_valid_and_smaller_than_naive() -> None:
    workloads = pytest.importorskip("workloads")
    graph = run_pipeline(workloads.build("resnet18:image=32"))
    plan = plan_memory(graph, lambda t: device_nbytes(t, "float16")).check()
    assert plan.workspace_bytes < plan.naive_workspace_bytes / 3


# ----- device sizes -------------------------------------------------------------------------

def test_c0_per_dtype() -> None:
    assert (c0("float16"), c0("int8"), c0("float32")) == (16, 32, 8)


@pytest.mark.parametrize(("t", "dtype", "shape", "nbytes"), [
    (TensorType((1, 3, 4, 4), layout="NC1HWC0"), "float16", (1, 1, 4, 4, 16), 512),
    (TensorType((1, 33, 4, 4), layout="NC1HWC0"), "int8", (1, 2, 4, 4, 32), 1024),
    (TensorType((64, 3, 7, 7), layout="FRACTAL_Z"), "float16", (49, 4, 16, 16), 49 * 4 * 512),
    (TensorType((20, 30), layout="NZ"), "float16", (2, 2, 16, 16), 32 * 32 * 2),
    (TensorType((3, 20, 30), layout="NZ"), "float16", (3, 2, 2, 16, 16), 3 * 32 * 32 * 2),
    (TensorType((5, 7)), "float32", (5, 7), 140),
])
def test_device_nbytes_pads_each_layout(t: TensorType, dtype: str, shape: tuple[int, ...],
                                        nbytes: int) -> None:
    assert padded_shape(t, dtype) == shape
    assert device_nbytes(t, dtype) == nbytes


def test_device_nbytes_rejects_impossible_layouts() -> None:
    with pytest.raises(CompileError, match="rank 4"):
        device_nbytes(TensorType((3, 4), layout="NC1HWC0"))
    with pytest.raises(CompileError, match="unknown layout"):
        device_nbytes(TensorType((3, 4), layout="BLOCKED"))
