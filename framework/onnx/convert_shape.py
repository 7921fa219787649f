"""Converters for ONNX data-movement and shape ops: Reshape, Flatten, Transpose, Concat, Split,
Slice, Pad, Gather, Squeeze, Unsqueeze, Expand, Tile, DepthToSpace, SpaceToDepth, and the
constant sources Shape, Size, Constant, ConstantOfShape and Range (which return NumPy arrays:
their values are known at import because every shape in the IR is static).

Ops whose parameters moved from attributes to inputs across opsets (Split-13, Slice-10, Pad-11,
Squeeze/Unsqueeze-13, Reshape-5) accept both forms: an input, when present, wins.
"""

from __future__ import annotations

import math

import numpy as np

from .. import attrs as A
from ..ops import OpCode
from ..shape_utils import norm_axis
from .context import Converter, ImportContext


def resolve_reshape(ctx: ImportContext, src: tuple[int, ...], dims: tuple[int, ...],
                    allow_zero: bool) -> tuple[int, ...]:
    """ONNX Reshape target: 0 copies the input dim (unless allowzero), one -1 is inferred."""
    out = [src[i] if d == 0 and not allow_zero and i < len(src) else d for i, d in enumerate(dims)]
    if out.count(-1) > 1:
        raise ctx.error(f"shape {dims} has more than one -1")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        total = math.prod(src)
        if known == 0 or total % known:
            raise ctx.error(f"cannot infer -1 in shape {dims} from input shape {src}")
        out[out.index(-1)] = total // known
    return tuple(out)


def _reshape_to(ctx: ImportContext, x: str, shape: tuple[int, ...]) -> str:
    return ctx.b.node(OpCode.RESHAPE, [x], A.ReshapeAttrs(shape), name=ctx.out_name())[0]


def _reshape(ctx: ImportContext) -> str:
    dims = ctx.ints_input_or_attr(1, "shape", "shape")
    if dims is None:
        raise ctx.error("needs a shape input (or the shape attribute before opset 5)")
    shape = resolve_reshape(ctx, ctx.shape(0), dims, bool(ctx.attrs.get("allowzero", 0)))
    return _reshape_to(ctx, ctx.input(0), shape)


def _transpose(ctx: ImportContext) -> str:
    return ctx.b.transpose(ctx.input(0), ctx.attrs.ints("perm"), name=ctx.out_name())


def _concat(ctx: ImportContext) -> str:
    if "axis" not in ctx.attrs and ctx.opset >= 4:
        raise ctx.error("axis attribute is required")
    return ctx.b.concat(ctx.inputs(), int(ctx.attrs.get("axis", 1)), name=ctx.out_name())


