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

    op: OpCode
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
            xs = [acc if a == ACC else np.full(1, exts[a].imm if exts[a].kind == "imm" else 0.0,
                                               dtype=np.float32) for a in step.args]
            acc = np.asarray(EVAL_RULES[step.op](xs, step.attrs)[0], dtype=np.float32)
    return bool(np.all(acc == 0))


def _padded_shape(shape: tuple[int, ...], rank: int) -> tuple[int, ...]:
    return (1,) * (rank - len(shape)) + tuple(shape)


def classify(ctx: LoweringContext, value: str, out: TensorPlacement, where: str) -> Ext:
    """How ``value`` broadcasts into the output placed at ``out``."""
    tensor_type = ctx.type_of(value)
    out_shape = out.shape or (1,)
    ext_shape = _padded_shape(tensor_type.shape, len(out_shape))
    const = ctx.is_constant(value)
    if const and tensor_type.numel == 1:
        return Ext(value, "imm", imm=float(ctx.constant(value).reshape(-1)[0]))
    if len(ext_shape) != len(out_shape):
        raise CompileError(f"{where}: operand {value} {tensor_type.shape} has more axes than "
                           f"the output {out.shape}")
    if out.layout == "nc1hwc0":
        return _classify_nc1hwc0(ctx, value, out, ext_shape, const, where)
    if tensor_type.numel == 1:
        return Ext(value, "scalar", place_input(ctx, value))
    if ext_shape == out_shape:
        placement = place_input(ctx, value)
        if placement.layout != "ndp":
            raise CompileError(f"{where}: operand {value} is stored {placement.layout}, the "
                               "output ndp")
        return Ext(value, "flat", placement)
    rows_out, length = numel(out_shape[:-1]), out_shape[-1]
    if all(d == 1 for d in ext_shape[:-1]) and ext_shape[-1] == length:
        array = ctx.constant(value).reshape(1, length) if const else None
        placement = (place_image(ctx, f"{value}@row", array, "ndp") if const
                     else place_input(ctx, value))
        return Ext(value, "row", placement)
    lane_bcast = ext_shape[-1] == 1 and length > 1
    row_map = np.broadcast_to(np.arange(numel(ext_shape[:-1])).reshape(ext_shape[:-1]),
                              out_shape[:-1]).reshape(-1)
    if const:
        array = np.broadcast_to(ctx.constant(value).reshape(ext_shape), out_shape)
        if lane_bcast and ext_shape[:-1] == out_shape[:-1]:
            image = np.repeat(array[..., :1].reshape(rows_out, 1), 16, axis=1)
            placement = place_image(ctx, f"{value}@lanes", image, "ndp")
            return Ext(value, "rows", placement, row_map=np.arange(rows_out), row_blocks=1,
                       prebcast=True)
        placement = place_image(ctx, f"{value}@{'x'.join(map(str, out_shape))}", array, "ndp")
        return Ext(value, "flat", placement)
    placement = place_input(ctx, value)
    if placement.layout != "ndp":
        raise CompileError(f"{where}: operand {value} is stored {placement.layout}, the "
                           "output ndp")
    row_blocks = -(-ext_shape[-1] // 16)
    return Ext(value, "rows", placement, row_map=row_map, row_blocks=row_blocks,
               lane_bcast=lane_bcast)


def _classify_nc1hwc0(ctx: LoweringContext, value: str, out: TensorPlacement,
                      ext_shape: tuple[int, ...], const: bool, where: str) -> Ext:
    n, c = out.shape[0], out.shape[1]
    is_chan = ext_shape[1] == c and ext_shape[2:] == (1, 1) and ext_shape[0] in (1, n)
    if const:
        array = ctx.constant(value).reshape(ext_shape)
        if is_chan:
            placement = place_image(ctx, f"{value}@chan", array, "nc1hwc0")
            return Ext(value, "chan", placement, chan_batch=ext_shape[0])
        if ext_shape == tuple(out.shape):
            return Ext(value, "flat", place_input(ctx, value, "nc1hwc0"))
        image = np.broadcast_to(array, out.shape)
        placement = place_image(ctx, f"{value}@{'x'.join(map(str, out.shape))}", image,
                                "nc1hwc0")
        return Ext(value, "flat", placement)
    placement = place_input(ctx, value)
    if numel(ext_shape) == 1:
        return Ext(value, "scalar", placement)
    if ext_shape == tuple(out.shape) and placement.layout == "nc1hwc0":
        return Ext(value, "flat", placement)
    if is_chan and placement.layout == "nc1hwc0":
        return Ext(value, "chan", placement, chan_batch=ext_shape[0])
    raise CompileError(f"{where}: operand {value} {ctx.type_of(value).shape} ({placement.layout})"
                       f" does not broadcast into the NC1HWC0 output {out.shape} on DaVinci "
                       "(supported: same shape, per-channel vectors, scalars)")
