"""The op vocabulary: `OpCode` and, per op, its attribute record type and input arity.

Adding an op means one enum member here plus one entry in each rule table (shapes, evaluate,
vjp, flops); tests/framework/test_rule_tables.py fails if any table misses it.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from . import attrs as A


class OpCode(Enum):
    """Every operation a Graph node may perform (values are the printed names)."""

    # unary elementwise
    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    GELU = "gelu"
    SILU = "silu"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    ELU = "elu"
    SELU = "selu"
    SOFTPLUS = "softplus"
    CLIP = "clip"
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    NEG = "neg"
    ABS = "abs"
    ERF = "erf"
    RECIPROCAL = "reciprocal"
    CAST = "cast"
    IDENTITY = "identity"
    # binary elementwise (NumPy broadcasting)
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    PRELU = "prelu"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    GREATER = "greater"
    LESS = "less"
    EQUAL = "equal"
    WHERE = "where"
    # linear algebra and convolution
    MATMUL = "matmul"
    GEMM = "gemm"
    LINEAR = "linear"
    CONV2D = "conv2d"
    CONV_TRANSPOSE2D = "conv_transpose2d"
    CONV2D_GRAD_WEIGHT = "conv2d_grad_weight"
    # normalisation and softmax
    BATCH_NORM = "batch_norm"
    BATCH_NORM_GRAD = "batch_norm_grad"
    LAYER_NORM = "layer_norm"
    SOFTMAX = "softmax"
    LOG_SOFTMAX = "log_softmax"
    # pooling
    MAX_POOL2D = "max_pool2d"
    AVG_POOL2D = "avg_pool2d"
    GLOBAL_AVG_POOL = "global_avg_pool"
    MAX_POOL2D_GRAD = "max_pool2d_grad"
    AVG_POOL2D_GRAD = "avg_pool2d_grad"
    # data movement
    RESHAPE = "reshape"
    FLATTEN = "flatten"
    TRANSPOSE = "transpose"
    CONCAT = "concat"
    SPLIT = "split"
    SLICE = "slice"
    PAD = "pad"
    GATHER = "gather"
    EXPAND = "expand"
    # reductions
    REDUCE_SUM = "reduce_sum"
    REDUCE_MEAN = "reduce_mean"
    REDUCE_MAX = "reduce_max"
    ARGMAX = "argmax"
    # sources and encodings
    FILL = "fill"
    ONE_HOT = "one_hot"
    # compiler fusion groups (framework/fused.py)
    FUSED = "fused"

    def __str__(self) -> str:
        return self.value


class OpInfo(NamedTuple):
    """Static signature of an op: its attrs record type (None = no attributes) and input arity."""

    attrs: type | None
    min_inputs: int
    max_inputs: int


def _info(attrs: type | None, lo: int, hi: int | None = None) -> OpInfo:
    return OpInfo(attrs, lo, lo if hi is None else hi)


OP_INFO: dict[OpCode, OpInfo] = {
    OpCode.RELU: _info(None, 1),
    OpCode.LEAKY_RELU: _info(A.LeakyReluAttrs, 1),
    OpCode.GELU: _info(A.GeluAttrs, 1),
    OpCode.SILU: _info(None, 1),
    OpCode.SIGMOID: _info(None, 1),
    OpCode.TANH: _info(None, 1),
    OpCode.ELU: _info(A.EluAttrs, 1),
    OpCode.SELU: _info(A.SeluAttrs, 1),
    OpCode.SOFTPLUS: _info(None, 1),
    OpCode.CLIP: _info(A.ClipAttrs, 1),
    OpCode.EXP: _info(None, 1),
    OpCode.LOG: _info(None, 1),
    OpCode.SQRT: _info(None, 1),
    OpCode.NEG: _info(None, 1),
    OpCode.ABS: _info(None, 1),
    OpCode.ERF: _info(None, 1),
    OpCode.RECIPROCAL: _info(None, 1),
    OpCode.CAST: _info(A.CastAttrs, 1),
    OpCode.IDENTITY: _info(None, 1),
    OpCode.ADD: _info(None, 2),
    OpCode.SUB: _info(None, 2),
    OpCode.MUL: _info(None, 2),
    OpCode.DIV: _info(None, 2),
    OpCode.POW: _info(None, 2),
    OpCode.PRELU: _info(None, 2),
    OpCode.MAXIMUM: _info(None, 2),
    OpCode.MINIMUM: _info(None, 2),
    OpCode.GREATER: _info(None, 2),
    OpCode.LESS: _info(None, 2),
    OpCode.EQUAL: _info(None, 2),
    OpCode.WHERE: _info(None, 3),
    OpCode.MATMUL: _info(None, 2),
    OpCode.GEMM: _info(A.GemmAttrs, 2, 3),
    OpCode.LINEAR: _info(None, 2, 3),
    OpCode.CONV2D: _info(A.Conv2dAttrs, 2, 3),
    OpCode.CONV_TRANSPOSE2D: _info(A.ConvTranspose2dAttrs, 2, 3),
    OpCode.CONV2D_GRAD_WEIGHT: _info(A.ConvGradWeightAttrs, 2),
    OpCode.BATCH_NORM: _info(A.BatchNormAttrs, 5),
    OpCode.BATCH_NORM_GRAD: _info(A.BatchNormGradAttrs, 3, 4),
    OpCode.LAYER_NORM: _info(A.LayerNormAttrs, 3),
    OpCode.SOFTMAX: _info(A.AxisAttrs, 1),
    OpCode.LOG_SOFTMAX: _info(A.AxisAttrs, 1),
    OpCode.MAX_POOL2D: _info(A.PoolAttrs, 1),
    OpCode.AVG_POOL2D: _info(A.PoolAttrs, 1),
    OpCode.GLOBAL_AVG_POOL: _info(None, 1),
    OpCode.MAX_POOL2D_GRAD: _info(A.PoolAttrs, 2),
    OpCode.AVG_POOL2D_GRAD: _info(A.PoolAttrs, 2),
    OpCode.RESHAPE: _info(A.ReshapeAttrs, 1),
    OpCode.FLATTEN: _info(A.FlattenAttrs, 1),
    OpCode.TRANSPOSE: _info(A.TransposeAttrs, 1),
    OpCode.CONCAT: _info(A.AxisAttrs, 1, 1 << 16),
    OpCode.SPLIT: _info(A.SplitAttrs, 1),
    OpCode.SLICE: _info(A.SliceAttrs, 1),
    OpCode.PAD: _info(A.PadAttrs, 1),
    OpCode.GATHER: _info(A.AxisAttrs, 2),
    OpCode.EXPAND: _info(A.ExpandAttrs, 1),
    OpCode.REDUCE_SUM: _info(A.ReduceAttrs, 1),
    OpCode.REDUCE_MEAN: _info(A.ReduceAttrs, 1),
    OpCode.REDUCE_MAX: _info(A.ReduceAttrs, 1),
    OpCode.ARGMAX: _info(A.ReduceAttrs, 1),
    OpCode.FILL: _info(A.FillAttrs, 0),
    OpCode.ONE_HOT: _info(A.OneHotAttrs, 1),
    OpCode.FUSED: _info(A.FusedAttrs, 1, 1 << 16),
}
"""Per-op signature, checked when a Node is built."""

UNARY_ELEMENTWISE = frozenset({
    OpCode.RELU, OpCode.LEAKY_RELU, OpCode.GELU, OpCode.SILU, OpCode.SIGMOID, OpCode.TANH,
    OpCode.ELU, OpCode.SELU, OpCode.SOFTPLUS, OpCode.CLIP, OpCode.EXP, OpCode.LOG, OpCode.SQRT,
    OpCode.NEG, OpCode.ABS, OpCode.ERF, OpCode.RECIPROCAL, OpCode.IDENTITY,
})
BINARY_ELEMENTWISE = frozenset({
    OpCode.ADD, OpCode.SUB, OpCode.MUL, OpCode.DIV, OpCode.POW, OpCode.PRELU, OpCode.MAXIMUM,
    OpCode.MINIMUM,
})
COMPARISONS = frozenset({OpCode.GREATER, OpCode.LESS, OpCode.EQUAL})
