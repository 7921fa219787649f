"""The reference interpreter: runs any Graph with NumPy. It is the golden model for every
numeric test in the project, so it favours plain, checkable semantics over cleverness.

Precision policy: float16 values are computed in float32 (each op's inputs are widened, its
result is rounded back to float16 when stored), which matches what fp16 hardware with fp32
accumulation produces to within one fp16 rounding per op. float32 and float64 graphs compute in
their own precision. Every stored value is cast to the dtype its TensorType declares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .errors import FrameworkError
from .evaluate import EVAL_RULES
from .ir import Graph, topological


def _check_inputs(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    missing = [name for name in graph.inputs if name not in inputs]
    if missing:
        raise FrameworkError(f"graph {graph.name!r}: missing inputs {missing} "
                             f"(expects {list(graph.inputs)})")
    unexpected = sorted(set(inputs) - set(graph.inputs))
    if unexpected:
        raise FrameworkError(f"graph {graph.name!r}: unexpected inputs {unexpected} "
                             f"(expects {list(graph.inputs)})")
    checked = {}
    for name in graph.inputs:
        array = np.asarray(inputs[name])
        want = graph.types[name]
        if tuple(array.shape) != want.shape:
            raise FrameworkError(f"graph {graph.name!r}: input {name!r} has shape "
                                 f"{tuple(array.shape)}, expected {want.shape}")
        if str(array.dtype) != want.dtype:
            raise FrameworkError(f"graph {graph.name!r}: input {name!r} has dtype {array.dtype}, "
                                 f"expected {want.dtype}")
        checked[name] = array
    return checked


def _widen(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) if a.dtype == np.float16 else a


def interpret(graph: Graph, inputs: Mapping[str, np.ndarray],
              outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Evaluate ``graph`` on ``inputs`` (name -> array) and return {output name: array}.

    ``outputs`` may name any values (including intermediates) to return instead of the graph
    outputs. Inputs must match the declared shapes and dtypes exactly. Values are freed after
    their last use, so large networks run in bounded memory.
    """
    wanted = list(graph.outputs if outputs is None else outputs)
    env: dict[str, np.ndarray] = dict(graph.constants)
    env.update(_check_inputs(graph, inputs))
    order = list(topological(graph))
    last_use: dict[str, int] = {}
    for index, node in enumerate(order):
        for name in node.inputs:
            last_use[name] = index
    keep = set(wanted) | set(graph.constants)
    for index, node in enumerate(order):
        args = [_widen(env[name]) for name in node.inputs]
        try:
            with np.errstate(all="ignore"):  # inf/nan are legitimate values of the graph
                results = EVAL_RULES[node.op](args, node.attrs)
        except FrameworkError as exc:
            raise FrameworkError(f"node {node.name!r} ({node.op}): {exc}") from None
        for out, value in zip(node.outputs, results, strict=True):
            want = graph.types[out]
            value = np.asarray(value)
            if value.dtype != want.dtype:
                value = value.astype(want.dtype)
            if value.shape != want.shape:
                raise FrameworkError(f"node {node.name!r} ({node.op}): produced shape "
                                     f"{value.shape} for {out!r}, typed {want.shape}")
            env[out] = value
        for name in node.inputs:
            if last_use.get(name) == index and name not in keep:
                env.pop(name, None)
    unknown = [name for name in wanted if name not in env]
    if unknown:
        raise FrameworkError(f"graph {graph.name!r}: no value named {unknown}")
    return {name: env[name] for name in wanted}
