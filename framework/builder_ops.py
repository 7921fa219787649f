"""One GraphBuilder method per op (mixed into `GraphBuilder`); conveniences normalise arguments
(an int stride means both axes, an int or 2-tuple padding means symmetric) into attrs records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import attrs as A
from .errors import FrameworkError
from .ops import OpCode
from .shape_utils import norm_axis

Num = float | int | bool
Operand = str | Num
IntOr2 = int | Sequence[int]


def pair(v: IntOr2, what: str = "value") -> tuple[int, int]:
    """An int or a 2-sequence as a pair of ints."""
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(x) for x in v)
    if len(t) != 2:
        raise FrameworkError(f"{what} needs 1 or 2 values, got {v}")
    return (t[0], t[1])


def pads4(v: IntOr2) -> tuple[int, int, int, int]:
    """2-D padding as (top, left, bottom, right) from an int, (ph, pw) or a 4-tuple."""
    if isinstance(v, int):
        return (v, v, v, v)
    t = tuple(int(x) for x in v)
    if len(t) == 2:
        return (t[0], t[1], t[0], t[1])
    if len(t) == 4:
        return (t[0], t[1], t[2], t[3])
    raise FrameworkError(f"padding needs 1, 2 or 4 values, got {v}")


class OpsMixin:
    """Per-op builder methods; each returns the output value name (tuple for multi-output ops)."""

    if TYPE_CHECKING:  # provided by GraphBuilder; declared here for the type checker only
        def node(self, op: OpCode, inputs: Sequence[str], attrs: Any = None,
                 outputs: Sequence[str] | None = None,
                 name: str | None = None) -> tuple[str, ...]: ...
        def _one(self, op: OpCode, inputs: Sequence[str], attrs: Any = None,
                 name: str | None = None) -> str: ...
        def _operand(self, v: Operand, like: Operand) -> str: ...
        def shape(self, value: str) -> tuple[int, ...]: ...

    # ----- unary elementwise ----------------------------------------------------------------
    def relu(self, x: str, name: str | None = None) -> str:
        """max(x, 0)."""
        return self._one(OpCode.RELU, [x], name=name)

    def leaky_relu(self, x: str, alpha: float = 0.01, name: str | None = None) -> str:
        """x if x >= 0 else alpha * x."""
        return self._one(OpCode.LEAKY_RELU, [x], A.LeakyReluAttrs(alpha), name)

    def gelu(self, x: str, approximate: str = "none", name: str | None = None) -> str:
        """GELU, exact (erf) or tanh approximation."""
        return self._one(OpCode.GELU, [x], A.GeluAttrs(approximate), name)

    def silu(self, x: str, name: str | None = None) -> str:
        """x * sigmoid(x)."""
        return self._one(OpCode.SILU, [x], name=name)

    def sigmoid(self, x: str, name: str | None = None) -> str:
        """1 / (1 + exp(-x))."""
        return self._one(OpCode.SIGMOID, [x], name=name)

    def tanh(self, x: str, name: str | None = None) -> str:
        """Hyperbolic tangent."""
        return self._one(OpCode.TANH, [x], name=name)

    def elu(self, x: str, alpha: float = 1.0, name: str | None = None) -> str:
        """x if x > 0 else alpha * (exp(x) - 1)."""
        return self._one(OpCode.ELU, [x], A.EluAttrs(alpha), name)

    def selu(self, x: str, alpha: float = 1.6732632423543772,
             gamma: float = 1.0507009873554805, name: str | None = None) -> str:
        """gamma * elu(x, alpha)."""
        return self._one(OpCode.SELU, [x], A.SeluAttrs(alpha, gamma), name)

    def softplus(self, x: str, name: str | None = None) -> str:
        """log(1 + exp(x))."""
        return self._one(OpCode.SOFTPLUS, [x], name=name)

    def clip(self, x: str, min: float | None = None, max: float | None = None,
             name: str | None = None) -> str:
        """Clamp to [min, max]."""
        return self._one(OpCode.CLIP, [x], A.ClipAttrs(min, max), name)

    def exp(self, x: str, name: str | None = None) -> str:
        """e ** x."""
        return self._one(OpCode.EXP, [x], name=name)

    def log(self, x: str, name: str | None = None) -> str:
        """Natural logarithm."""
        return self._one(OpCode.LOG, [x], name=name)

    def sqrt(self, x: str, name: str | None = None) -> str:
        """Square root."""
        return self._one(OpCode.SQRT, [x], name=name)

    def neg(self, x: str, name: str | None = None) -> str:
        """-x."""
        return self._one(OpCode.NEG, [x], name=name)

    def abs(self, x: str, name: str | None = None) -> str:
        """|x|."""
        return self._one(OpCode.ABS, [x], name=name)

    def erf(self, x: str, name: str | None = None) -> str:
        """Gauss error function."""
        return self._one(OpCode.ERF, [x], name=name)

    def reciprocal(self, x: str, name: str | None = None) -> str:
        """1 / x."""
        return self._one(OpCode.RECIPROCAL, [x], name=name)

    def cast(self, x: str, dtype: str, name: str | None = None) -> str:
        """Convert to ``dtype``."""
        return self._one(OpCode.CAST, [x], A.CastAttrs(dtype), name)

    def identity(self, x: str, name: str | None = None) -> str:
        """A copy of x under a new name."""
        return self._one(OpCode.IDENTITY, [x], name=name)

    # ----- binary elementwise ---------------------------------------------------------------
    def _binary(self, op: OpCode, a: Operand, b: Operand, name: str | None) -> str:
        return self._one(op, [self._operand(a, b), self._operand(b, a)], name=name)

    def add(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a + b (broadcasting)."""
        return self._binary(OpCode.ADD, a, b, name)

    def sub(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a - b (broadcasting)."""
        return self._binary(OpCode.SUB, a, b, name)

    def mul(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a * b (broadcasting)."""
        return self._binary(OpCode.MUL, a, b, name)

    def div(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a / b (broadcasting)."""
        return self._binary(OpCode.DIV, a, b, name)

    def pow(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a ** b (broadcasting)."""
        return self._binary(OpCode.POW, a, b, name)

    def prelu(self, x: str, slope: str, name: str | None = None) -> str:
        """x if x >= 0 else slope * x (slope broadcasts, e.g. (C,1,1) per channel)."""
        return self._one(OpCode.PRELU, [x, slope], name=name)

    def maximum(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """Elementwise max."""
        return self._binary(OpCode.MAXIMUM, a, b, name)

    def minimum(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """Elementwise min."""
        return self._binary(OpCode.MINIMUM, a, b, name)

    def greater(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a > b as bool."""
        return self._binary(OpCode.GREATER, a, b, name)

    def less(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a < b as bool."""
        return self._binary(OpCode.LESS, a, b, name)

    def equal(self, a: Operand, b: Operand, name: str | None = None) -> str:
        """a == b as bool."""
        return self._binary(OpCode.EQUAL, a, b, name)

    def where(self, cond: str, a: Operand, b: Operand,
              name: str | None = None) -> str:
        """a where cond else b (broadcasting)."""
        return self._one(OpCode.WHERE, [cond, self._operand(a, b), self._operand(b, a)], name=name)

    # ----- linear algebra and convolution ---------------------------------------------------
    def matmul(self, a: str, b: str, name: str | None = None) -> str:
        """numpy.matmul semantics (batched, broadcast batch dims)."""
        return self._one(OpCode.MATMUL, [a, b], name=name)

    def gemm(self, a: str, b: str, c: str | None = None, alpha: float = 1.0,
             beta: float = 1.0, trans_a: bool = False, trans_b: bool = False,
             name: str | None = None) -> str:
        """alpha * op(a) @ op(b) + beta * c (ONNX Gemm)."""
        inputs = [a, b] if c is None else [a, b, c]
        return self._one(OpCode.GEMM, inputs, A.GemmAttrs(alpha, beta, trans_a, trans_b), name)

    def linear(self, x: str, w: str, bias: str | None = None,
               name: str | None = None) -> str:
        """x @ w.T + bias, weight (out_features, in_features) as in torch.nn.Linear."""
        return self._one(OpCode.LINEAR, [x, w] if bias is None else [x, w, bias], name=name)

    def conv2d(self, x: str, w: str, bias: str | None = None, stride: IntOr2 = 1,
               padding: IntOr2 = 0, dilation: IntOr2 = 1, groups: int = 1,
               name: str | None = None) -> str:
        """NCHW convolution with OIHW weight; depthwise when groups == channels."""
        at = A.Conv2dAttrs(pair(stride, "stride"), pads4(padding), pair(dilation, "dilation"),
                           groups)
        return self._one(OpCode.CONV2D, [x, w] if bias is None else [x, w, bias], at, name)

    def conv_transpose2d(self, x: str, w: str, bias: str | None = None,
                         stride: IntOr2 = 1, padding: IntOr2 = 0, output_padding: IntOr2 = 0,
                         dilation: IntOr2 = 1, groups: int = 1, name: str | None = None) -> str:
        """Transposed convolution with (Cin, Cout/groups, kh, kw) weight."""
        at = A.ConvTranspose2dAttrs(pair(stride, "stride"), pads4(padding),
                                    pair(output_padding, "output_padding"),
                                    pair(dilation, "dilation"), groups)
        return self._one(OpCode.CONV_TRANSPOSE2D, [x, w] if bias is None else [x, w, bias], at,
                         name)

    def conv2d_grad_weight(self, x: str, dy: str, conv: A.Conv2dAttrs,
                           weight_shape: Sequence[int], name: str | None = None) -> str:
        """Gradient of conv2d(x, w) w.r.t. w given the output gradient dy."""
        at = A.ConvGradWeightAttrs(conv, tuple(weight_shape))  # type: ignore[arg-type]
        return self._one(OpCode.CONV2D_GRAD_WEIGHT, [x, dy], at, name)

    # ----- normalisation and softmax --------------------------------------------------------
    def batch_norm(self, x: str, scale: str, bias: str, mean: str, var: str,
                   eps: float = 1e-5, momentum: float = 0.9, training: bool = False,
                   name: str | None = None) -> str | tuple[str, ...]:
        """Batch norm over axis 1; training mode returns (y, new_mean, new_var)."""
        outs = self.node(OpCode.BATCH_NORM, [x, scale, bias, mean, var],
                         A.BatchNormAttrs(eps, momentum, training), name=name)
        return outs if training else outs[0]

    def batch_norm_grad(self, x: str, dy: str, scale: str, eps: float = 1e-5,
                        name: str | None = None, relu_y: str | None = None
                        ) -> tuple[str, str, str]:
        """(dx, dscale, dbias) of training-mode batch_norm(x, scale, ...) given dy; with
        ``relu_y`` the gradient is where(relu_y > 0, dy, 0) (through a ReLU of relu_y)."""
        inputs = [x, dy, scale] if relu_y is None else [x, dy, scale, relu_y]
        dx, dscale, dbias = self.node(OpCode.BATCH_NORM_GRAD, inputs,
                                      A.BatchNormGradAttrs(eps, relu_y is not None), name=name)
        return dx, dscale, dbias

    def layer_norm(self, x: str, scale: str, bias: str, axis: int = -1,
                   eps: float = 1e-5, name: str | None = None) -> str:
        """Normalise over dims axis..end, then scale and shift."""
        return self._one(OpCode.LAYER_NORM, [x, scale, bias], A.LayerNormAttrs(axis, eps), name)

    def softmax(self, x: str, axis: int = -1, name: str | None = None) -> str:
        """exp(x) / sum(exp(x)) along axis."""
        return self._one(OpCode.SOFTMAX, [x], A.AxisAttrs(axis), name)

    def log_softmax(self, x: str, axis: int = -1, name: str | None = None) -> str:
        """x - logsumexp(x) along axis."""
        return self._one(OpCode.LOG_SOFTMAX, [x], A.AxisAttrs(axis), name)

    # ----- pooling --------------------------------------------------------------------------
    def _pool_attrs(self, kernel: IntOr2, stride: IntOr2 | None, padding: IntOr2,
                    dilation: IntOr2, ceil_mode: bool, count_include_pad: bool) -> A.PoolAttrs:
        k = pair(kernel, "kernel")
        return A.PoolAttrs(k, pair(stride, "stride") if stride is not None else k, pads4(padding),
                           pair(dilation, "dilation"), ceil_mode, count_include_pad)

    def max_pool2d(self, x: str, kernel: IntOr2, stride: IntOr2 | None = None,
                   padding: IntOr2 = 0, dilation: IntOr2 = 1, ceil_mode: bool = False,
                   name: str | None = None) -> str:
        """Max pooling (stride defaults to the kernel, as in PyTorch)."""
        at = self._pool_attrs(kernel, stride, padding, dilation, ceil_mode, False)
        return self._one(OpCode.MAX_POOL2D, [x], at, name)

    def avg_pool2d(self, x: str, kernel: IntOr2, stride: IntOr2 | None = None,
                   padding: IntOr2 = 0, dilation: IntOr2 = 1, ceil_mode: bool = False,
                   count_include_pad: bool = False, name: str | None = None) -> str:
        """Average pooling."""
        at = self._pool_attrs(kernel, stride, padding, dilation, ceil_mode, count_include_pad)
        return self._one(OpCode.AVG_POOL2D, [x], at, name)

    def max_pool2d_grad(self, x: str, dy: str, attrs: A.PoolAttrs,
                        name: str | None = None) -> str:
        """Gradient of max_pool2d(x; attrs) w.r.t. x given dy (first maximum takes it)."""
        return self._one(OpCode.MAX_POOL2D_GRAD, [x, dy], attrs, name)

    def avg_pool2d_grad(self, x: str, dy: str, attrs: A.PoolAttrs,
                        name: str | None = None) -> str:
        """Gradient of avg_pool2d(x; attrs) w.r.t. x given dy."""
        return self._one(OpCode.AVG_POOL2D_GRAD, [x, dy], attrs, name)

    def global_avg_pool(self, x: str, name: str | None = None) -> str:
        """Mean over all spatial dims, keeping them as size 1."""
        return self._one(OpCode.GLOBAL_AVG_POOL, [x], name=name)

    # ----- data movement --------------------------------------------------------------------
    def reshape(self, x: str, shape: Sequence[int], name: str | None = None) -> str:
        """Reshape; one -1 is inferred and 0 copies the input dim (ONNX Reshape). A reshape to
        the same shape returns x itself unless ``name`` is given."""
        src = self.shape(x)
        dims = [src[i] if d == 0 and i < len(src) else int(d) for i, d in enumerate(shape)]
        if dims.count(-1) > 1:
            raise FrameworkError(f"reshape {x!r}: more than one -1 in {tuple(shape)}")
        if -1 in dims:
            known = 1
            for d in dims:
                known *= d if d != -1 else 1
            total = 1
            for d in src:
                total *= d
            if known == 0 or total % known:
                raise FrameworkError(f"reshape {x!r}: cannot infer -1 in {tuple(shape)} from {src}")
            dims[dims.index(-1)] = total // known
        if tuple(dims) == src and name is None:
            return x  # no-op reshape: keep graphs (and backward passes) free of clutter
        return self._one(OpCode.RESHAPE, [x], A.ReshapeAttrs(tuple(dims)), name)

    def flatten(self, x: str, axis: int = 1, name: str | None = None) -> str:
        """To 2-D at ``axis``."""
        return self._one(OpCode.FLATTEN, [x], A.FlattenAttrs(axis), name)

    def transpose(self, x: str, perm: Sequence[int] | None = None,
                  name: str | None = None) -> str:
        """Permute dims (reverse them when perm is None)."""
        rank = len(self.shape(x))
        p = tuple(range(rank))[::-1] if perm is None else tuple(norm_axis(a, rank) for a in perm)
        return self._one(OpCode.TRANSPOSE, [x], A.TransposeAttrs(p), name)

    permute = transpose

    def concat(self, xs: Sequence[str], axis: int = 0,
               name: str | None = None) -> str:
        """Join along axis."""
        return self._one(OpCode.CONCAT, list(xs), A.AxisAttrs(axis), name)

    def split(self, x: str, sizes: int | Sequence[int], axis: int = 0,
              name: str | None = None) -> tuple[str, ...]:
        """Split along axis into the given sizes, or into ``sizes`` equal parts if an int."""
        if isinstance(sizes, int):
            dim = self.shape(x)[norm_axis(axis, len(self.shape(x)))]
            if sizes <= 0 or dim % sizes:
                raise FrameworkError(f"split {x!r}: dim {dim} is not divisible into {sizes} parts")
            sizes = [dim // sizes] * sizes
        return self.node(OpCode.SPLIT, [x], A.SplitAttrs(axis, tuple(sizes)), name=name)

    def slice(self, x: str, starts: Sequence[int], ends: Sequence[int],
              axes: Sequence[int] | None = None, steps: Sequence[int] | None = None,
              name: str | None = None) -> str:
        """ONNX Slice (axes default to 0..n-1, steps to 1)."""
        axes = tuple(axes) if axes is not None else tuple(range(len(starts)))
        steps = tuple(steps) if steps is not None else (1,) * len(starts)
        at = A.SliceAttrs(tuple(starts), tuple(ends), axes, steps)
        return self._one(OpCode.SLICE, [x], at, name)

    def pad(self, x: str, pads: Sequence[int], mode: str = "constant",
            value: float = 0.0, name: str | None = None) -> str:
        """ONNX Pad: pads = all begins then all ends."""
        return self._one(OpCode.PAD, [x], A.PadAttrs(tuple(pads), mode, value), name)

    def gather(self, x: str, indices: str, axis: int = 0,
               name: str | None = None) -> str:
        """numpy.take(x, indices, axis)."""
        return self._one(OpCode.GATHER, [x, indices], A.AxisAttrs(axis), name)

    def embedding(self, table: str, ids: str, name: str | None = None) -> str:
        """Rows of ``table`` (vocab, dim) for integer ``ids``: gather on axis 0."""
        return self.gather(table, ids, 0, name)

    def expand(self, x: str, shape: Sequence[int], name: str | None = None) -> str:
        """Broadcast to ``shape`` (a no-op expand returns x itself unless ``name`` is given)."""
        if tuple(shape) == self.shape(x) and name is None:
            return x
        return self._one(OpCode.EXPAND, [x], A.ExpandAttrs(tuple(shape)), name)

    # ----- reductions and sources -----------------------------------------------------------
    def _reduce(self, op: OpCode, x: str, axes: int | Sequence[int] | None,
                keepdims: bool, name: str | None) -> str:
        ax = () if axes is None else (axes,) if isinstance(axes, int) else tuple(axes)
        return self._one(op, [x], A.ReduceAttrs(ax, keepdims), name)

    def reduce_sum(self, x: str, axes: int | Sequence[int] | None = None,
                   keepdims: bool = True, name: str | None = None) -> str:
        """Sum over axes (all when None)."""
        return self._reduce(OpCode.REDUCE_SUM, x, axes, keepdims, name)

    def reduce_mean(self, x: str, axes: int | Sequence[int] | None = None,
                    keepdims: bool = True, name: str | None = None) -> str:
        """Mean over axes (all when None)."""
        return self._reduce(OpCode.REDUCE_MEAN, x, axes, keepdims, name)

    def reduce_max(self, x: str, axes: int | Sequence[int] | None = None,
                   keepdims: bool = True, name: str | None = None) -> str:
        """Max over axes (all when None)."""
        return self._reduce(OpCode.REDUCE_MAX, x, axes, keepdims, name)

    def argmax(self, x: str, axis: int = -1, keepdims: bool = False,
               name: str | None = None) -> str:
        """Index of the max along one axis (int64, first occurrence)."""
        return self._reduce(OpCode.ARGMAX, x, axis, keepdims, name)

    def fill(self, shape: Sequence[int], value: float = 0.0,
             dtype: str = "float32", name: str | None = None) -> str:
        """A tensor of ``shape`` holding ``value``."""
        return self._one(OpCode.FILL, [], A.FillAttrs(tuple(shape), value, dtype), name)

    def fused(self, inputs: Sequence[str], kind: str, body: Any,
              name: str | None = None) -> tuple[str, ...]:
        """A fusion group running ``body`` (a Graph obeying framework/fused.py's chain
        invariant) on ``inputs``; returns its output names."""
        return self.node(OpCode.FUSED, list(inputs), A.FusedAttrs(kind, body), name=name)

    def one_hot(self, indices: str, depth: int, axis: int = -1,
                dtype: str = "float32", name: str | None = None) -> str:
        """One-hot encoding of integer indices."""
        return self._one(OpCode.ONE_HOT, [indices], A.OneHotAttrs(depth, axis, dtype), name)
