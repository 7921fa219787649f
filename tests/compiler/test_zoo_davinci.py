"""Every zoo workload (reduced sizes) compiles for both DaVinci organisations and matches the
reference interpreter in functional mode; every kernel respects its roofline bound."""

from __future__ import annotations

import pytest

from tests.compiler.model_check import check_model

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


@pytest.mark.parametrize("hw", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("spec", REDUCED)
def test_zoo_matches_the_reference(spec: str, hw: str) -> None:
    check_model(spec, hw, target="davinci")
