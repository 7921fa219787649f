"""The zoo: published parameter counts and MACs are pinned, and every model gives the same
numbers eagerly and traced (interpreted) at reduced size.

Published figures: ResNet-18 11.7 M / 1.8 GMACs and ResNet-50 25.6 M / 4.1 GMACs (He et al.
2016, table 1; torchvision model cards); MobileNetV2 3.5 M / 300 M MACs (Sandler et al. 2018,
table 4); VGG-16 138 M (Simonyan & Zisserman 2015, table 2); BERT-base 110 M (Devlin et al.
2019; 109.5 M counted with embeddings and pooler); GPT-2 small 124 M (Hugging Face model card,
tied embeddings); ViT-Ti 5.7 M (Touvron et al. 2021, DeiT table 1).
"""

from __future__ import annotations

import numpy as np
import pytest

import workloads as W
from framework import interpret, verify_graph

FAST_FULL_SIZE = [
    # spec, published params, published MACs (or None), exact count of the reference code
    ("resnet18", 11.7e6, 1.8e9, 11_689_512),  # torchvision sum(p.numel())
    ("resnet50", 25.6e6, 4.1e9, 25_557_032),  # torchvision
    ("mobilenet_v2", 3.5e6, 0.300e9, 3_504_872),  # torchvision
    ("vit_tiny", 5.7e6, 1.26e9, 5_717_416),  # timm vit_tiny_patch16_224
    ("bert_base", 109.5e6, None, 109_482_240),  # Hugging Face BertModel (bert-base-uncased)
    ("gpt2_small", 124e6, None, 124_439_808),  # Hugging Face GPT2LMHeadModel, tied lm_head
]
SLOW_FULL_SIZE = [
    ("vgg16", 138e6, 15.5e9, 138_357_544),  # 138 M float32 weights: 1.5-3 s to draw and copy
]


def _check_figures(spec: str, params: float, macs: float | None, exact: int) -> None:
    w = W.build_workload(spec)
    assert w.param_count == pytest.approx(params, rel=0.01)  # published, within 1 %
    assert w.param_count == exact
    if macs is not None:
        assert w.macs == pytest.approx(macs, rel=0.03)  # published, within 3 %
    assert w.flops >= 2 * w.macs


@pytest.mark.parametrize("spec, params, macs, exact", FAST_FULL_SIZE,
                         ids=[s[0] for s in FAST_FULL_SIZE])
def test_full_size_published_figures(spec: str, params: float, macs: float | None,
                                     exact: int) -> None:
    _check_figures(spec, params, macs, exact)


@pytest.mark.slow
@pytest.mark.parametrize("spec, params, macs, exact", SLOW_FULL_SIZE,
                         ids=[s[0] for s in SLOW_FULL_SIZE])
def test_full_size_published_figures_large(spec: str, params: float, macs: float | None,
                                           exact: int) -> None:
    _check_figures(spec, params, macs, exact)


def test_vgg16_parameter_count_by_parts() -> None:
    """The conv stack at full size plus the classifier formula give torchvision's 138,357,544
    (the full classifier's 123 M weights are only built in the slow tier)."""
    w = W.build_workload("vgg16:hidden=16")
    classifier = 512 * 7 * 7 * 16 + 16 + 16 * 16 + 16 + 16 * 1000 + 1000
    convs = w.param_count - classifier
    assert convs == 14_714_688
    full = 512 * 7 * 7 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert convs + full == 138_357_544


def test_resnet50_exact_torchvision_counts() -> None:
    w = W.build_workload("resnet50")
    assert w.graph.type_of("image").shape == (1, 3, 224, 224)
    assert w.macs == 4_089_184_256  # conv + fc multiply-accumulates at 224x224
    assert len([n for n in w.graph.nodes if n.op.value == "conv2d"]) == 53


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
    "gemm:m=8,n=16,k=4",
    "conv:n=2,c=4,h=8,w=8,k=8,r=3,s=3,stride=2,pad=1",
    "elementwise:n=100,op=gelu",
    "elementwise:n=100,op=div",
    "softmax:rows=4,cols=8",
    "layernorm:rows=4,cols=8",
    "resnet18:image=32,width=4,classes=10,dtype=float16",
    "gpt2_small:mode=decode,past=7,layers=2,hidden=32,heads=2,vocab=100,max_positions=16,"
    "dtype=float16",
]


