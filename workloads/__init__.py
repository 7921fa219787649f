"""workloads: the model zoo and microbenchmarks, written with the framework.

A workload is named by DESIGN.md's model syntax, ``name`` or ``name:key=value,...``
(``resnet50``, ``bert_base:seq=128``, ``gemm:m=8192,n=4096,k=4096``,
``gpt2_small:mode=decode,past=127``). `build` returns the traced Graph; `instantiate` the
eval-mode module with its input types (to run eagerly); `build_workload` also
returns its FLOPs, multiply-accumulates and parameter count; `list_workloads` describes every
entry with its parameters and defaults. Every workload takes ``dtype`` (float32 by default,
float16 or float64) and ``seed`` (weights are random, drawn from ``np.random.default_rng(seed)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from framework import Graph

from . import micro
from .bert import BERT_DEFAULTS, bert_base
from .common import Model
from .gpt2 import GPT2_DEFAULTS, gpt2_small
from .mobilenet import MOBILENET_DEFAULTS, mobilenet_v2
from .registry import (
    Workload,
    WorkloadDef,
    build_from,
    graph_macs,
    instantiate_from,
    parse_spec,
)
from .resnet import RESNET_DEFAULTS, resnet18, resnet50
from .vgg import VGG_DEFAULTS, vgg16
from .vit import VIT_DEFAULTS, vit_tiny

_ENTRIES = (
    WorkloadDef("resnet18", "ResNet-18 image classifier (11.7 M params, 1.8 GMACs at 224)",
                RESNET_DEFAULTS, resnet18),
    WorkloadDef("resnet50", "ResNet-50 image classifier (25.6 M params, 4.1 GMACs at 224)",
                RESNET_DEFAULTS, resnet50),
    WorkloadDef("mobilenet_v2", "MobileNetV2 with depthwise convs (3.5 M params, 0.3 GMACs)",
                MOBILENET_DEFAULTS, mobilenet_v2),
    WorkloadDef("vgg16", "VGG-16 plain conv net (138 M params, 15.5 GMACs at 224)",
                VGG_DEFAULTS, vgg16),
    WorkloadDef("bert_base", "BERT-base encoder, input_ids (batch, seq) (110 M params)",
                BERT_DEFAULTS, bert_base),
    WorkloadDef("gpt2_small", "GPT-2 small decoder, prefill of seq tokens or one-token decode "
                "after a KV cache of past positions (124 M params)", GPT2_DEFAULTS, gpt2_small),
    WorkloadDef("vit_tiny", "ViT-Tiny/16 vision transformer (5.7 M params)", VIT_DEFAULTS,
                vit_tiny),
    WorkloadDef("mlp", "multi-layer perceptron with ReLU", micro.MLP_DEFAULTS, micro.mlp),
    WorkloadDef("gemm", "one matrix product (batch, m, k) @ (k, n)", micro.GEMM_DEFAULTS,
                micro.gemm),
    WorkloadDef("conv", "one conv layer, input (batch*n, c, h, w), weight (k, c, r, s)",
                micro.CONV_DEFAULTS, micro.conv),
    WorkloadDef("elementwise", "one elementwise op over (batch, n); op is one of "
                + ", ".join(sorted(micro.UNARY) + sorted(micro.BINARY)),
                micro.ELEMENTWISE_DEFAULTS, micro.elementwise),
    WorkloadDef("softmax", "softmax over the last dim of (batch, rows, cols)",
                micro.SOFTMAX_DEFAULTS, micro.softmax),
    WorkloadDef("layernorm", "layer norm over the last dim of (batch, rows, cols)",
                micro.LAYERNORM_DEFAULTS, micro.layernorm),
)

WORKLOADS: Mapping[str, WorkloadDef] = MappingProxyType({w.name: w for w in _ENTRIES})
"""Every zoo entry by name."""


def build_workload(spec: str, batch: int = 1) -> Workload:
    """Build ``spec`` at ``batch`` and return the graph with its FLOPs, MACs and parameters."""
    return build_from(WORKLOADS, spec, batch)


def instantiate(spec: str, batch: int = 1) -> Model:
    """The eval-mode `Model` of ``spec`` (module, input types), to run eagerly or trace."""
    return instantiate_from(WORKLOADS, spec, batch)[2]


def build(spec: str, batch: int = 1) -> Graph:
    """The traced Graph of workload ``spec`` with ``batch`` as the leading input dimension.

    Unknown names or parameters raise FrameworkError listing the valid ones.
    """
    return build_workload(spec, batch).graph


def list_workloads() -> list[WorkloadDef]:
    """Every workload: name, one-line description and parameters with defaults (`params`)."""
    return list(_ENTRIES)


__all__ = [
    "WORKLOADS",
    "Model",
    "Workload",
    "WorkloadDef",
    "build",
    "build_workload",
    "graph_macs",
    "instantiate",
    "list_workloads",
    "parse_spec",
]
