"""The workload registry: DESIGN.md's model syntax, defaults, listing and error messages."""

from __future__ import annotations

import pytest

import workloads as W
from framework import FrameworkError


def test_design_md_examples_parse() -> None:
    for spec, name, key, value in [
        ("resnet50", "resnet50", "image", 224),
        ("bert_base:seq=128", "bert_base", "seq", 128),
        ("gemm:m=8192,n=4096,k=4096", "gemm", "k", 4096),
        ("conv:n=1,c=64,h=56,w=56,k=64,r=3,s=3,stride=1,pad=1", "conv", "stride", 1),
        ("gpt2_small:mode=decode,past=127", "gpt2_small", "mode", "decode"),
        ("mobilenet_v2:width_mult=0.5", "mobilenet_v2", "width_mult", 0.5),
    ]:
        entry, params = W.parse_spec(spec, W.WORKLOADS)
        assert entry.name == name and params[key] == value
        assert params["dtype"] == "float32" and params["seed"] == 0


def test_canonical_spec_lists_only_changed_parameters() -> None:
    w = W.build_workload("gemm: k=8, m=4 ,n=2")
    assert w.spec == "gemm:m=4,n=2,k=8"
    assert W.build_workload("softmax").spec == "softmax"
    assert dict(w.params) == {"m": 4, "n": 2, "k": 8, "dtype": "float32", "seed": 0}


def test_list_workloads_describes_everything() -> None:
    entries = W.list_workloads()
    names = [e.name for e in entries]
    for required in ("resnet18", "resnet50", "mobilenet_v2", "vgg16", "bert_base", "gpt2_small",
                     "vit_tiny", "mlp", "gemm", "conv", "elementwise", "softmax", "layernorm"):
        assert required in names
    for e in entries:
        assert e.description and "\n" not in e.description
        assert e.params["dtype"] == "float32" and "seed" in e.params
    assert dict(W.WORKLOADS["gpt2_small"].defaults)["past"] == 127


def test_unknown_name_lists_valid_workloads() -> None:
    with pytest.raises(FrameworkError, match=r"unknown workload 'resnet51'.*resnet50"):
        W.build("resnet51")


def test_unknown_parameter_lists_valid_ones_with_defaults() -> None:
    with pytest.raises(FrameworkError, match=r"unknown parameter 'sequence'.*seq=128"):
        W.build("bert_base:sequence=128")


@pytest.mark.parametrize("spec, message", [
    ("gemm:m=big", "not a valid int"),
    ("gemm:m", "not key=value"),
    ("gemm:m=1,m=2", "given twice"),
    ("gemm:dtype=int8", "dtype must be one of"),
    ("gpt2_small:mode=train", "mode must be"),
    ("bert_base:seq=1000", "seq must be in"),
    ("elementwise:op=cube", "op must be one of"),
    ("vgg16:image=100", "multiple of 32"),
    ("vit_tiny:image=100", "not a multiple of patch"),
])
def test_bad_parameters_name_the_workload(spec: str, message: str) -> None:
    with pytest.raises(FrameworkError, match=message):
        W.build(spec)


def test_bad_batch() -> None:
    for batch in (0, -1, True):
        with pytest.raises(FrameworkError, match="batch must be a positive int"):
            W.build("softmax", batch=batch)