@pytest.mark.parametrize("spec", REDUCED)
def test_eager_equals_interpreted_graph(spec: str) -> None:
    model = W.instantiate(spec, batch=2)
    graph = model.trace()
    verify_graph(graph)
    inputs = model.example_inputs(np.random.default_rng(0))
    eager = model.run(inputs)
    traced = interpret(graph, inputs)
    assert list(traced) == list(graph.outputs) and set(eager) == set(traced)
    for name, value in traced.items():
        assert value.dtype == eager[name].dtype
        assert np.isfinite(value).all(), name
        np.testing.assert_array_equal(value, eager[name], err_msg=name)


def test_every_workload_is_covered_by_the_reduced_set() -> None:
    assert {s.split(":")[0] for s in REDUCED} == set(W.WORKLOADS)


TINY_GPT = "layers=2,hidden=32,heads=2,vocab=100,max_positions=16"


def test_gpt2_decode_with_cache_equals_prefill() -> None:
    """Prefill of 8 tokens, then decoding token 9 with that KV cache, gives the same logits
    as a prefill of all 9 tokens (the cache is consistent with the full computation)."""
    ids = np.random.default_rng(3).integers(0, 100, (1, 9))
    full = W.instantiate(f"gpt2_small:seq=9,{TINY_GPT}").run({"input_ids": ids})
    prefix = W.instantiate(f"gpt2_small:seq=8,{TINY_GPT}").run({"input_ids": ids[:, :8]})
    decode = W.instantiate(f"gpt2_small:mode=decode,past=8,{TINY_GPT}")
    cache = {f"past_{kind}_{i}": prefix[f"present_{kind}_{i}"]
             for i in range(2) for kind in ("key", "value")}
    step = decode.run({"input_ids": ids[:, 8:], **cache})
    np.testing.assert_allclose(step["logits"][:, 0], full["logits"][:, 8], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(step["present_key_1"], full["present_key_1"], rtol=1e-4,
                               atol=1e-6)


def test_gpt2_decode_graph_interface() -> None:
    g = W.build("gpt2_small:mode=decode,past=5," + TINY_GPT, batch=3)
    assert g.inputs[0] == "input_ids" and g.type_of("input_ids").shape == (3, 1)
    assert g.type_of("past_key_1").shape == (3, 2, 5, 16)
    assert g.type_of("present_value_0").shape == (3, 2, 6, 16)
    assert g.type_of("logits").shape == (3, 1, 100)


def test_batch_is_the_leading_dimension_and_dtype_applies() -> None:
    g = W.build("resnet18:image=32,width=4,dtype=float16", batch=4)
    assert g.type_of("image").shape == (4, 3, 32, 32)
    assert g.type_of("image").dtype == "float16" and g.type_of("logits").dtype == "float16"
    assert {c.dtype for c in g.constants.values()} == {np.dtype("float16")}
    assert W.build("bert_base:seq=8,layers=1,hidden=32,heads=2,intermediate=64,vocab=50",
                   batch=2).type_of("input_ids").shape == (2, 8)


def test_same_seed_same_weights_different_seed_different() -> None:
    spec = "mlp:features=8,hidden=8,out=2"
    a, b = W.build(spec), W.build(spec)
    c = W.build(spec + ",seed=1")
    for name in a.constants:
        np.testing.assert_array_equal(a.constants[name], b.constants[name])
    assert not np.array_equal(a.constants["net.0.weight"], c.constants["net.0.weight"])


def test_microbenchmark_costs() -> None:
    assert W.build_workload("gemm:m=8192,n=4096,k=4096").macs == 8192 * 4096 * 4096
    conv = W.build_workload("conv:n=1,c=64,h=56,w=56,k=64,r=3,s=3,stride=1,pad=1")
    assert conv.macs == 56 * 56 * 64 * 64 * 9 and conv.param_count == 64 * 64 * 9
    assert W.build("conv:n=2,c=3,h=9,w=9,k=4,stride=2,pad=0", batch=3).type_of("y").shape == \
        (6, 4, 4, 4)
    assert W.build_workload("elementwise:n=1000,op=add", batch=2).flops == 2000
