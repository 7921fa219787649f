"""Kernels whose cores exchange no data share one launch (compiler/davinci/core_local.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.simulate import compile_model, load_model, run_executable
from compiler.davinci.core_local import _Owners
from compiler.davinci.core_local import merge_core_local as merge
from compiler.executable import KernelLaunch
from framework import interpret
from hw import load_hw
from isa.davinci import Addr, Copy, Kernel, Pipe, SetFlag, Space, Stream, WaitFlag
from tests.compiler.model_check import TOLERANCE, inputs_for


def merge_core_local(launches: list[KernelLaunch]) -> list[KernelLaunch]:
    return merge(launches, 4, lambda address: address // 4096)  # 4 event ids, 4 KiB buffers


def _copy(dst: Addr, src: Addr, nbytes: int = 512) -> Copy:
    return Copy(dst, src, 1, nbytes // 32, 0, 0)


def _launch(name: str, cores: list[dict[str, list]]) -> KernelLaunch:
    program = Kernel(name, tuple({unit: Stream(tuple(ins), shape=0)
                                  for unit, ins in core.items()} for core in cores))
    return KernelLaunch(name, "davinci", program, name, "test", (name,), 0, 0)


def _move(core: int, src: int, dst: int) -> dict[str, list]:
    """Core ``core`` copies 512 B from GM ``src`` to GM ``dst`` through UB."""
    ub = Addr(Space.UB, 0)
    return {"core": [_copy(ub, Addr(Space.GM, src + core * 512)),
                     _copy(Addr(Space.GM, dst + core * 512), ub)]}


def test_kernels_whose_cores_use_their_own_bytes_run_as_one_launch() -> None:
    a = _launch("a", [_move(c, 0, 4096) for c in range(2)])
    b = _launch("b", [_move(c, 4096, 8192) for c in range(2)])  # core c reads what it wrote
    (merged,) = merge_core_local([a, b])
    assert merged.name == "a+1" and merged.origin == ("a", "b")
    for core in range(2):
        stream = merged.program.cores[core]["core"].instructions
        parts = (a.program.cores[core]["core"].instructions,
                 b.program.cores[core]["core"].instructions)
        assert [i for i in stream if type(i) is Copy] == list(sum(parts, ()))
        # flags planned over the whole: b's load waits for a's store of the same bytes, and
        # a's load waits for nothing
        assert type(stream[0]) is Copy
        store, load = stream.index(parts[0][1]), stream.index(parts[1][0])
        assert SetFlag(Pipe.MTE3, Pipe.MTE2, 0) in stream[store:load]
        assert stream[load - 1] == WaitFlag(Pipe.MTE3, Pipe.MTE2, 0)
    # the two cores do the same work on their own bytes: one race check stands for both
    assert merged.program.cores[0]["core"].shape == merged.program.cores[1]["core"].shape


def test_a_kernel_reading_another_cores_result_starts_a_new_launch() -> None:
    a = _launch("a", [_move(c, 0, 4096) for c in range(2)])
    swapped = _launch("b", [_move(1 - c, 4096, 8192) for c in range(2)])
    assert [k.name for k in merge_core_local([a, swapped])] == ["a", "b"]
    # writing bytes another core of the run read is refused too
    overwrite = _launch("c", [_move(1 - c, 8192, 0) for c in range(2)])
    assert [k.name for k in merge_core_local([a, overwrite])] == ["a", "c"]


def test_units_of_one_separated_core_are_not_ordered_across_kernels() -> None:
    ub = Addr(Space.UB, 0)
    writer = _launch("w", [{"aic": [], "aiv0": [_copy(ub, Addr(Space.GM, 0)),
                                                _copy(Addr(Space.GM, 4096), ub)]}])
    reader = _launch("r", [{"aiv1": [_copy(ub, Addr(Space.GM, 4096))]}])
    assert len(merge_core_local([writer, reader])) == 2
    same_unit = _launch("s", [{"aiv0": [_copy(ub, Addr(Space.GM, 4096))]}])
    assert len(merge_core_local([writer, same_unit])) == 1


RESNET18 = "resnet18:image=32,width=4,classes=10"


@pytest.mark.parametrize("hw", ["ascend910", "ascend910b"])
def test_a_batch_parallel_network_runs_in_few_launches_and_matches_the_reference(
        hw: str) -> None:
    config = load_hw(hw).replace(cores=4)
    _, graph = load_model(RESNET18, batch=4)
    exe = compile_model(graph, config)
    unmerged = compile_model(graph, config, merge_launches=False)
    # coupled: all but the last kernels in one launch; separated: a vector kernel reads what
    # the cube units wrote, so launches break there (nothing orders two units across parts)
    assert len(exe.kernels) <= (3 if hw == "ascend910" else len(unmerged.kernels) * 2 / 3)
    assert sum(k.flops for k in exe.kernels) == sum(k.flops for k in unmerged.kernels)
    inputs = inputs_for(graph)
    result = run_executable(exe, config, "functional", inputs, graph=graph)
    want = interpret(graph, inputs)[graph.outputs[0]].astype(np.float32)
    got = result.outputs[graph.outputs[0]]
    assert np.abs(got - want).max() <= TOLERANCE * max(1.0, float(np.abs(want).max()))
    for kernel in result.kernels:
        assert kernel.seconds >= kernel.roofline_seconds, kernel.name
        assert all(0.0 <= u <= 1.0 for u in kernel.utilization().values()), kernel.name
    timed = run_executable(unmerged, config, "timing", graph=graph)
    assert result.seconds < timed.seconds  # fewer launches, and parts overlap across cores


@pytest.mark.parametrize("spec", [
    "mobilenet_v2:image=32,width_mult=0.25,classes=10",  # depthwise convolutions
    "bert_base:seq=8,layers=2,hidden=32,heads=2,intermediate=64,vocab=100,max_positions=16",
])
def test_other_networks_with_merged_launches_match_the_reference(spec: str) -> None:
    config = load_hw("ascend910").replace(cores=4)
    _, graph = load_model(spec, batch=4)
    exe = compile_model(graph, config)
    assert "merged" in [k.op for k in exe.kernels]
    inputs = inputs_for(graph)
    result = run_executable(exe, config, "functional", inputs, graph=graph)
    for name, want in interpret(graph, inputs).items():
        if name in graph.outputs:
            want = want.astype(np.float32)
            scale = max(1.0, float(np.abs(want).max()))
            assert np.abs(result.outputs[name] - want).max() <= TOLERANCE * scale, name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12), st.integers(0, 3)),
                max_size=25),
       st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12), st.integers(0, 3)),
                min_size=1, max_size=10))
def test_the_owner_map_answers_as_a_map_of_every_byte(added, queries) -> None:
    table, touched = _Owners(), {}
    for start, length, core in added:
        table.add(start, start + length, (core, "core"))
        for byte in range(start, start + length):
            touched.setdefault(byte, set()).add(core)
    for start, length, core in queries:
        want = any(touched.get(byte, set()) - {core} for byte in range(start, start + length))
        assert table.others(start, start + length, (core, "core")) == want
