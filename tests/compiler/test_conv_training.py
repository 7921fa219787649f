"""Convolution training kernels on DaVinci: the weight gradient (conv2d_grad_weight, into
FRACTAL_Z) and the input gradient (conv_transpose2d, as a forward convolution over the dilated
gradient with flipped, transposed weight fractals) match the reference interpreter for stride 1
and 2, padding, 1x1 and 3x3 kernels on coupled (ascend910) and separated (ascend910b) chips;
img2col into L0B writes transposed fractals; and a reduced ResNet-18 training step (forward,
backward, SGD with momentum) runs on the chip model with every gradient kernel matching the
interpreter on the values the chip computed before it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from davinci_harness import UNMERGED, build, check, check_roofline, feeds_for, lower

from archsim.simulate import load_model, training_graph
from compiler.davinci.context import assign_layouts
from compiler.davinci.kernels import conv_grad
from compiler.davinci.lower import lower_graph
from compiler.errors import CompileError
from compiler.options import CompileOptions
from compiler.pipeline import run_pipeline
from framework import Graph, interpret
from framework import attrs as A
from framework.evaluate import EVAL_RULES
from hw.davinci import get_preset
from hw.davinci.functional_dma import img2col_fractals
from hw.davinci.run import SimOptions, run_kernel
from isa.davinci import Addr, Img2Col, Space
from isa.davinci.layouts import from_layout, layout_shape, to_layout

CASES = [  # (cin, cout, kernel, stride, padding, size)
    (8, 20, 3, 1, 1, 6),
    (16, 16, 1, 1, 0, 5),
    (20, 36, 3, 2, 1, 7),
    (16, 32, 1, 2, 0, 6),
]


def _conv(stride: int, padding: int) -> A.Conv2dAttrs:
    return A.Conv2dAttrs((stride, stride), (padding,) * 4, (1, 1), 1)


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("cin,cout,k,s,p,hw", CASES)
def test_conv2d_grad_weight_matches_reference(preset, cin, cout, k, s, p, hw) -> None:
    conv = _conv(s, p)
    ho = (hw + 2 * p - k) // s + 1
    graph = build(lambda gb, x, dy: gb.conv2d_grad_weight(x, dy, conv, (cout, cin, k, k)),
                  x=(2, cin, hw, hw), dy=(2, cout, ho, ho))
    outcome = check(graph, preset=preset)
    out = graph.outputs[0]
    assert outcome.exe.placements[out].layout == "fractal_z"


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("cin,cout,k,s,p,hw", [CASES[0], CASES[2]])
def test_conv2d_grad_weight_split_over_image_groups(monkeypatch, preset, cin, cout, k, s,
                                                     p, hw) -> None:
    """Forced to split the images into groups (as large early layers do): fp32 partial sums
    in a workspace, added by a vector kernel."""
    original = conv_grad.choose_grad_tiling

    def grouped(target, shape):
        t = original(target, shape)
        return dataclasses.replace(t, groups=3, tiles=t.tiles * 3,
                                   cores=min(target.cores, t.tiles * 3))

    monkeypatch.setattr(conv_grad, "choose_grad_tiling", grouped)
    conv = _conv(s, p)
    ho = (hw + 2 * p - k) // s + 1
    graph = build(lambda gb, x, dy: gb.conv2d_grad_weight(x, dy, conv, (cout, cin, k, k)),
                  x=(5, cin, hw, hw), dy=(5, cout, ho, ho))
    outcome = check(graph, preset=preset)
    assert [launch.op for launch in outcome.exe.kernels] == ["conv2d_grad_weight",
                                                            "conv2d_grad_weight_reduce"]


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("cin,cout,k,s,p,hw", CASES)
def test_conv_transpose2d_matches_reference(preset, cin, cout, k, s, p, hw) -> None:
    ho = (hw + 2 * p - k) // s + 1
    op = (hw + 2 * p - k) % s  # as the conv2d gradient asks for it
    graph = build(lambda gb, dy, w: gb.conv_transpose2d(dy, w, None, (s, s), (p,) * 4,
                                                        (op, op), (1, 1), 1),
                  dy=(2, cout, ho, ho), w=(cout, cin, k, k))
    outcome = check(graph, preset=preset)
    assert outcome.exe.placements["w"].layout == "fractal_z"
    assert outcome.reference[graph.outputs[0]].shape == (2, cin, hw, hw)


def test_gradient_kernels_respect_their_roofline_in_timing_mode() -> None:
    cin, cout, k, s, p, hw = CASES[2]
    ho = (hw + 2 * p - k) // s + 1
    conv = _conv(s, p)
    graph = build(lambda gb, x, dy, w: (gb.conv2d_grad_weight(x, dy, conv, (cout, cin, k, k)),
                                        gb.conv_transpose2d(dy, w, None, (s, s), (p,) * 4,
                                                            (0, 0), (1, 1), 1)),
                  x=(2, cin, hw, hw), dy=(2, cout, ho, ho), w=(cout, cin, k, k))
    pairs = check_roofline(graph, options=UNMERGED)
    assert len(pairs) == 3  # weight gradient, dilation, transposed convolution, each checked


def test_img2col_into_l0b_writes_transposed_fractals() -> None:
    from hw.davinci import get_preset
    from hw.davinci.functional_dma import exec_img2col
    from hw.davinci.functional_memory import CoreMemory

    rng = np.random.default_rng(0)
    fmap = rng.standard_normal((2, 5, 5, 16)).astype(np.float16)
    mem = CoreMemory(get_preset("ascend910"), np.zeros(64, dtype=np.uint8))
    mem.window(Space.L1, 0, fmap.nbytes, None)[:] = fmap.view(np.uint8).reshape(-1)
    instr = Img2Col(Addr(Space.L0B, 0), Addr(Space.L1, 0), 5, 5, 2, 3, 3, pad_top=1,
                    pad_bottom=1, pad_left=1, pad_right=1, m_steps=2, k_start=3, k_steps=4)
    exec_img2col(instr, mem)
    got = mem.window(Space.L0B, 0, instr.nbytes, None).view(np.float16).reshape(2, 4, 16, 16)
    want = img2col_fractals(fmap, instr).transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(got, want)


def test_runtime_weights_and_their_updates_are_fractal_z() -> None:
    _, graph = load_model("resnet18:image=32,width=2,classes=4", 2)
    step = training_graph(graph)
    layouts = assign_layouts(step)
    assert layouts["conv1.weight"] == "fractal_z"
    assert layouts["next:conv1.weight"] == "fractal_z"
    assert layouts["image"] == "nc1hwc0"


def _feeds(original: Graph, step: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """The model's own parameters and statistics, small velocities, a random image and
    labels."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name in step.inputs:
        t = step.types[name]
        if name in original.constants:
            feeds[name] = np.asarray(original.constants[name], dtype=np.float32)
        elif not t.is_float:
            feeds[name] = rng.integers(0, 4, t.shape).astype(t.dtype)
        else:
            span = 0.1 if name.startswith("velocity:") else 1.0
            feeds[name] = rng.uniform(-span, span, t.shape).astype(np.float16).astype(np.float32)
    return feeds


