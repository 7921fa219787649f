"""What an element-wise kernel computes: the op chain and how each outside operand broadcasts.

A plain unary/binary node and a ("fused", "elementwise") node both become a `Chain`: ops applied
in order to an accumulator tile, each reading the accumulator and/or outside values. Each
outside value is classified against the output's GM layout (`Ext.kind`):

- ``imm``: a one-element constant, folded into the instructions as an immediate.
- ``flat``: the output's own shape and layout: loaded tile by tile like the output.
- ``scalar``: a one-element computed value: its block is loaded once and its lane 0 broadcast.
- ``row`` (ndp): depends on the last axis only: loaded once, re-read for every row (repeat
  stride 0).
- ``rows`` (ndp): any other broadcast: output row r reads operand row ``row_map[r]`` (loaded
  per tile by runs of consecutive rows); when the operand's last axis is 1 its lane 0 is
  broadcast over the row (``lane_bcast``; constants are stored pre-broadcast instead).
- outputs in another layout (``fractal_z``): only ``flat`` operands of the same shape and
  layout, and scalars.
- ``chan`` (nc1hwc0): a per-channel (or per sample and channel) vector: one 32 B block per 16
  channels, re-read for every pixel (block and repeat stride 0).

Constants that fit none of these are stored expanded to the output shape (``flat``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.vector_common import numel, place_image, place_input
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from framework.evaluate import EVAL_RULES

ACC = "\0acc"  # the accumulator in ChainOp.args


@dataclass(frozen=True)
class ChainOp:
    """One op of the chain; ``args`` are outside value names or ACC."""

    op: OpCode | str  # an OpCode, or "select": (a, mask_a, b, mask_b) -> (a&ma) | (b&mb)
    attrs: Any
    args: tuple[str, ...]


@dataclass(frozen=True)
class Ext:
    """An outside operand and how it reaches UB (see the module docstring)."""

    value: str
    kind: str
    placement: TensorPlacement | None = None
    imm: float = 0.0
    row_map: np.ndarray | None = None
    row_blocks: int = 0
    lane_bcast: bool = False
    prebcast: bool = False
    chan_batch: int = 1
    col_offset: int = 0  # rows kind: first element read of each operand row (any alignment)


def chain_of(node: Node) -> list[ChainOp]:
    """The ops of a plain element-wise node or of a fused elementwise body."""
    if node.op is not OpCode.FUSED:
        return [ChainOp(node.op, node.attrs, tuple(node.inputs))]
    body = node.attrs.body
    outer = dict(zip(body.inputs, node.inputs, strict=True))
    chain, previous = [], None
    for body_node in body.nodes:
        args = tuple(ACC if v == previous else outer[v] for v in body_node.inputs)
        chain.append(ChainOp(body_node.op, body_node.attrs, args))
        previous = body_node.outputs[0]
    return chain


def maps_zero_to_zero(chain: list[ChainOp], exts: dict[str, Ext]) -> bool:
    """Whether the chain turns zero padding into zero (padded operand lanes are zero, by the
    padding rule in vector_common; immediates keep their value)."""
    acc = np.zeros(1, dtype=np.float32)
    with np.errstate(all="ignore"):
        for step in chain:
            if not isinstance(step.op, OpCode):
                continue  # bitwise selects keep zero padding (masks are zero-padded)
            xs = [acc if a == ACC else np.full(1, exts[a].imm if exts[a].kind == "imm" else 0.0,
                                               dtype=np.float32) for a in step.args]
            acc = np.asarray(EVAL_RULES[step.op](xs, step.attrs)[0], dtype=np.float32)
    return bool(np.all(acc == 0))


def _padded_shape(shape: tuple[int, ...], rank: int) -> tuple[int, ...]:
    return (1,) * (rank - len(shape)) + tuple(shape)


def classify(ctx: LoweringContext, value: str, out: TensorPlacement, where: str) -> Ext:
    """How ``value`` broadcasts into the output placed at ``out``."""
    tensor_type = ctx.type_of(value)
    if ctx.is_constant(value):
        return classify_array(ctx, value, ctx.constant(value).reshape(tensor_type.shape), out,
                              where)
    out_shape = out.shape or (1,)
    ext_shape = _padded_shape(tensor_type.shape, len(out_shape))
    if len(ext_shape) != len(out_shape):
        raise CompileError(f"{where}: operand {value} {tensor_type.shape} has more axes than "
                           f"the output {out.shape}")
    placement = place_input(ctx, value)
    if out.layout not in ("ndp", "nc1hwc0"):
        return _classify_same_layout(ctx, value, placement, out, ext_shape, where)
    if out.layout == "nc1hwc0":
        return _classify_nc1hwc0(ctx, value, placement, out, ext_shape, where)
    if placement.layout != "ndp":
        raise CompileError(f"{where}: operand {value} is stored {placement.layout}, the "
                           "output ndp")
    if tensor_type.numel == 1:
        return Ext(value, "scalar", placement)
    if ext_shape == out_shape:
        return Ext(value, "flat", placement)
    length = out_shape[-1]
    if all(d == 1 for d in ext_shape[:-1]) and ext_shape[-1] == length:
        return Ext(value, "row", placement)
    row_map = np.broadcast_to(np.arange(numel(ext_shape[:-1])).reshape(ext_shape[:-1]),
                              out_shape[:-1]).reshape(-1)
    return Ext(value, "rows", placement, row_map=row_map, row_blocks=-(-ext_shape[-1] // 16),
               lane_bcast=ext_shape[-1] == 1 and length > 1)


def classify_array(ctx: LoweringContext, key: str, array: np.ndarray, out: TensorPlacement,
                   where: str, dtype: str = "float16") -> Ext:
    """How a constant ``array`` (a graph constant or a compiler-made image, named ``key``)
    broadcasts into ``out``: an immediate, a row vector, pre-broadcast row blocks, channel
    blocks, or an image expanded to the output's shape. ``dtype`` "int16" keeps bit masks
    (-1 = all ones) exact; those are never turned into immediates."""
    array = np.asarray(array, dtype=np.float32 if dtype == "float16" else dtype)
    if array.size == 1 and dtype == "float16":
        return Ext(key, "imm", imm=float(array.reshape(-1)[0]))
    out_shape = out.shape or (1,)
    ext_shape = _padded_shape(array.shape, len(out_shape))
    if len(ext_shape) != len(out_shape):
        raise CompileError(f"{where}: constant {key} {array.shape} has more axes than the "
                           f"output {out.shape}")
    array = array.reshape(ext_shape)
    tag = "x".join(map(str, out_shape))
    if out.layout not in ("ndp", "nc1hwc0"):
        if ext_shape != tuple(out_shape):
            raise CompileError(f"{where}: constant {key} {array.shape} does not broadcast into "
                               f"the {out.layout} output {out.shape} on DaVinci")
        return Ext(key, "flat", place_image(ctx, f"{key}@{out.layout}", array, out.layout,
                                            dtype))
    if out.layout == "nc1hwc0":
        n, c = out_shape[0], out_shape[1]
        if ext_shape[1] == c and ext_shape[2:] == (1, 1) and ext_shape[0] in (1, n):
            return Ext(key, "chan", place_image(ctx, f"{key}@chan", array, "nc1hwc0", dtype),
                       chan_batch=ext_shape[0])
        image = np.broadcast_to(array, out_shape)
        return Ext(key, "flat", place_image(ctx, f"{key}@{tag}:nc1hwc0", image, "nc1hwc0",
                                            dtype))
    rows_out, length = numel(out_shape[:-1]), out_shape[-1]
    if all(d == 1 for d in ext_shape[:-1]) and ext_shape[-1] == length:
        return Ext(key, "row", place_image(ctx, f"{key}@row", array.reshape(1, length), "ndp",
                                           dtype))
    if ext_shape[-1] == 1 and length > 1 and ext_shape[:-1] == out_shape[:-1]:
        image = np.repeat(array.reshape(rows_out, 1), 16, axis=1)
        return Ext(key, "rows", place_image(ctx, f"{key}@lanes", image, "ndp", dtype),
                   row_map=np.arange(rows_out), row_blocks=1, prebcast=True)
    image = np.broadcast_to(array, out_shape)
    return Ext(key, "flat", place_image(ctx, f"{key}@{tag}", image, "ndp", dtype))


def _classify_nc1hwc0(ctx: LoweringContext, value: str, placement: TensorPlacement,
                      out: TensorPlacement, ext_shape: tuple[int, ...], where: str) -> Ext:
    n, c = out.shape[0], out.shape[1]
    if numel(ext_shape) == 1:
        return Ext(value, "scalar", placement)
    if ext_shape == tuple(out.shape) and placement.layout == "nc1hwc0":
        return Ext(value, "flat", placement)
    is_chan = ext_shape[1] == c and ext_shape[2:] == (1, 1) and ext_shape[0] in (1, n)
    if is_chan and placement.layout == "nc1hwc0":
        return Ext(value, "chan", placement, chan_batch=ext_shape[0])
    raise CompileError(f"{where}: operand {value} {ctx.type_of(value).shape} ({placement.layout})"
                       f" does not broadcast into the NC1HWC0 output {out.shape} on DaVinci "
                       "(supported: same shape, per-channel vectors, scalars)")


def _classify_same_layout(ctx: LoweringContext, value: str, placement: TensorPlacement,
                          out: TensorPlacement, ext_shape: tuple[int, ...], where: str) -> Ext:
    """Outputs in another layout (e.g. FRACTAL_Z weights in an SGD update): operands of the
    same shape and layout are the same flat array of blocks, padding included."""
    if numel(ext_shape) == 1:
        return Ext(value, "scalar", placement)
    if ext_shape == tuple(out.shape) and placement.layout == out.layout:
        return Ext(value, "flat", placement)
    raise CompileError(f"{where}: operand {value} {ctx.type_of(value).shape} ({placement.layout})"
                       f" does not match the {out.layout} output {out.shape} on DaVinci "
                       "(supported: same shape and layout, scalars)")