def _split(ctx: ImportContext) -> tuple[str, ...]:
    shape = ctx.shape(0)
    axis = norm_axis(int(ctx.attrs.get("axis", 0)), len(shape))
    sizes = ctx.ints_input_or_attr(1, "split", "split")
    if sizes is None:
        parts = int(ctx.attrs.get("num_outputs", len(ctx.node.output)))
        chunk = -(-shape[axis] // parts)  # Split-18 num_outputs: ceil, the last part smaller
        sizes = tuple(min(chunk, shape[axis] - i * chunk) for i in range(parts))
    return ctx.b.split(ctx.input(0), sizes, axis)


def _slice(ctx: ImportContext) -> str:
    starts = ctx.ints_input_or_attr(1, "starts", "starts")
    ends = ctx.ints_input_or_attr(2, "ends", "ends")
    if starts is None or ends is None:
        raise ctx.error("starts and ends are required")
    axes = ctx.ints_input_or_attr(3, "axes", "axes") or tuple(range(len(starts)))
    steps = tuple(int(v) for v in ctx.const(4, "steps").reshape(-1)) if ctx.has(4) \
        else (1,) * len(starts)
    return ctx.b.slice(ctx.input(0), starts, ends, axes, steps, name=ctx.out_name())


def _pad(ctx: ImportContext) -> str:
    """Pad: constant / reflect / edge; negative pads crop (a slice after the padding)."""
    mode = str(ctx.attrs.get("mode", "constant"))
    if mode not in A.PAD_MODES:
        raise ctx.error(f"mode {mode!r} is not supported (supported: {A.PAD_MODES})")
    shape = ctx.shape(0)
    rank = len(shape)
    if ctx.has(1):
        raw = tuple(int(v) for v in ctx.const(1, "pads").reshape(-1))
        value = float(ctx.const(2, "constant_value").reshape(-1)[0]) if ctx.has(2) else 0.0
    else:
        raw = ctx.attrs.ints("pads") or ctx.attrs.ints("paddings") or ()
        value = float(ctx.attrs.get("value", 0.0))
    if ctx.has(3):  # Pad-18 axes: pads are given for these axes only
        axes = [norm_axis(int(a), rank) for a in ctx.const(3, "axes").reshape(-1)]
        full = [0] * (2 * rank)
        for k, a in enumerate(axes):
            full[a], full[a + rank] = raw[k], raw[k + len(axes)]
        raw = tuple(full)
    if len(raw) != 2 * rank:
        raise ctx.error(f"needs {2 * rank} pads for rank {rank}, got {len(raw)}")
    crop = any(p < 0 for p in raw)
    x = ctx.b.pad(ctx.input(0), tuple(max(p, 0) for p in raw), mode, value,
                  name=None if crop else ctx.out_name())
    if not crop:
        return x
    padded = ctx.b.shape(x)
    starts = tuple(-min(raw[i], 0) for i in range(rank))
    ends = tuple(padded[i] + min(raw[i + rank], 0) for i in range(rank))
    return ctx.b.slice(x, starts, ends, name=ctx.out_name())


def _squeeze(ctx: ImportContext) -> str:
    shape = ctx.shape(0)
    axes = ctx.ints_input_or_attr(1, "axes", "axes")
    drop = {norm_axis(a, len(shape)) for a in axes} if axes is not None else \
        {i for i, d in enumerate(shape) if d == 1}
    if any(shape[a] != 1 for a in drop):
        raise ctx.error(f"cannot squeeze axes {sorted(drop)} of shape {shape}")
    return _reshape_to(ctx, ctx.input(0), tuple(d for i, d in enumerate(shape) if i not in drop))


def _unsqueeze(ctx: ImportContext) -> str:
    shape = ctx.shape(0)
    axes = ctx.ints_input_or_attr(1, "axes", "axes")
    if axes is None:
        raise ctx.error("axes are required")
    rank = len(shape) + len(axes)
    new = sorted(norm_axis(a, rank) for a in axes)
    dims = list(shape)
    for a in new:
        dims.insert(a, 1)
    return _reshape_to(ctx, ctx.input(0), tuple(dims))


def _expand(ctx: ImportContext) -> str:
    shape = tuple(int(v) for v in ctx.const(1, "shape").reshape(-1))
    return ctx.b.expand(ctx.input(0), shape, name=ctx.out_name())


def _tile(ctx: ImportContext) -> str:
    """Tile as reshape (1, d0, 1, d1, ...) -> expand (r0, d0, r1, d1, ...) -> reshape."""
    shape = ctx.shape(0)
    reps = tuple(int(v) for v in ctx.const(1, "repeats").reshape(-1))
    if len(reps) != len(shape):
        raise ctx.error(f"repeats {reps} do not match rank {len(shape)}")
    inter = tuple(v for d in shape for v in (1, d))
    wide = tuple(v for d, r in zip(shape, reps, strict=True) for v in (r, d))
    x = ctx.b.expand(ctx.b.reshape(ctx.input(0), inter), wide)
    return _reshape_to(ctx, x, tuple(d * r for d, r in zip(shape, reps, strict=True)))


def _depth_to_space(ctx: ImportContext) -> str:
    """DepthToSpace as reshape -> transpose -> reshape (ONNX DepthToSpace-13, DCR and CRD)."""
    n, c, h, w = ctx.shape(0)
    b = int(ctx.attrs.get("blocksize"))
    if str(ctx.attrs.get("mode", "DCR")) == "CRD":
        split, perm = (n, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3)
    else:
        split, perm = (n, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2)
    x = ctx.b.transpose(ctx.b.reshape(ctx.input(0), split), perm)
    return _reshape_to(ctx, x, (n, c // (b * b), h * b, w * b))


def _space_to_depth(ctx: ImportContext) -> str:
    """SpaceToDepth as reshape -> transpose -> reshape (the inverse of DepthToSpace; the CRD
    mode is SpaceToDepth-28's)."""
    n, c, h, w = ctx.shape(0)
    b = int(ctx.attrs.get("blocksize"))
    crd = str(ctx.attrs.get("mode", "DCR")) == "CRD"
    x = ctx.b.reshape(ctx.input(0), (n, c, h // b, b, w // b, b))
    x = ctx.b.transpose(x, (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4))
    return _reshape_to(ctx, x, (n, c * b * b, h // b, w // b))


def _shape(ctx: ImportContext) -> np.ndarray:
    shape = np.array(ctx.shape(0), dtype=np.int64)
    start, end = ctx.attrs.get("start", 0), ctx.attrs.get("end")  # Shape-15 start / end
    return shape[start:end]


def _constant(ctx: ImportContext) -> np.ndarray:
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in ctx.attrs:
            return np.asarray(ctx.attrs.get(key), dtype=dtype)
    keys = sorted(ctx.attrs.values)
    raise ctx.error(f"only tensor, float(s) and int(s) values are supported, got {keys}")


def _constant_of_shape(ctx: ImportContext) -> np.ndarray:
    shape = tuple(int(v) for v in ctx.const(0, "shape").reshape(-1))
    value = ctx.attrs.get("value")
    fill = np.zeros((1,), np.float32) if value is None else np.asarray(value)
    return np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)


def _range(ctx: ImportContext) -> np.ndarray:
    start, limit, delta = (ctx.const(i, what) for i, what in
                           enumerate(("start", "limit", "delta")))
    return np.arange(start.item(), limit.item(), delta.item()).astype(start.dtype)


SHAPE_CONVERTERS: dict[str, Converter] = {
    "Reshape": _reshape,
    "Flatten": lambda ctx: ctx.b.flatten(ctx.input(0), int(ctx.attrs.get("axis", 1)),
                                         name=ctx.out_name()),
    "Transpose": _transpose,
    "Concat": _concat,
    "Split": _split,
    "Slice": _slice,
    "Pad": _pad,
    "Gather": lambda ctx: ctx.b.gather(ctx.input(0), ctx.input(1),
                                       int(ctx.attrs.get("axis", 0)), name=ctx.out_name()),
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Expand": _expand,
    "Tile": _tile,
    "DepthToSpace": _depth_to_space,
    "SpaceToDepth": _space_to_depth,
    "Shape": _shape,
    "Size": lambda ctx: np.array(math.prod(ctx.shape(0)), dtype=np.int64),
    "Constant": _constant,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
}
"""ONNX op type -> converter, for data movement and shape computation."""

