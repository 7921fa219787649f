"""Feature maps kept in L1 between batch-parallel convolutions (conv_plan.py `keep_on_chip`,
context.ResidentFmap): the right ones stay on chip, never touch GM, and the network still
matches the reference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import compiler.davinci.lower as lower
from archsim.simulate import compile_model, load_model, run_executable
from compiler.compile import default_options
from framework import interpret
from hw import load_hw
from isa.davinci import Copy, Img2Col, Space
from tests.compiler.model_check import TOLERANCE, inputs_for

RESNET18 = "resnet18:image=32,width=4,classes=10"
RESNET50 = "resnet50:image=32,width=4,classes=10"  # bottlenecks: 1x1 -> 3x3 -> 1x1


def _config():
    return load_hw("ascend910").replace(cores=4)


def _compile(graph, config, keep: bool = True):
    return compile_model(graph, config,
                         dataclasses.replace(default_options(config), keep_on_chip=keep))


def _matches_reference(exe, config, graph) -> float:
    inputs = inputs_for(graph)
    result = run_executable(exe, config, "functional", inputs, graph=graph)
    want = interpret(graph, inputs)[graph.outputs[0]].astype(np.float32)
    error = float(np.abs(result.outputs[graph.outputs[0]] - want).max())
    assert error <= TOLERANCE * max(1.0, float(np.abs(want).max()))
    return error


def _resident_values(exe) -> set[str]:
    """The values the tiling records say stay in L1."""
    found = set()
    for kernel in exe.kernels:
        for line in kernel.tiling.split("output ")[1:]:
            if " kept in L1 for " in line:
                found.add(line.split(" kept in L1 for ")[0])
    return found


@pytest.mark.parametrize("spec", [RESNET18, RESNET50])
def test_intermediates_of_a_block_stay_in_l1_and_the_network_matches_the_reference(
        spec: str) -> None:
    config = _config()
    _, graph = load_model(spec, batch=4)
    exe = _compile(graph, config)
    resident = _resident_values(exe)
    # at least every conv -> conv edge inside a block (ResNet-18: conv1 -> conv2 of 8 blocks;
    # ResNet-50: conv1 -> conv2 -> conv3 of 16 blocks), and block outputs, read by the next
    # block's first convolution and as its residual, where the L1 left allows
    assert len(resident) > (8 if spec == RESNET18 else 32)
    assert not resident & set(exe.placements)  # no GM buffer at all
    _matches_reference(exe, config, graph)
    in_gm = _compile(graph, config, keep=False)
    assert not _resident_values(in_gm)
    # the on-chip feature maps move through MTE3 into L1 and are read by img2col from there
    merged = max(exe.kernels, key=lambda k: k.flops).program.cores[0]["core"].instructions
    assert any(type(i) is Copy and i.dst.space is Space.L1 and i.src.space is Space.UB
               for i in merged)
    assert any(type(i) is Img2Col and i.m_start > 0 for i in merged)
    # a residual read from L1 into UB (MTE1)
    assert any(type(i) is Copy and i.dst.space is Space.UB and i.src.space is Space.L1
               for i in merged)
    # ... and GM traffic and the roofline's bytes drop by what stayed on chip
    fast = run_executable(exe, config, "timing", graph=graph)
    slow = run_executable(in_gm, config, "timing", graph=graph)
    written = [sum(k.run.bytes_written.get("hbm", 0) for k in r.kernels) for r in (fast, slow)]
    assert written[0] < written[1]
    assert sum(k.min_bytes for k in exe.kernels) < sum(k.min_bytes for k in in_gm.kernels)
    for kernel in fast.kernels:
        assert kernel.seconds >= kernel.roofline_seconds, kernel.name
        assert all(0.0 <= u <= 1.0 for u in kernel.utilization().values()), kernel.name


def test_without_batch_parallel_work_everything_stays_in_gm() -> None:
    config = _config()
    _, graph = load_model(RESNET18, batch=2)  # 2 images on 4 cores: cores share images
    assert not _resident_values(_compile(graph, config))
    _, graph = load_model(RESNET18, batch=4)
    assert not _resident_values(compile_model(graph, config, merge_launches=False))
    separated = load_hw("ascend910b").replace(cores=4)  # FixPipe writes to GM here
    assert not _resident_values(compile_model(graph, separated))


def test_a_writer_and_reader_in_different_launches_are_lowered_again_in_gm(
        monkeypatch) -> None:
    """Should the launches keep a resident feature map's writer and reader apart, its bytes
    would be lost between launches: the graph is lowered again with every value in GM."""
    config = _config()
    _, graph = load_model(RESNET18, batch=4)
    lowerings = []
    real = lower._lowered

    def lowered(*args):
        ctx = real(*args)
        lowerings.append(bool(ctx.resident))
        if ctx.resident:  # as if nothing could merge
            ctx.kernels = _one_launch_per_part(ctx.kernels)
        return ctx

    monkeypatch.setattr(lower, "_lowered", lowered)
    exe = compile_model(graph, config)
    assert lowerings == [True, False]
    assert not _resident_values(exe)
    _matches_reference(exe, config, graph)


def _one_launch_per_part(launches):
    """Split merged launches back into one launch per origin node (their programs are not
    run: the test only needs the launches' origins)."""
    return [dataclasses.replace(k, origin=(origin,)) for k in launches for origin in k.origin]
