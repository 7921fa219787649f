"""Every zoo workload (reduced sizes) compiles for both DaVinci organisations and matches the
reference interpreter in functional mode; every kernel respects its roofline bound."""

from __future__ import annotations

import numpy as np
import pytest

from archsim.simulate import compile_model, load_model, run_executable
from framework import interpret
from hw import load_hw

REDUCED = [
    "resnet18:image=32,width=4,classes=10",
    "resnet50:image=32,width=4,classes=10",
    "mobilenet_v2:image=32,width_mult=0.25,classes=10",
    "vgg16:image=32,width=4,hidden=32,classes=10",
    "bert_base:seq=8,layers=2,hidden=32,heads=2,intermediate=64,vocab=100,max_positions=16",
    "gpt2_small:seq=8,layers=2,hidden=32,heads=2,vocab=100,max_positions=16",
    "gpt2_small:mode=decode,past=7,layers=2,hidden=32,heads=2,vocab=100,max_positions=16",
    "vit_tiny:image=32,patch=8,dim=32,depth=2,heads=2,classes=10",
    "mlp:features=16,hidden=32,out=4",
    "gemm:m=40,n=24,k=72",
    "conv:n=2,c=4,h=8,w=8,k=8,r=3,s=3,stride=2,pad=1",
    "elementwise:n=100,op=gelu",
    "softmax:rows=4,cols=8",
    "layernorm:rows=4,cols=8",
]

# fp16 storage between kernels against a float32 reference: relative to the output's scale
TOLERANCE = 1e-2


def _inputs(graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        t = graph.types[name]
        value = rng.integers(0, 8, t.shape) if not t.is_float else rng.standard_normal(t.shape)
        out[name] = value.astype(t.dtype)
    return out


@pytest.mark.parametrize("hw", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("spec", REDUCED)
def test_zoo_matches_the_reference(spec: str, hw: str) -> None:
    config = load_hw(hw)
    name, graph = load_model(spec)
    exe = compile_model(graph, config)
    inputs = _inputs(graph)
    result = run_executable(exe, config, "functional", inputs, graph=graph, model=name)
    expected = interpret(graph, inputs)
    for output in graph.outputs:
        want = expected[output].astype(np.float32)
        got = result.outputs[output]
        scale = max(1.0, float(np.abs(want).max()))
        assert np.abs(got - want).max() <= TOLERANCE * scale, (output, np.abs(got - want).max())
    for kernel in result.kernels:
        assert kernel.seconds >= kernel.roofline_seconds, kernel.name
        assert all(0.0 <= u <= 1.0 for u in kernel.utilization().values()), kernel.name
