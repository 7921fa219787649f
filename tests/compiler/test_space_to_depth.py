"""A network's stem convolution reads its few-channel input space-to-depth (``nc1hwc0_s2d``):
the same numbers as the reference, a third of the Cube work on ResNet's 7x7/2 stem, and only
where the input pipeline can lay the input out that way."""

from __future__ import annotations

import pytest

from archsim.simulate import compile_model, load_model
from hw import load_hw
from tests.compiler.model_check import check_model


def _input_layout(exe, name: str = "x") -> str:
    return exe.placements[name].layout


@pytest.mark.parametrize("hw", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("spec", [
    "conv:n=2,c=3,h=32,w=32,k=16,r=7,s=7,stride=2,pad=3",  # ResNet's stem, small
    "conv:n=1,c=3,h=15,w=13,k=20,r=3,s=3,stride=2,pad=1",  # odd sizes, Cout not 16k
    "conv:n=1,c=2,h=9,w=10,k=16,r=4,s=4,stride=2,pad=0",
    "conv:n=1,c=4,h=11,w=8,k=16,r=5,s=5,stride=2,pad=2",
])
def test_stride_2_convolution_of_a_space_to_depth_input_matches_reference(spec, hw) -> None:
    exe, result = check_model(spec, hw)
    assert _input_layout(exe) == "nc1hwc0_s2d"


def test_resnet_stem_does_a_third_of_the_cube_work() -> None:
    exe, result = check_model("conv:n=1,c=3,h=32,w=32,k=64,r=7,s=7,stride=2,pad=3", "ascend910")
    pixels = 16 * 16
    # 4 x 3 = 12 channels in one 16-channel block, 4x4 taps (the 7x7 kernel at stride 2);
    # NC1HWC0 would pad 3 channels to 16 for each of the 49 taps
    assert result.kernels[0].flops == 2 * pixels * 64 * 16 * 4 * 4
    assert result.kernels[0].flops * 3 < 2 * pixels * 64 * 16 * 7 * 7
    # `archsim compile` says why the stem's img2col is 4x4 at stride 1
    assert exe.kernels[0].tiling.startswith(
        "input read space-to-depth (x in nc1hwc0_s2d: 12 channels, 4x4 taps at stride 1); ")


@pytest.mark.parametrize("spec", [
    "conv:n=1,c=3,h=16,w=16,k=16,r=3,s=3,stride=1,pad=1",  # stride 1
    "conv:n=1,c=8,h=16,w=16,k=16,r=3,s=3,stride=2,pad=1",  # 32 channels would not fit a block
])
def test_other_inputs_stay_nc1hwc0(spec) -> None:
    _, graph = load_model(spec)
    exe = compile_model(graph, load_hw("ascend910"))
    assert _input_layout(exe) == "nc1hwc0"


def test_resnet_input_is_space_to_depth_for_inference_and_nc1hwc0_for_training() -> None:
    from archsim.simulate import training_graph

    config = load_hw("ascend910")
    _, graph = load_model("resnet18:image=32,width=4,classes=10", 2)
    assert _input_layout(compile_model(graph, config), "image") == "nc1hwc0_s2d"
    # the weight gradient reads the training input too, in NC1HWC0
    assert _input_layout(compile_model(training_graph(graph), config), "image") == "nc1hwc0"
