"""Lowering rules for convolution (CONV2D and fused "conv" groups) and pooling on NHWC
feature maps.

A convolution runs as a GEMM whose A is the im2col matrix (rows = output pixels N*OH*OW,
columns = (r, s, c) padded with zeros to a multiple of 16) and whose B^T is the weight as
OC x (R*S*C): the GEMM's row-major C *is* the NHWC output. A 1x1, stride-1, unpadded
convolution with C a multiple of 16 reads the NHWC input directly (no im2col). Bias and ReLU
are fused into the GEMM epilogue; other epilogues (residual adds) run as a chain kernel.
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.kernels.epilogue import Step, steps_from_fused
from compiler.errors import CompileError
from compiler.simt.context import SimtContext
from compiler.simt.gemm import GemmSpec, emit_gemm
from compiler.simt.gemm_tiling import choose_tile
from compiler.simt.kernels.elementwise import lower_chain
from compiler.simt.kernels.matmul import gemm_epilogue
from compiler.simt.lower import kernel_name, rule
from compiler.simt.window import Window, emit_depthwise, emit_im2col, emit_pool
from framework import Node, OpCode, TensorType


def _window(ctx: SimtContext, x: str, out: str, r: int, s: int, attrs: object) -> Window:
    n, c, h, w = ctx.type_of(x).shape
    _, _, oh, ow = ctx.type_of(out).shape
    top, left = attrs.padding[0], attrs.padding[1]
    return Window(n, h, w, c, oh, ow, r, s, tuple(attrs.stride), (top, left),
                  tuple(attrs.dilation))


@rule(OpCode.CONV2D, ("fused", "conv"))
def lower_conv(ctx: SimtContext, node: Node) -> None:
    if node.op is OpCode.FUSED:
        anchor, inputs, steps = steps_from_fused(ctx, node)
    else:
        anchor, inputs, steps = node, list(node.inputs), []
    if len(inputs) > 2:
        steps = [Step("bias", OpCode.ADD, value=inputs[2]), *steps]
    x, weight = inputs[0], inputs[1]
    at = anchor.attrs
    if at.groups != 1 and not _depthwise(ctx, x, weight, at.groups):
        raise CompileError(f"{node.name}: grouped convolution (groups={at.groups}) has no "
                           "SIMT lowering")
    if not ctx.is_constant(weight):
        raise CompileError(f"{node.name}: convolution with a run-time weight has no SIMT "
                           "lowering")
    fused = gemm_epilogue(steps)
    out = node.outputs[0]
    target = out
    if fused is None:  # the GEMM writes a temporary; the chain kernel reads it
        target = ctx.temporary(f"{node.name}:conv", out, layout="nhwc")
        bias = inputs[2] if len(inputs) > 2 else None
        activation = "none"
    else:
        bias, activation = fused
    w = ctx.constant(weight)
    oc, c, r, s = w.shape
    win = _window(ctx, x, target, r, s, at)
    if at.groups != 1:
        _lower_depthwise(ctx, node, win, w, weight, bias, activation, x, target)
    else:
        _lower_gemm_conv(ctx, node, win, w, weight, bias, activation, x, target)
    if fused is None:
        body = node.attrs.body
        outer = dict(zip(body.inputs, node.inputs, strict=True))
        outer[body.nodes[0].outputs[0]] = target
        lower_chain(ctx, f"{node.name}_epilogue", list(body.nodes[1:]), outer, out,
                    tuple(n.name for n in body.nodes[1:]))


def _depthwise(ctx: SimtContext, x: str, weight: str, groups: int) -> bool:
    """One filter per input channel (channel multiplier 1)."""
    channels = ctx.type_of(x).shape[1]
    shape = ctx.type_of(weight).shape
    return groups == channels and shape[0] == channels and shape[1] == 1


def _bias_offset(ctx: SimtContext, bias: str | None) -> int:
    if bias is None:
        return 0
    return (ctx.place_constant(bias, ctx.constant(bias).reshape(-1))
            if ctx.is_constant(bias) else ctx.place(bias)).offset


def _lower_depthwise(ctx: SimtContext, node: Node, win: Window, w: np.ndarray, weight: str,
                     bias: str | None, activation: str, x: str, target: str) -> None:
    image = w.reshape(w.shape[0], -1)
    w_place = ctx.place_constant(weight, image, key=f"{weight}:dw")
    kernel = emit_depthwise(kernel_name(node), win, activation, ctx.place(x).offset,
                            w_place.offset, _bias_offset(ctx, bias), ctx.place(target).offset)
    origin = tuple(n.name for n in node.attrs.body.nodes) if node.op is OpCode.FUSED \
        else (node.name,)
    ctx.add_kernel(kernel, node.name, "conv2d", origin,
                   2 * win.n * win.oh * win.ow * win.c * win.r * win.s, (x, w_place.name),
                   (target,), "depthwise: one thread per output element")


def _lower_gemm_conv(ctx: SimtContext, node: Node, win: Window, w: np.ndarray, weight: str,
                     bias: str | None, activation: str, x: str, target: str) -> None:
    oc, c, r, s = w.shape
    k = r * s * c
    kp = -(-k // 16) * 16
    rows = win.n * win.oh * win.ow
    image = np.pad(w.transpose(0, 2, 3, 1).reshape(oc, k), ((0, 0), (0, kp - k)))
    b_place = ctx.place_constant(weight, image, key=f"{weight}:ohwi{kp}")
    x_place = ctx.place(x)
    _, _, ih, iw = ctx.type_of(x).shape
    direct = (r, s) == (1, 1) and win.stride == (1, 1) and win.pad == (0, 0) and \
        (win.oh, win.ow) == (ih, iw) and kp == k
    if direct:
        a_offset = x_place.offset
    else:
        cols = f"{node.name}:im2col"
        ctx.temporaries[cols] = TensorType((rows, kp), "float32")
        a_offset = ctx.place(cols).offset
        ctx.add_kernel(emit_im2col(kernel_name(node, "_im2col"), win, kp, x_place.offset,
                                   a_offset), node.name, "conv2d", (node.name,), 0, (x,),
                       (cols,))
    c_place = ctx.place(target)
    spec = GemmSpec(kernel_name(node), rows, oc, kp, b_layout="nk", bias=bias is not None,
                    activation=activation)
    choice = choose_tile(ctx.target, spec)
    bias_offset = _bias_offset(ctx, bias)
    kernel = emit_gemm(spec, choice.tile, (a_offset, b_place.offset, c_place.offset,
                                           bias_offset), ctx.target.max_regs_per_thread)
    origin = tuple(n.name for n in node.attrs.body.nodes) if node.op is OpCode.FUSED \
        else (node.name,)
    ctx.add_kernel(kernel, node.name, "conv2d", origin, 2 * rows * oc * k, (x, b_place.name),
                   (target,), f"im2col + GEMM {rows}x{oc}x{kp}; {choice.describe()}")


@rule(OpCode.MAX_POOL2D, OpCode.AVG_POOL2D)
def lower_pool(ctx: SimtContext, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    at = node.attrs
    win = _window(ctx, x, out, at.kernel[0], at.kernel[1], at)
    kind = "max" if node.op is OpCode.MAX_POOL2D else "avg"
    kernel = emit_pool(kernel_name(node), win, kind, ctx.place(x).offset, ctx.place(out).offset,
                       at.count_include_pad)
    ctx.add_kernel(kernel, node.name, node.op.value, (node.name,),
                   win.n * win.oh * win.ow * win.c * win.r * win.s, (x,), (out,))


@rule(OpCode.GLOBAL_AVG_POOL)
def lower_global_pool(ctx: SimtContext, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = ctx.type_of(x).shape
    win = Window(n, h, w, c, 1, 1, h, w, (1, 1), (0, 0))
    kernel = emit_pool(kernel_name(node), win, "avg", ctx.place(x).offset,
                       ctx.place(out).offset, True)
    ctx.add_kernel(kernel, node.name, "global_avg_pool", (node.name,), n * c * h * w, (x,),
                   (out,))
