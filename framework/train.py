"""Training-step graphs: forward + loss + backward + SGD with momentum, as one ordinary Graph.

The step graph takes the model inputs, ``target``, every trained parameter (by its own name)
and its velocity (``velocity:<p>``); it returns ``loss`` and the next state under ``next:<name>``
(``next:<p>``, ``next:velocity:<p>`` and, in batch-norm training mode, ``next:<running stat>``).
Feed ``next_state(outputs)`` back in for the following step. The update is PyTorch's SGD:
``v = momentum * v + g; p = p - lr * v``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from .autodiff import grad, grad_name
from .builder import GraphBuilder
from .errors import FrameworkError
from .ir import Graph, topological
from .ops import OpCode

LOSSES = ("mse", "cross_entropy")
NEXT = "next:"


def velocity_name(param: str) -> str:
    """Input name of a parameter's momentum buffer."""
    return f"velocity:{param}"


def default_params(graph: Graph) -> list[str]:
    """Trainable constants: floating point, rank >= 1, not batch-norm running statistics."""
    stats = {n.inputs[i] for n in graph.nodes if n.op is OpCode.BATCH_NORM for i in (3, 4)}
    return [k for k, v in graph.constants.items()
            if v.ndim >= 1 and v.dtype.kind == "f" and k not in stats]


def _loss(b: GraphBuilder, pred: str, kind: str) -> str:
    shape, dtype = b.shape(pred), b.dtype(pred)
    if kind == "mse":
        target = b.input("target", shape, dtype)
        diff = b.sub(pred, target)
        return b.reduce_mean(b.mul(diff, diff), keepdims=False, name="loss")
    if len(shape) < 2:
        raise FrameworkError(f"cross_entropy needs logits of rank >= 2 (N, C, ...), got {shape}")
    # class axis 1, integer targets of shape (N, ...), mean over samples (torch.nn.CrossEntropyLoss)
    target = b.input("target", shape[:1] + shape[2:], "int64")
    logp = b.log_softmax(pred, axis=1)
    picked = b.reduce_sum(b.mul(b.one_hot(target, shape[1], axis=1, dtype=dtype), logp), 1,
                          keepdims=False)
    return b.neg(b.reduce_mean(picked, keepdims=False), name="loss")


def train_step(graph: Graph, loss: str = "mse", params: Sequence[str] | None = None,
               lr: float = 0.01, momentum: float = 0.9, output: str | None = None,
               bn_training: bool = True) -> Graph:
    """Build the training-step graph of ``graph`` (see the module docstring for its interface).

    ``loss`` is "mse" (target shaped like the prediction) or "cross_entropy" (logits (N, C, ...)
    and int64 class targets). ``params`` defaults to `default_params`; ``output`` picks the
    prediction (default: the first graph output). With ``bn_training`` every inference-mode
    batch_norm switches to batch statistics and its running statistics become state.
    """
    if loss not in LOSSES:
        raise FrameworkError(f"train_step: loss must be one of {LOSSES}, got {loss!r}")
    pred = output or graph.outputs[0]
    params = list(default_params(graph) if params is None else params)
    for p in params:
        if p not in graph.constants and p not in graph.inputs:
            raise FrameworkError(f"train_step: parameter {p!r} is not a constant or input")
    bn_nodes = [n for n in graph.nodes if n.op is OpCode.BATCH_NORM and not n.attrs.training]
    bn_names = {n.name for n in bn_nodes}
    stats = ([n.inputs[i] for n in bn_nodes for i in (3, 4)] if bn_training else [])
    b = GraphBuilder(f"{graph.name}_train")
    for name in graph.inputs:
        b.input(name, graph.types[name].shape, graph.types[name].dtype)
    state = [p for p in params if p not in graph.inputs] + list(dict.fromkeys(stats))
    for name, value in graph.constants.items():
        if name in state:
            b.input(name, value.shape, str(value.dtype))
        else:
            b.constant(value, name)
    stat_updates: dict[str, str] = {}
    for node in topological(graph):
        if bn_training and node.name in bn_names:
            y = node.outputs[0]
            outs = b.node(OpCode.BATCH_NORM, node.inputs,
                          dataclasses.replace(node.attrs, training=True),
                          outputs=[y, f"{y}:running_mean", f"{y}:running_var"], name=node.name)
            stat_updates[node.inputs[3]], stat_updates[node.inputs[4]] = outs[1], outs[2]
        else:
            b.node(node.op, node.inputs, node.attrs, outputs=node.outputs, name=node.name)
    loss_value = _loss(b, pred, loss)
    b.output(loss_value, *stat_updates.values())
    with_grads = grad(b.build(), loss_value, params, keep_outputs=True)

    b = GraphBuilder.from_graph(with_grads, keep_outputs=False)
    outputs = [loss_value]
    for p in params:
        t = b.type_of(p)
        v = b.input(velocity_name(p), t.shape, t.dtype)
        v_next = b.add(b.mul(v, momentum), grad_name(p), name=NEXT + v)
        outputs += [b.sub(p, b.mul(v_next, lr), name=NEXT + p), v_next]
    for stat, new in stat_updates.items():
        outputs.append(b.identity(new, name=NEXT + stat))
    b.set_outputs(outputs)
    return b.build(prune=True)


def initial_state(model: Graph, step: Graph) -> dict[str, np.ndarray]:
    """Starting values for a step graph's state inputs: the model's constants, zero velocities."""
    state = {}
    for name in step.inputs:
        if name.startswith("velocity:"):
            t = step.types[name]
            state[name] = np.zeros(t.shape, t.dtype)
        elif name in model.constants:
            state[name] = np.array(model.constants[name])
    return state


def next_state(outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``next:*`` outputs of a step, renamed to the inputs they feed next time."""
    return {k[len(NEXT):]: v for k, v in outputs.items() if k.startswith(NEXT)}
