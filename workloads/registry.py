"""The workload registry: model-spec parsing (DESIGN.md's ``name:key=value,...`` syntax), the
table of workloads with their parameters and defaults, and the `Workload` record (graph, FLOPs,
multiply-accumulates and parameter count)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from framework import FrameworkError, Graph, OpCode, graph_flops, graph_params
from framework.flops import node_flops

from .common import Model

#: parameters every workload accepts, with their defaults
COMMON_PARAMS: Mapping[str, Any] = MappingProxyType({"dtype": "float32", "seed": 0})
FLOAT_DTYPES = ("float16", "float32", "float64")

#: ops whose FLOPs are multiply-accumulates (2 FLOPs each); the published "GMACs"/"GFLOPs" of
#: CNNs (e.g. ResNet-50's 4.1 G, He et al. 2016 table 1) count exactly these
MAC_OPS = frozenset({OpCode.CONV2D, OpCode.CONV_TRANSPOSE2D, OpCode.MATMUL, OpCode.GEMM,
                     OpCode.LINEAR})

Builder = Callable[..., Model]


@dataclass(frozen=True)
class WorkloadDef:
    """One zoo entry: ``build(batch=..., **params) -> Model`` with typed defaults."""

    name: str
    description: str
    defaults: Mapping[str, Any]
    build: Builder = field(repr=False)

    @property
    def params(self) -> dict[str, Any]:
        """All parameters with defaults, the common ones (dtype, seed) included."""
        return {**self.defaults, **COMMON_PARAMS}


@dataclass(frozen=True)
class Workload:
    """A built workload: the graph and its analytic size.

    ``flops`` is `graph_flops` (multiply-add = 2, elementwise ops included); ``macs`` counts only
    the multiply-accumulates of convolutions and matrix products (the figure papers quote);
    ``param_count`` is `graph_params` (trainable constants, batch-norm statistics excluded).
    """

    spec: str
    name: str
    params: Mapping[str, Any]
    batch: int
    graph: Graph = field(repr=False)
    flops: int
    macs: int
    param_count: int


def graph_macs(graph: Graph) -> int:
    """Multiply-accumulates of the convolution and matrix-product nodes of ``graph``."""
    return sum(node_flops(graph, n) for n in graph.nodes if n.op in MAC_OPS) // 2


def _convert(name: str, key: str, text: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise FrameworkError(f"workload {name!r}: parameter {key}={text!r} is not a valid "
                             f"{type(default).__name__}") from None
    return text


def parse_spec(spec: str, table: Mapping[str, WorkloadDef]) -> tuple[WorkloadDef, dict[str, Any]]:
    """Split ``name:key=value,...`` into the entry and its full parameter dict (defaults filled).

    Unknown names or parameters raise FrameworkError listing the valid ones.
    """
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if name not in table:
        raise FrameworkError(f"unknown workload {name!r}; valid workloads: {sorted(table)}")
    entry = table[name]
    params = entry.params
    given: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq:
            raise FrameworkError(f"workload {name!r}: parameter {item!r} is not key=value")
        if key not in params:
            valid = ", ".join(f"{k}={v}" for k, v in params.items())
            raise FrameworkError(f"workload {name!r}: unknown parameter {key!r}; valid "
                                 f"parameters (with defaults): {valid}")
        if key in given:
            raise FrameworkError(f"workload {name!r}: parameter {key!r} given twice")
        given[key] = _convert(name, key, text.strip(), params[key])
    merged = {**params, **given}
    if merged["dtype"] not in FLOAT_DTYPES:
        raise FrameworkError(f"workload {name!r}: dtype must be one of {FLOAT_DTYPES}, "
                             f"got {merged['dtype']!r}")
    return entry, merged


def canonical_spec(name: str, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """``name`` plus the parameters that differ from their defaults, in table order."""
    changed = [f"{k}={v}" for k, v in params.items() if v != defaults[k]]
    return name + (":" + ",".join(changed) if changed else "")


def instantiate_from(table: Mapping[str, WorkloadDef], spec: str,
                     batch: int) -> tuple[WorkloadDef, dict[str, Any], Model]:
    """Parse ``spec`` and make its eval-mode `Model` at ``batch``."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise FrameworkError(f"workload {spec!r}: batch must be a positive int, got {batch!r}")
    entry, params = parse_spec(spec, table)
    return entry, params, entry.build(batch=batch, **params)


def build_from(table: Mapping[str, WorkloadDef], spec: str, batch: int) -> Workload:
    """Parse ``spec``, trace its model at ``batch`` and measure the graph."""
    entry, params, model = instantiate_from(table, spec, batch)
    graph = model.trace()
    return Workload(canonical_spec(entry.name, params, entry.params), entry.name,
                    MappingProxyType(params), batch, graph, graph_flops(graph),
                    graph_macs(graph), graph_params(graph))