def _read(gm: np.ndarray, place) -> np.ndarray:
    itemsize = np.dtype(place.dtype).itemsize
    shape = layout_shape(place.shape or (1,), place.layout, itemsize)
    count = int(np.prod(shape))
    stored = gm[place.offset:place.offset + count * itemsize].view(place.dtype).reshape(shape)
    return from_layout(stored, place.layout, place.shape).astype(np.float32)


@pytest.mark.slow
def test_resnet18_training_step_convolution_kernels_match_reference() -> None:
    """Every kernel of a reduced ResNet-18 training step runs on the chip model; each weight
    and input gradient kernel, fed the values the chip computed before it, matches the
    reference for its node, and the loss matches. (Whole-step outputs are not compared
    element-wise: fp16 flips ReLU masks of pre-activations near zero, which the backward pass
    then spreads.)"""
    _, graph = load_model("resnet18:image=32,width=2,classes=4", 2)
    step = training_graph(graph)
    feeds = _feeds(graph, step)
    config = get_preset("ascend910")
    optimized = run_pipeline(step, CompileOptions(target="davinci", epilogue="vector"))
    exe = lower_graph(optimized, config)
    nodes = {node.name: node for node in optimized.nodes}
    gm = np.zeros(exe.gm_bytes, dtype=np.uint8)
    images = [(exe.placements[name], image) for name, image in exe.constants.items()]
    images += [(exe.placements[name], to_layout(np.asarray(feeds[name]).astype(
        exe.placements[name].dtype), exe.placements[name].layout)) for name in exe.inputs]
    for place, image in images:
        raw = np.ascontiguousarray(image).view(np.uint8).reshape(-1)
        gm[place.offset:place.offset + raw.size] = raw
    checked = set()
    for launch in exe.kernels:
        run_kernel(launch.program, config, SimOptions(mode="functional"), gm=gm)
        if launch.op not in ("conv2d_grad_weight", "conv_transpose2d"):
            continue
        node = nodes[launch.layer]
        xs = [_read(gm, exe.placements[v]) for v in node.inputs]
        want = EVAL_RULES[node.op](xs, node.attrs)[0]
        got = _read(gm, exe.placements[node.outputs[0]])
        scale = float(np.max(np.abs(want))) + 1e-6
        assert np.max(np.abs(got - want)) <= 1e-2 * scale, (node.name, launch.op)
        checked.add(launch.op)
    assert checked == {"conv2d_grad_weight", "conv_transpose2d"}
    loss = _read(gm, exe.placements["loss"])
    want = np.asarray(interpret(step, feeds, outputs=["loss"])["loss"], dtype=np.float32)
    assert np.allclose(loss, want, rtol=2e-2)


