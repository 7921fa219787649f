"""Reading a (fused) convolution node for the DaVinci lowering: its geometry, and whether its
output can stay in L1 for the convolutions that read it (resident feature maps,
docs/compiler.md; `context.ResidentFmap`). The kernel itself is in conv.py."""

from __future__ import annotations

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
    if not readers or any(rule_key(r) not in _CONV_RULES for r in readers):
        return None
    last = max(readers, key=lambda r: ctx.position[r.name])
    span = ctx.order[ctx.position[node.name] + 1:ctx.position[last.name] + 1]
    if any(rule_key(n) not in _CONV_RULES for n in span):
        return None
    # every kernel until the last reader runs in the L1 left, image-aligned (launch_conv),
    # so that all of them share one launch
    needs = [(shape, steps, resident_input, False)]
    for other in span:
        other_inputs, other_steps, other_shape = conv_geometry(ctx, other)
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
