"""The eager front end: a NumPy-backed `Tensor` whose every op is a graph op.

An eager op is ``EVAL_RULES[op]`` applied to the operands' arrays, with the interpreter's own
precision policy (float16 widened to float32, the result cast to the dtype SHAPE_RULES infer),
so eager execution and `interpret` of a traced graph give the same numbers by construction.

While `framework.trace` runs, ops are recorded instead: the active `Tracer` (held in the
``TRACING`` context variable, set only inside ``trace``) adds a node to its GraphBuilder and
returns a *symbolic* Tensor that has a type and a graph value name but no data. Tensors that
are not part of the trace yet (parameters, constants made in ``forward``) are lifted into the
graph as constants when an op first uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Self, TypeAlias

import numpy as np

from . import attrs as A
from .attrs import DTYPES
from .errors import FrameworkError
from .evaluate import EVAL_RULES
from .ir import Node, TensorType
from .ops import OpCode
from .shape_utils import norm_axis
from .shapes import infer_types

if TYPE_CHECKING:
    from .trace import Tracer

#: The trace being recorded in this context, if any. A ContextVar rather than a module global:
#: it is scoped by ``trace`` (set, then reset in a ``finally``) and private to each thread.
TRACING: ContextVar[Tracer | None] = ContextVar("framework_tracing", default=None)

Operand: TypeAlias = "Tensor | float | int | bool"


def _as_array(data: Any, dtype: str | None) -> np.ndarray:
    """An owned array of a graph dtype; Python floats default to float32 (as in PyTorch)."""
    if dtype is not None:
        return np.array(data, dtype=dtype)
    array = np.array(data)
    if not isinstance(data, np.ndarray) and array.dtype == np.float64:
        array = array.astype(np.float32)
    if str(array.dtype) not in DTYPES:
        array = array.astype(np.float32 if array.dtype.kind == "f" else np.int64)
    return array


def _widen(a: np.ndarray) -> np.ndarray:
    # the interpreter's precision policy: float16 is computed in float32 (interpreter.py)
    return a.astype(np.float32) if a.dtype == np.float16 else a


class Tensor:
    """An n-d array with a `TensorType`: concrete (holds a NumPy array) or symbolic (holds a
    graph value name in an active trace, no data).

    Tensors are values: ops return new Tensors and never change their operands. Only
    `Parameter` and buffers (framework.nn) are re-assigned, by ``Module.load_state_dict``.
    """

    __slots__ = ("_data", "_type", "_tracer", "_name")
    __array_priority__ = 1000  # ``ndarray + Tensor`` defers to Tensor.__radd__

    def __init__(self, data: Any, dtype: str | None = None) -> None:
        array = _as_array(data.numpy() if isinstance(data, Tensor) else data, dtype)
        self._data: np.ndarray | None = array
        self._type = TensorType.of(array)
        self._tracer: Tracer | None = None
        self._name: str | None = None

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Self:
        """A Tensor over ``array`` without copying it (op results own their arrays)."""
        t = cls.__new__(cls)
        t._data, t._type, t._tracer, t._name = array, TensorType.of(array), None, None
        return t

    @classmethod
    def symbolic(cls, type_: TensorType, tracer: Tracer, name: str) -> Tensor:
        """A data-less Tensor standing for graph value ``name`` of ``tracer``."""
        t = cls.__new__(cls)
        t._data, t._type, t._tracer, t._name = None, type_, tracer, name
        return t

    # ----- introspection --------------------------------------------------------------------
    @property
    def type(self) -> TensorType:
        """Shape, dtype and layout."""
        return self._type

    @property
    def shape(self) -> tuple[int, ...]:
        """Dimensions."""
        return self._type.shape

    @property
    def dtype(self) -> str:
        """dtype name (see attrs.DTYPES)."""
        return self._type.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self._type.rank

    @property
    def name(self) -> str | None:
        """The graph value name while traced, else None."""
        return self._name

    @property
    def is_symbolic(self) -> bool:
        """True for a traced value without data."""
        return self._data is None

    def numel(self) -> int:
        """Number of elements."""
        return self._type.numel

    def numpy(self) -> np.ndarray:
        """The data (read-only view); FrameworkError for a symbolic tensor."""
        if self._data is None:
            raise FrameworkError(f"tensor {self._name!r} is symbolic (being traced): it has no "
                                 "data; forward() may not branch on values while tracing")
        view = self._data.view()
        view.flags.writeable = False
        return view

    def item(self) -> float | int | bool:
        """The single element as a Python number."""
        return self.numpy().item()

    def __repr__(self) -> str:
        if self._data is None:
            return f"Tensor(<symbolic {self._name}: {self._type}>)"
        return f"Tensor({np.array2string(self._data, threshold=8)}, dtype={self.dtype})"

    def __len__(self) -> int:
        return self.shape[0]

    def __bool__(self) -> bool:
        # truth of a one-element tensor; a symbolic one raises (forward branching on a value)
        return bool(self.item())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    # ----- operators ------------------------------------------------------------------------
    def __add__(self, other: Operand) -> Tensor:
        return binary(OpCode.ADD, self, other)

    def __radd__(self, other: Operand) -> Tensor:
        return binary(OpCode.ADD, other, self)

    def __sub__(self, other: Operand) -> Tensor:
        return binary(OpCode.SUB, self, other)

    def __rsub__(self, other: Operand) -> Tensor:
        return binary(OpCode.SUB, other, self)

    def __mul__(self, other: Operand) -> Tensor:
        return binary(OpCode.MUL, self, other)

    def __rmul__(self, other: Operand) -> Tensor:
        return binary(OpCode.MUL, other, self)

    def __truediv__(self, other: Operand) -> Tensor:
        return binary(OpCode.DIV, self, other)

    def __rtruediv__(self, other: Operand) -> Tensor:
        return binary(OpCode.DIV, other, self)

    def __pow__(self, other: Operand) -> Tensor:
        return binary(OpCode.POW, self, other)

    def __matmul__(self, other: Tensor) -> Tensor:
        return apply(OpCode.MATMUL, [self, as_tensor(other)])

    def __rmatmul__(self, other: Tensor) -> Tensor:
        return apply(OpCode.MATMUL, [as_tensor(other), self])

    def __neg__(self) -> Tensor:
        return apply(OpCode.NEG, [self])

    def __gt__(self, other: Operand) -> Tensor:
        return binary(OpCode.GREATER, self, other)

    def __lt__(self, other: Operand) -> Tensor:
        return binary(OpCode.LESS, self, other)

    def __getitem__(self, index: Any) -> Tensor:
        from .tensor_index import getitem

        return getitem(self, index)

    # ----- elementwise ----------------------------------------------------------------------
    def relu(self) -> Tensor:
        """max(x, 0)."""
        return apply(OpCode.RELU, [self])

    def sigmoid(self) -> Tensor:
        """Logistic function."""
        return apply(OpCode.SIGMOID, [self])

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return apply(OpCode.TANH, [self])

    def exp(self) -> Tensor:
        """e ** x."""
        return apply(OpCode.EXP, [self])

    def log(self) -> Tensor:
        """Natural logarithm."""
        return apply(OpCode.LOG, [self])

    def sqrt(self) -> Tensor:
        """Square root."""
        return apply(OpCode.SQRT, [self])

    def abs(self) -> Tensor:
        """|x|."""
        return apply(OpCode.ABS, [self])

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clamp to [min, max]."""
        return apply(OpCode.CLIP, [self], A.ClipAttrs(min, max))

    def astype(self, dtype: str) -> Tensor:
        """Convert to ``dtype`` (a CAST op)."""
        return apply(OpCode.CAST, [self], A.CastAttrs(dtype))

    # ----- shape ----------------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """Reshape; one -1 is inferred from the element count."""
        dims = list(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else list(shape)
        dims = [int(d) for d in dims]  # type: ignore[arg-type]
        if dims.count(-1) > 1:
            raise FrameworkError(f"reshape {self.shape}: more than one -1 in {tuple(dims)}")
        if -1 in dims:
            known = int(np.prod([d for d in dims if d != -1]))
            if known == 0 or self.numel() % known:
                raise FrameworkError(f"reshape {self.shape}: cannot infer -1 in {tuple(dims)}")
            dims[dims.index(-1)] = self.numel() // known
        if tuple(dims) == self.shape:
            return self
        return apply(OpCode.RESHAPE, [self], A.ReshapeAttrs(tuple(dims)))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims start_dim..end_dim into one (PyTorch semantics)."""
        s, e = norm_axis(start_dim, self.ndim), norm_axis(end_dim, self.ndim)
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        """Reorder dims: output dim i is input dim dims[i]."""
        given = list(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else list(dims)
        perm = tuple(norm_axis(int(d), self.ndim) for d in given)  # type: ignore[arg-type]
        return apply(OpCode.TRANSPOSE, [self], A.TransposeAttrs(perm))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dims."""
        perm = list(range(self.ndim))
        a, b = norm_axis(dim0, self.ndim), norm_axis(dim1, self.ndim)
        perm[a], perm[b] = perm[b], perm[a]
        return self.permute(perm)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dim at ``dim``."""
        d = norm_axis(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        """Broadcast to ``shape``."""
        dims = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return apply(OpCode.EXPAND, [self], A.ExpandAttrs(tuple(int(d) for d in dims)))  # type: ignore[arg-type]

    def split(self, sizes: int | Sequence[int], axis: int = 0) -> tuple[Tensor, ...]:
        """Split along ``axis`` into the given sizes, or into ``sizes`` equal parts if an int."""
        dim = self.shape[norm_axis(axis, self.ndim)]
        if isinstance(sizes, int):
            if sizes <= 0 or dim % sizes:
                raise FrameworkError(f"split: dim {dim} is not divisible into {sizes} parts")
            sizes = [dim // sizes] * sizes
        return apply(OpCode.SPLIT, [self], A.SplitAttrs(axis, tuple(sizes)))

    # ----- reductions -----------------------------------------------------------------------
    def _reduce(self, op: OpCode, axis: int | Sequence[int] | None, keepdims: bool) -> Tensor:
        axes = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        return apply(op, [self], A.ReduceAttrs(axes, keepdims))

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over axes (all when None)."""
        return self._reduce(OpCode.REDUCE_SUM, axis, keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Mean over axes (all when None)."""
        return self._reduce(OpCode.REDUCE_MEAN, axis, keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Max over axes (all when None)."""
        return self._reduce(OpCode.REDUCE_MAX, axis, keepdims)

    def argmax(self, axis: int = -1, keepdims: bool = False) -> Tensor:
        """Index of the max along one axis (int64)."""
        return self._reduce(OpCode.ARGMAX, axis, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along axis."""
        return apply(OpCode.SOFTMAX, [self], A.AxisAttrs(axis))

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - logsumexp(x) along axis."""
        return apply(OpCode.LOG_SOFTMAX, [self], A.AxisAttrs(axis))


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; a Python number takes the dtype of ``like`` when given."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, int | float | bool):
        return Tensor._wrap(np.array(value, dtype=like.dtype))
    return Tensor(value)


def binary(op: OpCode, a: Operand, b: Operand) -> Tensor:
    """A broadcasting binary op; a Python-number operand takes the other operand's dtype."""
    ta = as_tensor(a, b if isinstance(b, Tensor) else None)
    tb = as_tensor(b, ta)
    return apply(op, [ta, tb])


def apply(op: OpCode, inputs: Sequence[Tensor], attrs: Any = None) -> Any:
    """Run one graph op on Tensors: eagerly, or recorded into the active trace.

    Returns a Tensor for single-output ops and a tuple of Tensors otherwise (split, training
    batch norm). Eagerly this is exactly one step of the reference interpreter.
    """
    tracer = TRACING.get()
    if tracer is not None:
        outs = tracer.record(op, inputs, attrs)
    else:
        outs = _eager(op, inputs, attrs)
    return outs[0] if len(outs) == 1 else outs


def _eager(op: OpCode, inputs: Sequence[Tensor], attrs: Any) -> tuple[Tensor, ...]:
    where = f"{op}"
    for t in inputs:
        if t._data is None:
            raise FrameworkError(f"{where}: symbolic tensor {t._name!r} used outside its trace")
    # Node() checks the arity and the attrs record type exactly as a graph node would
    Node(op, tuple(f"in{i}" for i in range(len(inputs))), ("out",), attrs, str(op))
    out_types = infer_types(op, [t._type for t in inputs], attrs, where)
    args = [_widen(t._data) for t in inputs]  # type: ignore[arg-type]
    try:
        with np.errstate(all="ignore"):  # inf/nan are legitimate values, as in the interpreter
            results = EVAL_RULES[op](args, attrs)
    except FrameworkError as exc:
        raise FrameworkError(f"{where}: {exc}") from None
    outs = []
    for value, want in zip(results, out_types, strict=True):
        value = np.asarray(value)
        if value.dtype != want.dtype:
            value = value.astype(want.dtype)
        outs.append(Tensor._wrap(value))
    return tuple(outs)


def concat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along ``axis``."""
    return apply(OpCode.CONCAT, list(tensors), A.AxisAttrs(axis))


def where(cond: Tensor, a: Operand, b: Operand) -> Tensor:
    """``a`` where ``cond`` else ``b`` (broadcasting)."""
    ta = as_tensor(a, b if isinstance(b, Tensor) else None)
    return apply(OpCode.WHERE, [cond, ta, as_tensor(b, ta)])


def maximum(a: Operand, b: Operand) -> Tensor:
    """Elementwise max."""
    return binary(OpCode.MAXIMUM, a, b)


def minimum(a: Operand, b: Operand) -> Tensor:
    """Elementwise min."""
    return binary(OpCode.MINIMUM, a, b)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """numpy.matmul semantics (batched)."""
    return apply(OpCode.MATMUL, [a, b])