def test_elementwise_on_fractal_z_weights() -> None:
    """An SGD-like update of run-time weights runs flat over FRACTAL_Z; a chain that would
    make the padding non-zero is refused."""
    conv = _conv(1, 1)

    def update(gb, x, dy, w):
        grad = gb.conv2d_grad_weight(x, dy, conv, (20, 8, 3, 3))
        return gb.sub(w, gb.mul(grad, gb.constant(np.float32(0.1))))

    graph = build(update, x=(2, 8, 6, 6), dy=(2, 20, 6, 6), w=(20, 8, 3, 3))
    outcome = check(graph)
    assert outcome.exe.placements[graph.outputs[0]].layout == "fractal_z"
    bad = build(lambda gb, x, dy, w: gb.exp(gb.add(w, gb.conv2d_grad_weight(
        x, dy, conv, (20, 8, 3, 3)))), x=(2, 8, 6, 6), dy=(2, 20, 6, 6), w=(20, 8, 3, 3))
    with pytest.raises(CompileError, match="padding"):
        check(bad)


def test_dilated_gradient_does_not_rely_on_zeroed_memory() -> None:
    """Stride 2: the dilation kernel writes every pixel of its workspace (GM starts filled
    with 1.06 here, not zeros)."""
    cin, cout, k, s, p, hw = CASES[2]
    ho = (hw + 2 * p - k) // s + 1
    graph = build(lambda gb, dy, w: gb.conv_transpose2d(dy, w, None, (s, s), (p,) * 4,
                                                        (0, 0), (1, 1), 1),
                  dy=(2, cout, ho, ho), w=(cout, cin, k, k))
    exe = lower(graph)
    config = get_preset("ascend910")
    feeds = feeds_for(graph)
    gm = np.full(exe.gm_bytes, 0x3C, dtype=np.uint8)
    for name in exe.inputs:
        place = exe.placements[name]
        raw = to_layout(feeds[name].astype(place.dtype), place.layout).view(np.uint8).reshape(-1)
        gm[place.offset:place.offset + raw.size] = raw
    for launch in exe.kernels:
        run_kernel(launch.program, config, SimOptions(mode="functional"), gm=gm)
    got = _read(gm, exe.placements[graph.outputs[0]])
    want = interpret(graph, feeds)[graph.outputs[0]]
    assert np.max(np.abs(got - want)) <= 1e-2 * float(np.max(np.abs(want)))
