"""Typed attribute records, one frozen dataclass per op family that has attributes.

Each record validates itself at construction and raises FrameworkError naming the field, so a bad
attribute is caught where the node is built rather than deep inside shape inference.
Padding follows the ONNX ``pads`` order: all begins, then all ends, i.e. (top, left, bottom,
right) for 2-D ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import FrameworkError

if TYPE_CHECKING:  # ir imports this module; the Graph type is only needed for annotations
    from .ir import Graph

#: dtypes a graph value may carry (NumPy names); float16 is computed in float32 (see evaluate.py)
DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
FLOAT_DTYPES = frozenset({"float16", "float32", "float64"})


def _check(cond: bool, record: str, message: str) -> None:
    if not cond:
        raise FrameworkError(f"{record}: {message}")


def _positive(record: str, field: str, values: tuple[int, ...]) -> None:
    _check(all(v >= 1 for v in values), record, f"{field} must be >= 1, got {values}")


def _nonnegative(record: str, field: str, values: tuple[int, ...]) -> None:
    _check(all(v >= 0 for v in values), record, f"{field} must be >= 0, got {values}")


@dataclass(frozen=True)
class Conv2dAttrs:
    """2-D convolution over NCHW input with OIHW weight; padding is (top, left, bottom, right)."""

    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        _check(len(self.stride) == 2 and len(self.dilation) == 2, "Conv2dAttrs",
               "stride and dilation need 2 values")
        _check(len(self.padding) == 4, "Conv2dAttrs", f"padding needs 4 values, got {self.padding}")
        _positive("Conv2dAttrs", "stride", self.stride)
        _positive("Conv2dAttrs", "dilation", self.dilation)
        _nonnegative("Conv2dAttrs", "padding", self.padding)
        _positive("Conv2dAttrs", "groups", (self.groups,))


@dataclass(frozen=True)
class ConvTranspose2dAttrs:
    """Transposed 2-D convolution (weight is (Cin, Cout/groups, kh, kw), as in ONNX and PyTorch).

    The full output is (H-1)*stride + dilation*(k-1) + 1 + output_padding, then ``padding``
    is cropped from it (begins, then ends).
    """

    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    output_padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        _check(len(self.padding) == 4, "ConvTranspose2dAttrs",
               f"padding needs 4 values, got {self.padding}")
        _positive("ConvTranspose2dAttrs", "stride", self.stride)
        _positive("ConvTranspose2dAttrs", "dilation", self.dilation)
        _nonnegative("ConvTranspose2dAttrs", "padding", self.padding)
        _nonnegative("ConvTranspose2dAttrs", "output_padding", self.output_padding)
        _positive("ConvTranspose2dAttrs", "groups", (self.groups,))


@dataclass(frozen=True)
class ConvGradWeightAttrs:
    """Weight gradient of a conv2d: inputs (x, dy), output shaped ``weight_shape`` (OIHW)."""

    conv: Conv2dAttrs
    weight_shape: tuple[int, int, int, int]


@dataclass(frozen=True)
class GemmAttrs:
    """ONNX Gemm: alpha * op(A) @ op(B) + beta * C, op = transpose when the flag is set."""

    alpha: float = 1.0
    beta: float = 1.0
    trans_a: bool = False
    trans_b: bool = False


@dataclass(frozen=True)
class PoolAttrs:
    """2-D max/average pooling window; ceil_mode rounds the output size up (PyTorch rule:
    a window may not start inside the right padding); count_include_pad only affects average."""

    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = False

    def __post_init__(self) -> None:
        _check(len(self.kernel) == 2, "PoolAttrs", f"kernel needs 2 values, got {self.kernel}")
        _check(len(self.padding) == 4, "PoolAttrs", f"padding needs 4 values, got {self.padding}")
        _positive("PoolAttrs", "kernel", self.kernel)
        _positive("PoolAttrs", "stride", self.stride)
        _positive("PoolAttrs", "dilation", self.dilation)
        _nonnegative("PoolAttrs", "padding", self.padding)


@dataclass(frozen=True)
class BatchNormAttrs:
    """Batch normalisation over axis 1. Inputs (x, scale, bias, mean, var).

    Inference uses the running statistics and has one output. Training computes the biased batch
    statistics and has three outputs (y, new_mean, new_var) with the ONNX update rule
    ``new = running * momentum + batch * (1 - momentum)``.
    """

    eps: float = 1e-5
    momentum: float = 0.9
    training: bool = False


@dataclass(frozen=True)
class BatchNormGradAttrs:
    """Backward of training-mode batch norm over axis 1. Inputs (x, dy, scale); outputs
    (dx, dscale, dbias), the statistics (biased variance) recomputed from x over every axis
    but 1, as the forward computed them. With ``relu_mask`` a fourth input y (x's shape) masks
    the incoming gradient: the op uses where(y > 0, dy, 0) as its dy (the backward of a ReLU
    of y fused in, so that masked gradient is never stored)."""

    eps: float = 1e-5
    relu_mask: bool = False


@dataclass(frozen=True)
class LayerNormAttrs:
    """Normalise over dims ``axis..rank-1`` (ONNX LayerNormalization); inputs (x, scale, bias)."""

    axis: int = -1
    eps: float = 1e-5


@dataclass(frozen=True)
class AxisAttrs:
    """A single axis (softmax, log_softmax, concat, gather)."""

    axis: int = -1


@dataclass(frozen=True)
class LeakyReluAttrs:
    """x if x >= 0 else alpha * x."""

    alpha: float = 0.01


@dataclass(frozen=True)
class EluAttrs:
    """x if x > 0 else alpha * (exp(x) - 1)."""

    alpha: float = 1.0


@dataclass(frozen=True)
class SeluAttrs:
    """gamma * elu(x, alpha); defaults from Klambauer et al. 2017 (ONNX Selu)."""

    alpha: float = 1.6732632423543772
    gamma: float = 1.0507009873554805


@dataclass(frozen=True)
class GeluAttrs:
    """approximate = "none" (x * Phi(x), exact erf form) or "tanh" (Hendrycks & Gimpel 2016)."""

    approximate: str = "none"

    def __post_init__(self) -> None:
        _check(self.approximate in ("none", "tanh"), "GeluAttrs",
               f"approximate must be 'none' or 'tanh', got {self.approximate!r}")


@dataclass(frozen=True)
class ClipAttrs:
    """Clamp to [min, max]; None leaves that side unbounded."""

    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ReshapeAttrs:
    """Target shape, fully resolved (no -1 or 0 placeholders)."""

    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        _nonnegative("ReshapeAttrs", "shape", self.shape)


@dataclass(frozen=True)
class FlattenAttrs:
    """Flatten to 2-D: dims before ``axis`` become rows, the rest columns (ONNX Flatten)."""

    axis: int = 1


@dataclass(frozen=True)
class TransposeAttrs:
    """Output dim i is input dim perm[i]."""

    perm: tuple[int, ...]

    def __post_init__(self) -> None:
        _check(sorted(self.perm) == list(range(len(self.perm))), "TransposeAttrs",
               f"perm {self.perm} is not a permutation")


@dataclass(frozen=True)
class SplitAttrs:
    """Split along ``axis`` into pieces of the given sizes (one output per size)."""

    axis: int
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        _nonnegative("SplitAttrs", "sizes", self.sizes)


@dataclass(frozen=True)
class SliceAttrs:
    """ONNX Slice: per listed axis, Python-style start:end:step with clamping."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    axes: tuple[int, ...]
    steps: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.axes)
        _check(len(self.starts) == n and len(self.ends) == n and len(self.steps) == n,
               "SliceAttrs", "starts, ends, axes and steps need the same length")
        _check(all(s != 0 for s in self.steps), "SliceAttrs", "steps may not be 0")


