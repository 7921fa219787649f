"""Reverse-mode automatic differentiation as a graph transformation.

`grad` appends the backward pass to a copy of the forward graph with one reverse sweep over
the nodes between ``wrt`` and ``loss``, applying VJP_RULES (rules are data, the sweep is the
only algorithm). Gradients of values used several times are accumulated with `add`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .builder import GraphBuilder
from .errors import FrameworkError
from .ir import Graph, topological
from .vjp import NON_DIFFERENTIABLE, VJP_RULES, ZERO_GRADIENT


def grad_name(value: str) -> str:
    """Output name of the gradient of ``value`` in a `grad` graph."""
    return f"grad:{value}"


def grad(graph: Graph, loss: str, wrt: Sequence[str], keep_outputs: bool = False) -> Graph:
    """A graph computing ``loss`` and d(sum of loss)/d(w) for each w in ``wrt``.

    Outputs are ``loss`` then ``grad:<w>`` per w (same shape and dtype as w); with
    ``keep_outputs`` the original outputs follow. ``wrt`` may name inputs, constants or
    intermediate values; a w the loss does not depend on gets a zero gradient. Nodes nothing
    needs are pruned. Raises FrameworkError naming the node if the path from a w to the loss
    crosses an op without a VJP rule.
    """
    for w in wrt:
        t = graph.type_of(w)
        if not t.is_float:
            raise FrameworkError(f"grad: cannot differentiate with respect to {w!r} ({t})")
    loss_type = graph.type_of(loss)
    if not loss_type.is_float:
        raise FrameworkError(f"grad: loss {loss!r} must be floating point, got {loss_type}")
    order = list(topological(graph))
    reach = set(wrt)  # values that depend on some w
    for node in order:
        if reach.intersection(node.inputs):
            reach.update(node.outputs)
    feeds = {loss}  # values the loss depends on
    for node in reversed(order):
        if feeds.intersection(node.outputs):
            feeds.update(node.inputs)

    b = GraphBuilder.from_graph(graph)
    pending: dict[str, list[str]] = {loss: [b.fill(loss_type.shape, 1.0, loss_type.dtype)]}

    def total(value: str) -> str | None:
        parts = pending.pop(value, [])
        if not parts:
            return None
        acc = parts[0]
        for part in parts[1:]:
            acc = b.add(acc, part)
        return acc

    finished: dict[str, str | None] = {}
    for node in reversed(order):
        if not (feeds.intersection(node.outputs) and reach.intersection(node.inputs)):
            continue
        dys = [total(out) for out in node.outputs]
        for out, dy in zip(node.outputs, dys, strict=True):
            finished[out] = dy
        if all(dy is None for dy in dys) or node.op in ZERO_GRADIENT:
            continue
        if node.op in NON_DIFFERENTIABLE:
            raise FrameworkError(f"grad: node {node.name!r} ({node.op}) is on the path to "
                                 f"{loss!r} but has no VJP rule")
        needs = [v in reach and b.type_of(v).is_float for v in node.inputs]
        grads = VJP_RULES[node.op](b, node, dys, needs)
        for v, g, need in zip(node.inputs, grads, needs, strict=True):
            if g is not None and need:
                pending.setdefault(v, []).append(g)

    outputs = [loss]
    for w in wrt:
        g = finished[w] if w in finished else total(w)
        if g is None:
            t = graph.type_of(w)
            g = b.fill(t.shape, 0.0, t.dtype)
        outputs.append(b.identity(g, name=grad_name(w)))
    if keep_outputs:
        outputs += [o for o in graph.outputs if o not in outputs]
    b.set_outputs(outputs)
    return b.build(prune=True)
