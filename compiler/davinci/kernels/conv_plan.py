"""Reading a (fused) convolution node for the DaVinci lowering: its geometry, whether a 1x1
shortcut convolution folds into the convolution that adds it (`shortcut_reader`), and whether
its output can stay in L1 for the convolutions that read it (resident feature maps,
docs/compiler.md; `context.ResidentFmap`). The kernel itself is in conv.py."""

from __future__ import annotations

import dataclasses

import numpy as np

from compiler.davinci.context import LoweringContext, ResidentFmap
from compiler.davinci.kernels.conv_tiling import ConvShape, choose_conv_tiling
from compiler.davinci.kernels.epilogue import Step, steps_from_fused, ub_bytes_per_element
from compiler.errors import CompileError
from compiler.rules import rule_key
from framework import Node, OpCode
from isa.davinci.types import BLOCK_BYTES as BLOCK


def conv_geometry(ctx: LoweringContext, node: Node) -> tuple[list[str], list[Step], ConvShape]:
    """(outer inputs of the anchor convolution, then the bias if any; epilogue steps; shape)
    of a plain or fused convolution, as stored (before any space-to-depth rewrite)."""
    if node.op is OpCode.FUSED:
        anchor, inputs, steps = steps_from_fused(ctx, node)
    else:
        anchor, inputs, steps = node, list(node.inputs), []
    at = anchor.attrs
    if len(inputs) > 2:
        steps = [Step("bias", OpCode.ADD, value=inputs[2]), *steps]
    n, c, h, w = ctx.type_of(inputs[0]).shape
    out_type = ctx.type_of(node.outputs[0])
    cout, ho, wo = out_type.shape[1], out_type.shape[2], out_type.shape[3]
    weight_shape = ctx.type_of(inputs[1]).shape
    depthwise = at.groups > 1
    if depthwise and not (at.groups == c == cout):
        raise CompileError(f"{node.name}: grouped convolution with groups={at.groups} "
                           f"(only 1 or depthwise) has no DaVinci lowering")
    pt, pl, pb, pr = at.padding
    shape = ConvShape(n, -(-c // 16), h, w, cout, weight_shape[2], weight_shape[3],
                      at.stride[0], at.stride[1], at.dilation[0], at.dilation[1], pt, pl, pb, pr,
                      ho, wo, depthwise)
    return inputs, steps, shape


_CONV_RULES = (OpCode.CONV2D, ("fused", "conv"))


def shortcut_reader(ctx: LoweringContext, node: Node) -> Node | None:
    """The convolution that computes ``node``, a shortcut convolution, in its own accumulator.

    ResNet's projection shortcut ``relu(conv3(x2) + b3 + ds(x0) + bds)`` is one convolution
    over both inputs: conv3's K rows, then the shortcut's, into one L0C tile, with the
    biases summed. This holds when ``node`` is a 1x1 unpadded convolution with constant
    weights and at most a bias in its epilogue, read only by a 1x1 stride-1 unpadded
    convolution (constant weights, coupled chip: the add is in its epilogue) that adds it
    (after its biases, before anything else) to its output, and when the tilings' estimates
    say the one convolution is no slower than the two (a large shortcut whose weights stream
    through L1 can be slower folded: ResNet-50's layer4 at batch 32). The shortcut's output
    then never exists, and its input is read by the reader (`folded_geometry`)."""
    if not getattr(ctx.options, "fold_shortcuts", True) or rule_key(node) not in _CONV_RULES:
        return None
    if node.name not in ctx.folds:
        ctx.folds[node.name] = _shortcut_reader(ctx, node)
    return ctx.folds[node.name]


def _shortcut_reader(ctx: LoweringContext, node: Node) -> Node | None:
    out = node.outputs[0]
    readers = ctx.readers(out)
    if out in ctx.graph.outputs or len(readers) != 1 or rule_key(readers[0]) not in _CONV_RULES:
        return None
    reader = readers[0]
    inputs, steps, shape = conv_geometry(ctx, node)
    r_inputs, r_steps, r_shape = conv_geometry(ctx, reader)
    if not (_pointwise(shape) and _pointwise(r_shape) and r_shape.sh == r_shape.sw == 1):
        return None
    if not all(ctx.is_constant(v) for v in (inputs[1], r_inputs[1])) or out in r_inputs:
        return None
    biases = [step for step in steps if step.kind == "bias"]
    add = next((i for i, step in enumerate(r_steps) if step.kind != "bias"), None)
    if len(biases) != len(steps) or add is None or r_steps[add].value != out \
            or r_steps[add].kind != "binary" or r_steps[add].op is not OpCode.ADD \
            or any(step.value == out for step in r_steps[add + 1:]):
        return None
    if not all(ctx.is_constant(step.value) for step in (*biases, *r_steps[:add])):
        return None
    if ctx.target.organisation != "coupled" or \
            any(ctx.layout_of(v) != "nc1hwc0" for v in (inputs[0], r_inputs[0])):
        return None
    folded = dataclasses.replace(r_shape, shortcut=shape)
    try:
        apart = sum(_estimate(ctx, conv_shape, conv_steps)
                    for conv_shape, conv_steps in ((shape, steps), (r_shape, r_steps)))
        together = _estimate(ctx, folded, r_steps[add + 1:])
    except CompileError:
        return None
    return reader if together <= apart else None


def _estimate(ctx: LoweringContext, shape: ConvShape, steps: list[Step]) -> int:
    """The estimated cycles of a convolution's tiling, all of L1 free."""
    return choose_conv_tiling(ctx.target, shape, ub_bytes_per_element(steps), False,
                              ctx.merge_launches).estimate_cycles


def _pointwise(s: ConvShape) -> bool:
    return s.kh == s.kw == 1 and not s.depthwise and not (s.pt or s.pl or s.pb or s.pr)


def folded_shortcut(ctx: LoweringContext, node: Node) -> Node | None:
    """The shortcut convolution folded into ``node`` (`shortcut_reader`), if any."""
    if rule_key(node) not in _CONV_RULES:
        return None
    for step in conv_geometry(ctx, node)[1]:
        writer = ctx.writer(step.value) if step.kind == "binary" else None
        if writer is not None and shortcut_reader(ctx, writer) is node:
            return writer
    return None


def folded_geometry(ctx: LoweringContext, node: Node
                    ) -> tuple[list[str], list[Step], ConvShape, Node | None]:
    """`conv_geometry` of ``node`` as lowered: with a shortcut folded in, the shape carries
    the shortcut's input (`ConvShape.shortcut`), the epilogue loses the add and its biases
    become one bias step with no graph value (`shortcut_bias`); and the shortcut node."""
    inputs, steps, shape = conv_geometry(ctx, node)
    shortcut = folded_shortcut(ctx, node)
    if shortcut is None:
        return inputs, steps, shape, None
    _, sc_steps, sc_shape = conv_geometry(ctx, shortcut)
    add = next(i for i, step in enumerate(steps) if step.kind != "bias")
    biased = any(step.kind == "bias" for step in (*steps, *sc_steps))
    folded = ([Step("bias", OpCode.ADD)] if biased else []) + steps[add + 1:]
    return inputs[:2], folded, dataclasses.replace(shape, shortcut=sc_shape), shortcut


def shortcut_weights(ctx: LoweringContext, node: Node, shortcut: Node) -> np.ndarray:
    """The weights of ``node`` with the shortcut's as further input channels (each source's
    channels padded to whole C0 blocks, as img2col reads them)."""
    weights = []
    for conv in (node, shortcut):
        w = ctx.constant(conv_geometry(ctx, conv)[0][1])
        weights.append(np.pad(w, ((0, 0), (0, -w.shape[1] % 16), (0, 0), (0, 0))))
    return np.concatenate(weights, axis=1)


def shortcut_bias(ctx: LoweringContext, node: Node, shortcut: Node) -> np.ndarray:
    """The sum of the biases of ``node`` and of its folded shortcut."""
    cout = ctx.type_of(node.outputs[0]).shape[1]
    total = np.zeros(cout, dtype=np.float32)
    for conv in (node, shortcut):
        for step in conv_geometry(ctx, conv)[1]:
            if step.kind == "bias":
                bias = np.broadcast_to(ctx.constant(step.value).reshape(-1), (cout,))
                total += bias * step.scalar if step.scalar else bias
    return total


def keep_on_chip(ctx: LoweringContext, node: Node, shape: ConvShape, steps: list[Step],
                  resident_input: bool) -> ResidentFmap | None:
    """Reserve L1 for ``node``'s output on every core, if it can stay there: batch-parallel
    (each core computes and reads back its own images), read only by later convolutions,
    each once, as its input or as its epilogue's residual, with only convolutions lowered
    until the last reader (their tilings then see the smaller L1), and all of these have an
    image-aligned tiling in the L1 left."""
    out = node.outputs[0]
    target = ctx.target
    if not ctx.keep_on_chip or out in ctx.graph.outputs or shape.n % target.cores:
        return None
    readers = ctx.readers(out)
    # (a folded shortcut's input is read from GM by the convolution it folds into)
    if not readers or any(rule_key(r) not in _CONV_RULES or shortcut_reader(ctx, r)
                          for r in readers):
        return None
    last = max(readers, key=lambda r: ctx.position[r.name])
    span = [n for n in ctx.order[ctx.position[node.name] + 1:ctx.position[last.name] + 1]
            if rule_key(n) not in _CONV_RULES or not shortcut_reader(ctx, n)]  # (no kernel)
    if any(rule_key(n) not in _CONV_RULES for n in span):
        return None
    # every kernel until the last reader runs in the L1 left, image-aligned (launch_conv),
    # so that all of them share one launch
    needs = [(shape, steps, resident_input, False)]
    for other in span:
        other_inputs, other_steps, other_shape, _ = folded_geometry(ctx, other)
        as_input = other_inputs[0] == out
        as_residual = any(step.kind == "binary" and step.value == out for step in other_steps)
        if (as_input and as_residual) or out in other_inputs[1:] or \
                any(step.kind != "binary" and step.value == out for step in other_steps):
            return None
        in_l1 = other_inputs[0] in ctx.live_l1
        if not (in_l1 or as_input) and ctx.layout_of(other_inputs[0]) != "nc1hwc0":
            return None  # (a space-to-depth input changes the shape)
        needs.append((other_shape, other_steps, in_l1, as_input))
    images = shape.n // target.cores
    nbytes = images * -(-shape.cout // 16) * shape.ho * shape.wo * BLOCK
    limit = (ctx.l1_limit() - nbytes) // 512 * 512
    # taken when the tilings' estimates say it is no slower: the kernels lose L1 for their
    # own buffers, and the readers load no input rows (the GM stores the writer saves are
    # not counted: the estimates hide them behind the Cube work, which is conservative)
    kept = in_gm = 0
    try:
        for need_shape, need_steps, in_l1, as_input in needs:
            extra = ub_bytes_per_element(need_steps)
            kept += choose_conv_tiling(target, need_shape, extra, False, True, limit,
                                       in_l1 or as_input, aligned=True).estimate_cycles
            in_gm += choose_conv_tiling(target, need_shape, extra, False, True,
                                        ctx.l1_limit(), in_l1).estimate_cycles
    except CompileError:
        return None
    if kept > in_gm:
        return None
    return ctx.reserve_l1(out, nbytes, node.name, last.name)