PAD_MODES = ("constant", "reflect", "edge")


@dataclass(frozen=True)
class PadAttrs:
    """ONNX Pad: ``pads`` holds all begins then all ends (>= 0); mode constant/reflect/edge."""

    pads: tuple[int, ...]
    mode: str = "constant"
    value: float = 0.0

    def __post_init__(self) -> None:
        _check(self.mode in PAD_MODES, "PadAttrs",
               f"mode must be one of {PAD_MODES}, got {self.mode!r}")
        _check(len(self.pads) % 2 == 0, "PadAttrs", "pads needs begins and ends for every axis")
        _nonnegative("PadAttrs", "pads", self.pads)


@dataclass(frozen=True)
class ReduceAttrs:
    """Reduce over ``axes`` (empty = all axes); keepdims keeps them as size 1."""

    axes: tuple[int, ...] = ()
    keepdims: bool = True


@dataclass(frozen=True)
class CastAttrs:
    """Convert to ``dtype``."""

    dtype: str

    def __post_init__(self) -> None:
        _check(self.dtype in DTYPES, "CastAttrs", f"unknown dtype {self.dtype!r}")


@dataclass(frozen=True)
class OneHotAttrs:
    """One-hot encode integer indices into a new ``axis`` of size ``depth`` (1 / 0 values)."""

    depth: int
    axis: int = -1
    dtype: str = "float32"

    def __post_init__(self) -> None:
        _positive("OneHotAttrs", "depth", (self.depth,))
        _check(self.dtype in DTYPES, "OneHotAttrs", f"unknown dtype {self.dtype!r}")


@dataclass(frozen=True)
class FillAttrs:
    """A tensor of ``shape`` filled with ``value`` (no inputs; ONNX ConstantOfShape)."""

    shape: tuple[int, ...]
    value: float = 0.0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        _nonnegative("FillAttrs", "shape", self.shape)
        _check(self.dtype in DTYPES, "FillAttrs", f"unknown dtype {self.dtype!r}")


@dataclass(frozen=True)
class ExpandAttrs:
    """Broadcast the input to ``shape`` (NumPy rules)."""

    shape: tuple[int, ...]


FUSED_KINDS = ("conv", "matmul", "elementwise")


@dataclass(frozen=True)
class FusedAttrs:
    """A fusion group: ``kind`` (one of FUSED_KINDS) and its ``body`` Graph, whose first node is
    the anchor and whose other nodes form a linear elementwise epilogue chain (the invariant is
    documented and checked in framework/fused.py). Compared by body identity."""

    kind: str
    body: Graph

    def __post_init__(self) -> None:
        _check(self.kind in FUSED_KINDS, "FusedAttrs",
               f"kind must be one of {FUSED_KINDS}, got {self.kind!r}")
