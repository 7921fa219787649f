"""The FUSED op: one node standing for a small subgraph (a compiler fusion group).

A FUSED node carries `FusedAttrs(kind, body)`, where ``body`` is a Graph. Its invariant, checked
by `check_fused` (the shape rule, hence by every `verify_graph`):

* ``kind`` is "conv", "matmul" or "elementwise";
* the body has no constants: every value it reads from outside is a body input, and the body's
  inputs correspond one to one, in order, to the FUSED node's inputs (same shapes and dtypes);
* the body is a *linear chain*: its FIRST node is the anchor (CONV2D for "conv"; MATMUL, GEMM or
  LINEAR for "matmul"; any elementwise op for "elementwise"), reading only body inputs; every
  later node is an elementwise op (unary, or binary with NumPy broadcasting) that reads the
  previous node's output plus at most one body input (a bias, a scale, a residual), and keeps
  the previous node's shape and dtype (the external operand broadcasts *into* the chain);
* every body node has one output, and the body's single output is the last node's output.

So a lowering can emit the anchor, then apply the epilogue to its result tile by tile without
ever materialising an intermediate: this is the contract the compiler's fusion pass produces and
the code generators consume. Evaluation interprets the body; FLOPs are the body's FLOPs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import FrameworkError
from .ir import Graph, TensorType
from .ops import BINARY_ELEMENTWISE, UNARY_ELEMENTWISE, OpCode

ELEMENTWISE_OPS = UNARY_ELEMENTWISE | BINARY_ELEMENTWISE
"""Ops allowed in an epilogue chain (and as the anchor of an "elementwise" body)."""

ANCHOR_OPS: dict[str, frozenset[OpCode]] = {
    "conv": frozenset({OpCode.CONV2D}),
    "matmul": frozenset({OpCode.MATMUL, OpCode.GEMM, OpCode.LINEAR}),
    "elementwise": ELEMENTWISE_OPS,
}
"""Which ops may be the first node of a body of each kind."""


def _check_chain(body: Graph, where: str) -> None:
    """The linear-chain invariant of the module docstring, or FrameworkError."""
    inputs = set(body.inputs)
    previous: str | None = None
    for index, node in enumerate(body.nodes):
        at = f"{where}: body node {index} ({node.op})"
        if len(node.outputs) != 1:
            raise FrameworkError(f"{at}: has {len(node.outputs)} outputs, a chain node needs 1")
        if index == 0:
            if not inputs.issuperset(node.inputs):
                raise FrameworkError(f"{at}: the anchor may read only body inputs")
        else:
            if node.op not in ELEMENTWISE_OPS:
                raise FrameworkError(f"{at}: epilogue ops must be elementwise")
            if previous not in node.inputs:
                raise FrameworkError(f"{at}: does not read the previous result {previous!r}")
            external = {v for v in node.inputs if v != previous}
            if not inputs.issuperset(external) or len(external) > 1:
                raise FrameworkError(f"{at}: may read at most one body input besides "
                                     f"{previous!r}, reads {sorted(external)}")
            before, after = body.types[previous], body.types[node.outputs[0]]
            if (before.shape, before.dtype) != (after.shape, after.dtype):
                raise FrameworkError(f"{at}: changes the chain type {before} to {after}")
        previous = node.outputs[0]
    if tuple(body.outputs) != (previous,):
        raise FrameworkError(f"{where}: body outputs {list(body.outputs)} must be exactly the "
                             f"last node's output {previous!r}")


def check_fused(ts: tuple[TensorType, ...], at: Any) -> tuple[TensorType, ...]:
    """Shape rule of FUSED: validate the body against the invariant, return its output types."""
    body: Graph = at.body
    where = f"fused {at.kind} body {body.name!r}"
    if not body.nodes:
        raise FrameworkError(f"{where}: has no nodes")
    if body.constants:
        raise FrameworkError(f"{where}: may not hold constants (pass them as inputs)")
    if len(body.inputs) != len(ts):
        raise FrameworkError(f"{where}: takes {len(body.inputs)} inputs, the node gives {len(ts)}")
    for name, t in zip(body.inputs, ts, strict=True):
        declared = body.types[name]
        if (declared.shape, declared.dtype) != (t.shape, t.dtype):
            raise FrameworkError(f"{where}: input {name!r} is typed {declared}, the node "
                                 f"passes {t}")
    if body.nodes[0].op not in ANCHOR_OPS[at.kind]:
        raise FrameworkError(f"{where}: first node {body.nodes[0].op} is not a {at.kind} anchor")
    _check_chain(body, where)
    from .verify import verify_graph  # verify imports shapes, which imports this module

    verify_graph(body)
    return tuple(body.types[o] for o in body.outputs)


def eval_fused(xs: Sequence[np.ndarray], at: Any) -> tuple[np.ndarray, ...]:
    """EVAL rule of FUSED: run the body with the reference interpreter.

    Inputs arrive widened (float16 as float32); they are stored back in the body's declared
    dtypes first, which is exact because they were widened from those dtypes.
    """
    from .interpreter import interpret  # the interpreter imports the EVAL_RULES table

    body: Graph = at.body
    feeds = {name: np.asarray(x).astype(body.types[name].dtype, copy=False)
             for name, x in zip(body.inputs, xs, strict=True)}
    results = interpret(body, feeds)
    return tuple(results[o] for o in body.outputs)
