"""Transposed convolution (the input gradient of a convolution) as a forward convolution.

conv_transpose2d(dy, W) with stride s, padding p, dilation d and output padding op equals
conv2d(dilate_s(dy), W', stride 1, padding d * (k - 1) - p (+ op at the bottom/right)), where
dilate_s inserts s - 1 zeros between pixels and W'[i, o, a, b] = W[o, i, kh-1-a, kw-1-b]
(W is (C_dy, C_out, kh, kw), i.e. the FRACTAL_Z weights of the forward convolution).

- W' is never materialised: the forward kernel reads W's fractals in W' order and transposes
  each on its way into L0B (`conv._load_flipped`).
- For s > 1 a movement kernel first writes the dilated map into a GM workspace (`_dilate`:
  MTE2 scatters each row's pixels ``s - 1`` blocks apart into zeroed UB rows, MTE3 writes
  them out). The output padding (bottom/right) is added to that map as zero rows and
  columns.
"""

from __future__ import annotations

from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.conv import ConvProblem, launch_conv
from compiler.davinci.kernels.conv_tiling import ConvShape
from compiler.davinci.kernels.gemm import BLOCK, _copies
from compiler.davinci.kernels.vector_common import split, vector_builder, vector_units
from compiler.davinci.kernels.vector_ops import Geometry, vdup
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from isa.davinci import Addr, Space


@rule(OpCode.CONV_TRANSPOSE2D)
def lower_conv_transpose(ctx: LoweringContext, node: Node) -> None:
    """dx (NC1HWC0) = conv_transpose2d(dy (NC1HWC0), W (FRACTAL_Z or constant))."""
    at = node.attrs
    if at.groups != 1 or len(node.inputs) != 2:
        raise CompileError(f"{node.name}: transposed convolution with groups={at.groups} or a "
                           "bias has no DaVinci lowering (only groups=1 without bias)")
    dy_name, w_name = node.inputs
    out = node.outputs[0]
    n, c_dy, h, w = ctx.type_of(dy_name).shape
    _, cout, kh, kw = ctx.type_of(w_name).shape
    ho, wo = ctx.type_of(out).shape[2:]
    (sh, sw), (dh, dw) = at.stride, at.dilation
    pt, pl, pb, pr = at.padding
    pads = (dh * (kh - 1) - pt, dw * (kw - 1) - pl, dh * (kh - 1) - pb, dw * (kw - 1) - pr)
    if min(pads) < 0:
        raise CompileError(f"{node.name}: transposed convolution padding {at.padding} exceeds "
                           "the dilated kernel extent (a cropping convolution), no DaVinci "
                           "lowering")
    dy_place = ctx.place(dy_name)
    y_place = ctx.place(out)
    for place in (dy_place, y_place):
        if place.layout != "nc1hwc0":
            raise CompileError(f"{node.name}: {place.name} is {place.layout}, expected nc1hwc0")
    if ctx.is_constant(w_name):
        w_place = ctx.place_constant(w_name, ctx.constant(w_name), "fractal_z",
                                     key=f"{w_name}:fz")
    else:
        w_place = ctx.place(w_name)
        if w_place.layout != "fractal_z":
            raise CompileError(f"{node.name}: weights {w_name} are {w_place.layout}, "
                               "expected fractal_z")
    # output padding (< stride) becomes real zero rows/columns of the dilated map, so that no
    # output row reads padding only
    hd = (h - 1) * sh + 1 + at.output_padding[0]
    wd = (w - 1) * sw + 1 + at.output_padding[1]
    x_offset = dy_place.offset
    if (hd, wd) != (h, w):
        dilated = ctx.workspace(f"{node.name}:dilated",
                                n * -(-c_dy // 16) * hd * wd * BLOCK, "float16")
        _dilate(ctx, node, dy_place.offset, dilated, n * -(-c_dy // 16), (h, w), (hd, wd),
                (sh, sw))
        x_offset = dilated.offset
    shape = ConvShape(n, -(-c_dy // 16), hd, wd, cout, kh, kw, 1, 1, dh, dw, *pads, ho, wo)
    problem = ConvProblem(shape, x_offset, w_place.offset, y_place.offset, (), None, None,
                          False, ctx.target.organisation == "separated", flip=True)
    useful = 2 * n * c_dy * h * w * cout * kh * kw  # products with inserted zeros left out
    launch_conv(ctx, node, problem, (dy_name, w_name), (out,), op="conv_transpose2d",
                flops=useful)


def _dilate(ctx: LoweringContext, node: Node, src: int, dilated: TensorPlacement, planes: int,
            size: tuple[int, int], dilated_size: tuple[int, int],
            stride: tuple[int, int]) -> None:
    """Write the ``hd x wd`` planes of ``dilated`` from the ``planes * h`` rows of ``w``
    pixels (32 B each) at ``src``: pixel (r, c) goes to (r * sh, c * sw), every other pixel is
    zero. Per source row, MTE2 scatters its pixels into a UB image of the ``sh`` dilated rows
    it starts (zeroed once: the pixel slots are the same every time) and MTE3 writes those
    rows out whole."""
    (h, w), (hd, wd), (sh, sw) = size, dilated_size, stride
    rows = planes * h
    ranges = split(rows, vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}:dilate", len(ranges))
    group = sh * wd * BLOCK  # the dilated rows one source row starts
    for sb, (start, stop) in zip(streams, ranges, strict=True):
        bufs = [sb.alloc(Space.UB, group, "dilated rows") for _ in range(2)]
        for buf in bufs:
            vdup(sb, Geometry.flat(sh * wd * 16), buf, 0.0)
        for i, r in enumerate(range(start, stop)):
            plane, row = divmod(r, h)
            buf = bufs[i % 2]
            sb.emit(*_copies(buf, Addr(Space.GM, src + r * w * BLOCK), w, 1, 0, sw - 1))
            out_rows = min(sh, hd - row * sh)
            target = Addr(Space.GM, dilated.offset + (plane * hd + row * sh) * wd * BLOCK)
            sb.emit(*_copies(target, buf, 1, out_rows * wd, 0, 0))
    ctx.launch(builder, node, "dilate", 0, (rows * w + planes * hd * wd) * BLOCK,
               (node.inputs[0],), (dilated.name,),
               f"{len(ranges)} vector units, one source row at a time")
