"""SIMT element-wise, movement, row (softmax / layer norm) and gather kernels, and reduced
zoo transformers, against the reference interpreter on the a100 preset."""

from __future__ import annotations

import numpy as np
import pytest

from archsim.simulate import compile_model
from compiler.errors import CompileError
from compiler.simt.elementwise import Operand, Step, emit_elementwise
from framework import GraphBuilder
from hw import load_hw
from hw.simt import SimOptions, run_kernel
from tests.compiler.simt_harness import check_model


@pytest.mark.parametrize("spec", ["elementwise:n=100,op=gelu", "softmax:rows=5,cols=100",
                                  "layernorm:rows=4,cols=40"])
def test_micro_workloads_match_the_reference(spec: str) -> None:
    check_model(spec)


def test_fused_chain_with_broadcast_transpose_and_slice() -> None:
    b = GraphBuilder("chain")
    x = b.input("x", (2, 3, 8))
    y = b.input("y", (8,))
    t = b.transpose(b.sigmoid(b.mul(b.add(x, y), 0.5)), (0, 2, 1))
    b.output(b.tanh(t))
    check_model(b.build())


def test_vectorised_path_uses_128_bit_accesses() -> None:
    shape = (4, 64)
    kernel = emit_elementwise("v", shape, 1024, (64, 1), (Operand(0, (64, 1)),),
                              (Step("relu", (("in", 0),)),))
    assert any(getattr(i, "width", 0) == 128 for i in kernel.program.instructions)
    gm = np.zeros(2048, np.uint8)
    x = np.linspace(-2, 2, 256).astype(np.float16).reshape(shape)
    gm[:512] = x.view(np.uint8).ravel()
    run_kernel(kernel, load_hw("a100"), SimOptions(mode="functional"), gmem=gm)
    got = gm[1024:1536].view(np.float16).reshape(shape)
    assert np.array_equal(got, np.maximum(x, 0))


def test_reduced_bert_matches_the_reference() -> None:
    exe, _ = check_model("bert_base:seq=8,layers=1,hidden=32,heads=2,intermediate=64,"
                         "vocab=100,max_positions=16")
    ops = {k.op for k in exe.kernels}
    assert {"gather", "layer_norm", "softmax", "linear"} <= ops


def test_odd_k_is_padded_with_zeros() -> None:
    check_model("gemm:m=40,n=20,k=30")


def test_unsupported_ops_are_named_in_a_compile_error() -> None:
    b = GraphBuilder("unsupported")
    x = b.input("x", (4, 8))
    b.output(b.greater(x, b.relu(x)))
    with pytest.raises(CompileError, match="no SIMT \\(GPU\\) lowering for: greater"):
        compile_model(b.build(), load_hw("a100"))


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max"])
@pytest.mark.parametrize("axes", [(2,), (1,), (0, 2)])
def test_reductions_match_the_reference(op: str, axes: tuple[int, ...]) -> None:
    b = GraphBuilder("reduce")
    x = b.input("x", (3, 5, 40))
    b.output(getattr(b, op)(x, axes=axes))
    check_model(b.build())


def test_masked_attention_gpt2_matches_the_reference() -> None:
    check_model("gpt2_small:seq=8,layers=1,hidden=32,heads=2,vocab=100,max_positions=16")


@pytest.mark.parametrize("spec", ["conv:n=2,c=4,h=8,w=8,k=8,r=3,s=3,stride=2,pad=1",
                                  "resnet18:image=32,width=4,classes=10"])
def test_convolution_and_pooling_match_the_reference(spec: str) -> None:
    exe, _ = check_model(spec)
    assert all(exe.placements[v].layout == "nhwc" for v in exe.placements
               if v.endswith(":conv"))
