"""framework.onnx.load: per-op imports on small hand-built models compared with
onnx.reference.ReferenceEvaluator, shape-subgraph folding, input shapes, and error messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from framework import FrameworkError, OpCode, interpret
from framework.onnx import SUPPORTED_OPS, load

RNG = np.random.default_rng(0)


def rand(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return np.asarray(RNG.standard_normal(shape).astype(dtype))


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


@dataclass
class Case:
    """One ONNX node. ``ins`` items: ("x", array) graph input, ("c", array) initializer,
    None an omitted optional input."""

    id: str
    op: str
    ins: list[tuple[str, np.ndarray] | None]
    attrs: dict[str, Any] = field(default_factory=dict)
    opset: int = 17
    outputs: int = 1
    #: NumPy expected outputs from the ONNX spec, where onnx.reference lacks or misreads the op
    spec: Callable[..., list[np.ndarray]] | None = None


def X(a: Any) -> tuple[str, np.ndarray]:
    return ("x", np.asarray(a))


def C(a: Any) -> tuple[str, np.ndarray]:
    return ("c", np.asarray(a))


def build(nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray],
          inits: dict[str, np.ndarray], outputs: list[str], opset: int,
          expected: list[np.ndarray] | None = None) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """A checked model whose output types come from the expected outputs (by default the ONNX
    reference run), and those outputs."""
    def info(name: str, a: np.ndarray) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)

    def model(outs: list[onnx.ValueInfoProto]) -> onnx.ModelProto:
        graph = helper.make_graph(
            nodes, "case", [info(k, v) for k, v in inputs.items()], outs,
            [onnx.numpy_helper.from_array(v, k) for k, v in inits.items()])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])

    if expected is None:
        draft = model([helper.make_empty_tensor_value_info(n) for n in outputs])
        expected = [np.asarray(e) for e in ReferenceEvaluator(draft).run(None, inputs)]
    final = model([info(n, np.asarray(e)) for n, e in zip(outputs, expected, strict=True)])
    onnx.checker.check_model(final)
    return final, [np.asarray(e) for e in expected]


def run_case(case: Case) -> None:
    inputs: dict[str, np.ndarray] = {}
    inits: dict[str, np.ndarray] = {}
    names: list[str] = []
    for i, item in enumerate(case.ins):
        if item is None:
            names.append("")
            continue
        kind, array = item
        names.append(f"in{i}")
        (inputs if kind == "x" else inits)[f"in{i}"] = array
    outs = [f"out{k}" for k in range(case.outputs)]
    node = helper.make_node(case.op, names, outs, name=f"{case.op.lower()}_node", **case.attrs)
    spec = None
    if case.spec is not None:
        spec = case.spec(*[item[1] if item else None for item in case.ins], **case.attrs)
    model, expected = build([node], inputs, inits, outs, case.opset, spec)
    graph = load(model)
    got = interpret(graph, inputs)
    for name, want in zip(outs, expected, strict=True):
        assert got[name].dtype == want.dtype, name
        np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-5, err_msg=case.id)


def softmax_2d(x: np.ndarray, axis: int = 1, log: bool = False) -> list[np.ndarray]:
    """Softmax-1..11: coerce to 2-D [prod(dims[:axis]), prod(dims[axis:])], normalise rows."""
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1).astype(np.float64)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return [(np.log(y) if log else y).reshape(x.shape).astype(x.dtype)]


def lrn(x: np.ndarray, size: int, alpha: float, beta: float, bias: float = 1.0) -> list[np.ndarray]:
    """LRN per the ONNX spec (onnx.reference's loop runs over the batch axis instead)."""
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.zeros_like(x)
    for c in range(x.shape[1]):
        sq[:, c] = (x[:, max(0, c - lo):min(x.shape[1], c + hi + 1)] ** 2).sum(axis=1)
    return [(x / (bias + alpha / size * sq) ** beta).astype(x.dtype)]


def pad_negative(x: np.ndarray, pads: np.ndarray) -> list[np.ndarray]:
    """Pad with negative pads = crop (onnx.reference rejects negative pads)."""
    r = x.ndim
    y = np.pad(x, [(max(pads[i], 0), max(pads[i + r], 0)) for i in range(r)])
    index = tuple(slice(-min(pads[i], 0), y.shape[i] + min(pads[i + r], 0)) for i in range(r))
    return [y[index]]


x4 = rand(2, 4, 7, 6)
CASES = [
    Case("conv", "Conv", [X(x4), C(rand(6, 2, 3, 3)), C(rand(6))],
         dict(pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2], group=2)),
    Case("conv_same_upper", "Conv", [X(x4), C(rand(3, 4, 3, 2))],
         dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    Case("conv_1d", "Conv", [X(rand(2, 3, 9)), C(rand(4, 3, 3))], dict(pads=[1, 1], strides=[2])),
    Case("conv_weight_input", "Conv", [X(x4), X(rand(3, 4, 1, 1))]),
    Case("conv_transpose", "ConvTranspose", [X(x4), C(rand(4, 3, 3, 3)), C(rand(3))],
         dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 0])),
    Case("conv_transpose_output_shape", "ConvTranspose", [X(x4), C(rand(4, 2, 3, 3))],
         dict(strides=[2, 2], output_shape=[15, 13])),
    Case("gemm", "Gemm", [X(rand(5, 3)), C(rand(4, 3)), C(rand(4))],
         dict(transB=1, alpha=0.5, beta=2.0)),
    Case("gemm_trans_a_no_c", "Gemm", [X(rand(3, 5)), X(rand(3, 2))], dict(transA=1), opset=13),
    Case("matmul_batched", "MatMul", [X(rand(2, 1, 3, 4)), X(rand(5, 4, 2))]),
    Case("matmul_vector", "MatMul", [X(rand(3, 4)), C(rand(4))]),
    Case("batchnorm", "BatchNormalization",
         [X(x4), C(rand(4)), C(rand(4)), C(rand(4)), C(np.abs(rand(4)) + 0.5)],
         dict(epsilon=1e-3), opset=15),
    Case("relu", "Relu", [X(x4)]),
    Case("leaky_relu", "LeakyRelu", [X(x4)], dict(alpha=0.2)),
    Case("prelu", "PRelu", [X(x4), C(rand(4, 1, 1))], opset=16),
    Case("elu", "Elu", [X(x4)], dict(alpha=0.7)),
    Case("selu", "Selu", [X(x4)]),
    Case("sigmoid", "Sigmoid", [X(x4)]),
    Case("tanh", "Tanh", [X(x4)]),
    Case("softplus", "Softplus", [X(x4)]),
    Case("softsign", "Softsign", [X(x4)]),
    Case("hard_sigmoid", "HardSigmoid", [X(x4)], dict(alpha=0.3)),
    Case("hard_swish", "HardSwish", [X(x4 * 4)]),
    Case("mish", "Mish", [X(x4 * 4)], opset=18),
    Case("thresholded_relu", "ThresholdedRelu", [X(x4)], dict(alpha=0.5)),
    Case("gelu_exact", "Gelu", [X(x4)], opset=20),
    Case("gelu_tanh", "Gelu", [X(x4)], dict(approximate="tanh"), opset=20),
    Case("erf", "Erf", [X(x4)]),
    Case("clip_attr_opset6", "Clip", [X(x4)], dict(min=-0.5, max=0.4), opset=6),
    Case("clip_inputs", "Clip", [X(x4), C(np.float32(-0.5)), C(np.float32(0.3))], opset=13),
    Case("clip_max_only", "Clip", [X(x4), None, C(np.float32(0.1))], opset=13),
    Case("clip_runtime_bounds", "Clip", [X(x4), X(np.float32(-0.2)), X(np.float32(0.2))]),
    Case("maxpool", "MaxPool", [X(x4)], dict(kernel_shape=[3, 2], strides=[2, 2],
                                             pads=[1, 0, 1, 1], dilations=[1, 2])),
    Case("maxpool_ceil", "MaxPool", [X(x4)], dict(kernel_shape=[2, 2], strides=[2, 2],
                                                  ceil_mode=1), opset=12),
    Case("avgpool_include_pad", "AveragePool", [X(x4)],
         dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)),
    Case("avgpool_exclude_pad", "AveragePool", [X(x4)],
         dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])),
    Case("maxpool_1d", "MaxPool", [X(rand(2, 3, 11))], dict(kernel_shape=[3], strides=[2])),
    Case("global_avgpool", "GlobalAveragePool", [X(x4)]),
    Case("global_maxpool", "GlobalMaxPool", [X(x4)]),
    Case("softmax_opset11_coerces_2d", "Softmax", [X(rand(2, 3, 4))], dict(axis=1), opset=11,
         spec=softmax_2d),
    Case("softmax_opset13_axis", "Softmax", [X(rand(2, 3, 4))], dict(axis=1), opset=13),
    Case("softmax_opset9_default", "Softmax", [X(rand(2, 3, 4))], opset=9, spec=softmax_2d),
    Case("log_softmax_opset11", "LogSoftmax", [X(rand(2, 3, 4))], dict(axis=1), opset=11,
         spec=lambda x, axis: softmax_2d(x, axis, log=True)),
    Case("log_softmax_opset13", "LogSoftmax", [X(rand(2, 3, 4))], opset=13),
    *[Case(op.lower(), op, [X(rand(2, 3, 4)), C(rand(3, 1))]) for op in ("Add", "Sub", "Mul")],
    Case("add_legacy_broadcast_axis", "Add", [X(rand(2, 3, 4)), C(rand(3))],
         dict(broadcast=1, axis=1), opset=6, spec=lambda a, b, **_: [a + b.reshape(3, 1)]),
    Case("prelu_legacy_per_channel", "PRelu", [X(x4), C(rand(4))], opset=6,
         spec=lambda x, s: [np.where(x >= 0, x, x * s.reshape(4, 1, 1))]),
    Case("div", "Div", [X(rand(2, 3, 4)), C(np.abs(rand(4)) + 1)]),
    Case("div_int", "Div", [X(ints(7, -7, 9)), C(ints(2, 2, -4))]),
    Case("pow", "Pow", [X(np.abs(rand(3, 4)) + 0.1), C(rand(4))]),
    Case("pow_int_exponent", "Pow", [X(np.abs(rand(3, 4))), C(ints(2))], opset=15),
    Case("sum3", "Sum", [X(rand(2, 3)), X(rand(3)), C(rand(2, 1))]),
    Case("max3", "Max", [X(rand(2, 3)), X(rand(3)), C(rand(2, 1))]),
    Case("min2", "Min", [X(rand(2, 3)), X(rand(2, 3))]),
    Case("mean2", "Mean", [X(rand(2, 3)), X(rand(2, 3))]),
    *[Case(op.lower(), op, [X(np.abs(rand(3, 4)) + 0.1)])
      for op in ("Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal")],
    Case("reshape", "Reshape", [X(rand(2, 3, 4)), C(ints(0, -1, 2))]),
    Case("reshape_attr_opset4", "Reshape", [X(rand(2, 3, 4))], dict(shape=[4, 6]), opset=4,
         spec=lambda x, shape: [x.reshape(shape)]),
    Case("flatten", "Flatten", [X(x4)], dict(axis=2)),
    Case("concat", "Concat", [X(rand(2, 3)), C(rand(2, 1)), X(rand(2, 2))], dict(axis=-1)),
    Case("split_attr", "Split", [X(rand(6, 4))], dict(axis=0, split=[1, 2, 3]), opset=11,
         outputs=3),
    Case("split_input", "Split", [X(rand(6, 4)), C(ints(3, 1))], dict(axis=1), opset=13,
         outputs=2),
    Case("split_equal", "Split", [X(rand(6, 4))], opset=13, outputs=3),
    Case("split_num_outputs", "Split", [X(rand(7, 4))], dict(num_outputs=3), opset=18,
         outputs=3),
    Case("slice_attr_opset9", "Slice", [X(rand(5, 6))], dict(starts=[1, -4], ends=[4, 100],
                                                            axes=[0, 1]), opset=9),
    Case("slice_input_steps", "Slice", [X(rand(5, 6)), C(ints(-1, 0)), C(ints(-100, 6)),
                                        C(ints(0, 1)), C(ints(-2, 3))]),
    Case("transpose", "Transpose", [X(x4)], dict(perm=[0, 2, 3, 1])),
    Case("transpose_default", "Transpose", [X(rand(2, 3, 4))]),
    Case("pad_constant_input", "Pad", [X(rand(2, 3)), C(ints(1, 0, 2, 3)),
                                       C(np.float32(1.5))], opset=13),
    Case("pad_reflect", "Pad", [X(rand(3, 4)), C(ints(1, 2, 1, 1))], dict(mode="reflect")),
    Case("pad_edge", "Pad", [X(rand(3, 4)), C(ints(0, 2, 2, 0))], dict(mode="edge")),
    Case("pad_attr_opset9", "Pad", [X(rand(3, 4))], dict(pads=[1, 0, 0, 2], value=2.0),
         opset=9),
    Case("pad_negative_crops", "Pad", [X(rand(4, 5)), C(ints(-1, 2, 1, -2))], spec=pad_negative),
    Case("pad_axes_opset18", "Pad", [X(rand(3, 4)), C(ints(1, 2)), None, C(ints(-1))],
         opset=18),
    Case("gather", "Gather", [X(rand(3, 5)), C(ints(4, 0, -1, 2).reshape(2, 2))],
         dict(axis=1)),
    Case("gather_runtime_indices", "Gather", [C(rand(10, 4)), X(ints(1, 3, 3))]),
    Case("unsqueeze_attr", "Unsqueeze", [X(rand(3, 4))], dict(axes=[0, -1]), opset=11),
    Case("unsqueeze_input", "Unsqueeze", [X(rand(3, 4)), C(ints(1, 3))], opset=13),
    Case("squeeze_attr", "Squeeze", [X(rand(1, 3, 1, 4))], dict(axes=[2]), opset=11),
    Case("squeeze_input", "Squeeze", [X(rand(1, 3, 1, 4)), C(ints(0, -2))], opset=13),
    Case("squeeze_all", "Squeeze", [X(rand(1, 3, 1, 4))], opset=13),
    Case("reduce_mean_attr", "ReduceMean", [X(x4)], dict(axes=[1, -1]), opset=13),
    Case("reduce_mean_input", "ReduceMean", [X(x4), C(ints(2))], dict(keepdims=0), opset=18),
    Case("reduce_sum_input", "ReduceSum", [X(x4), C(ints(0, 2))], opset=13),
    Case("reduce_sum_attr", "ReduceSum", [X(x4)], dict(axes=[3], keepdims=0), opset=11),
    Case("reduce_sum_all", "ReduceSum", [X(x4)], opset=13),
    Case("reduce_sum_noop", "ReduceSum", [X(x4)], dict(noop_with_empty_axes=1), opset=13),
    Case("reduce_max_attr", "ReduceMax", [X(x4)], dict(axes=[1]), opset=13),
    Case("reduce_max_input", "ReduceMax", [X(x4), C(ints(-1))], opset=18),
    Case("reduce_min", "ReduceMin", [X(x4)], dict(axes=[1, 2], keepdims=0), opset=13),
    Case("reduce_l1", "ReduceL1", [X(x4), C(ints(-1))], opset=18),
    Case("reduce_l2", "ReduceL2", [X(x4)], dict(axes=[0]), opset=13),
    Case("reduce_log_sum_exp", "ReduceLogSumExp", [X(x4 * 30)], dict(axes=[1], keepdims=0),
         opset=13),
    Case("layer_norm", "LayerNormalization", [X(rand(2, 3, 4)), C(rand(3, 4)), C(rand(3, 4))],
         dict(axis=-2, epsilon=1e-3)),
    Case("layer_norm_no_bias", "LayerNormalization", [X(rand(2, 3, 4)), C(rand(4))]),
    Case("instance_norm", "InstanceNormalization", [X(x4), C(rand(4)), C(rand(4))]),
    Case("lrn", "LRN", [X(np.abs(x4))], dict(size=3, alpha=0.01, beta=0.75, bias=2.0), spec=lrn),
    Case("lrn_even_size", "LRN", [X(x4)], dict(size=4, alpha=0.5, beta=0.5), spec=lrn),
    Case("cast", "Cast", [X(rand(3, 4) * 10)], dict(to=TensorProto.INT32)),
    Case("cast_bool", "Cast", [X(ints(0, 3, -1))], dict(to=TensorProto.BOOL)),
    Case("dropout_inference", "Dropout", [X(x4)], opset=12, outputs=2),
    Case("dropout_opset9", "Dropout", [X(x4)], dict(ratio=0.3), opset=9),
    Case("identity", "Identity", [X(x4)]),
    Case("expand", "Expand", [X(rand(3, 1)), C(ints(2, 1, 4))]),
    Case("depth_to_space_dcr", "DepthToSpace", [X(rand(2, 8, 3, 2))], dict(blocksize=2)),
    Case("depth_to_space_crd", "DepthToSpace", [X(rand(2, 8, 3, 2))],
         dict(blocksize=2, mode="CRD")),
    Case("space_to_depth", "SpaceToDepth", [X(rand(2, 3, 4, 6))], dict(blocksize=2)),
    Case("space_to_depth_crd", "SpaceToDepth", [X(rand(2, 3, 4, 6))],
         dict(blocksize=2, mode="CRD"), opset=28),
    Case("tile", "Tile", [X(rand(2, 3)), C(ints(2, 3))]),
    Case("where", "Where", [X(rand(3, 4) > 0), X(rand(3, 4)), C(rand(4))]),
    Case("equal", "Equal", [X(ints(1, 2, 3)), C(ints(1, 0, 3))]),
    Case("less", "Less", [X(rand(3, 4)), C(rand(4))]),
    Case("greater", "Greater", [X(rand(3, 4)), C(rand(4))]),
    Case("less_or_equal", "LessOrEqual", [X(ints(1, 2, 3)), C(ints(2))]),
    Case("not", "Not", [X(rand(3) > 0)]),
    Case("argmax", "ArgMax", [X(rand(3, 4))], dict(axis=1, keepdims=0)),
    Case("shape", "Shape", [X(x4)]),
    Case("shape_start_end", "Shape", [X(x4)], dict(start=1, end=-1), opset=15),
    Case("constant_of_shape", "ConstantOfShape", [C(ints(2, 3))],
         dict(value=helper.make_tensor("v", TensorProto.INT64, [1], [7]))),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_onnx_reference(case: Case) -> None:
    run_case(case)


def test_constant_node_forms() -> None:
    nodes = [helper.make_node("Constant", [], ["a"], value_floats=[1.0, 2.0]),
             helper.make_node("Constant", [], ["b"],
                              value=onnx.numpy_helper.from_array(rand(2))),
             helper.make_node("Add", ["a", "b"], ["s"]),
             helper.make_node("Mul", ["s", "x"], ["y"])]
    x = rand(3, 2)
    model, (want,) = build(nodes, {"x": x}, {}, ["y"], 13)
    graph = load(model)
    assert [n.op for n in graph.nodes] == [OpCode.MUL]  # a + b folded at import
    np.testing.assert_allclose(interpret(graph, {"x": x})["y"], want, rtol=1e-6)


def test_outputs_keep_onnx_names_for_inputs_constants_and_aliases() -> None:
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Identity", ["x"], ["same"]),
             helper.make_node("Dropout", ["x"], ["dropped"])]
    x = rand(2, 3)
    model, expected = build(nodes, {"x": x}, {}, ["shape", "same", "dropped", "x"], 13)
    graph = load(model)
    assert graph.outputs == ("shape", "same", "dropped", "x")
    assert "shape" in graph.constants  # Shape of a static input is known at import
    got = interpret(graph, {"x": x})
    for name, want in zip(graph.outputs, expected, strict=True):
        np.testing.assert_array_equal(got[name], want)


def _shape_subgraph_model(batch: str | int) -> onnx.ModelProto:
    """x (batch, 3, 4) -> reshape to (batch, 12) through Shape/Gather/Unsqueeze/Concat, then
    add a bias built by ConstantOfShape from a Shape slice."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("Shape", ["flat"], ["fshape"], start=1),
        helper.make_node("ConstantOfShape", ["fshape"], ["ones"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
        helper.make_node("Add", ["flat", "ones"], ["y"], name="bias_add"),
    ]
    inits = [onnx.numpy_helper.from_array(ints(0).reshape(()), "zero"),
             onnx.numpy_helper.from_array(ints(0), "axes0"),
             onnx.numpy_helper.from_array(ints(-1), "minus1")]
    graph = helper.make_graph(
        nodes, "shapes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (batch, 3, 4))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (batch, 12))], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def test_shape_subgraph_folds_to_constants() -> None:
    graph = load(_shape_subgraph_model(2))
    assert [n.op for n in graph.nodes] == [OpCode.RESHAPE, OpCode.ADD]
    assert graph.nodes[0].attrs.shape == (2, 12)
    x = rand(2, 3, 4)
    outputs: Any = ReferenceEvaluator(_shape_subgraph_model(2)).run(None, {"x": x})
    want = np.asarray(outputs[0])
    np.testing.assert_allclose(interpret(graph, {"x": x})["y"], want)
    assert graph.outputs == ("y",)


def _attention_block_model() -> onnx.ModelProto:
    """A self-attention + GELU block as torch.onnx.export writes it at opset 17: head reshapes
    computed from Shape/Gather/Concat, a Where causal mask, LayerNorm decomposed into
    ReduceMean/Sub/Pow/Sqrt/Div, GELU as Div/Erf/Add/Mul."""
    d, heads = 8, 2
    inits = {"wqkv": rand(d, 3 * d), "wo": rand(d, d), "g": rand(d), "beta": rand(d),
             "i0": ints(0).reshape(()), "i1": ints(1).reshape(()), "hd": ints(heads, d // heads),
             "ax0": ints(0), "neg1": ints(-1), "two": np.float32(2.0), "eps": np.float32(1e-5),
             "scale": np.float32(np.sqrt(d // heads)), "sqrt2": np.float32(np.sqrt(2.0)),
             "one": np.float32(1.0), "half": np.float32(0.5), "ninf": np.float32(-1e9),
             "tri": np.tril(np.ones((1, 1, 16, 16), bool)), "sl0": ints(0, 0), "ax23": ints(2, 3),
             "thirds": ints(d, d, d)}
    n = helper.make_node
    nodes = [
        n("Shape", ["x"], ["shp"]), n("Gather", ["shp", "i0"], ["b"]),
        n("Gather", ["shp", "i1"], ["t"]),
        n("Unsqueeze", ["b", "ax0"], ["b1"]), n("Unsqueeze", ["t", "ax0"], ["t1"]),
        n("Concat", ["b1", "t1", "hd"], ["heads_shape"], axis=0),
        n("MatMul", ["x", "wqkv"], ["qkv"]),
        n("Split", ["qkv", "thirds"], ["q", "k", "v"], axis=-1),
        *[n("Reshape", [z, "heads_shape"], [f"{z}4"]) for z in "qkv"],
        n("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        n("Transpose", ["k4"], ["kh"], perm=[0, 2, 3, 1]),
        n("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
        n("MatMul", ["qh", "kh"], ["s0"]), n("Div", ["s0", "scale"], ["s1"]),
        n("Concat", ["t1", "t1"], ["tt"], axis=0),
        n("Slice", ["tri", "sl0", "tt", "ax23"], ["mask"]),
        n("Where", ["mask", "s1", "ninf"], ["s2"]), n("Softmax", ["s2"], ["p"], axis=-1),
        n("MatMul", ["p", "vh"], ["o4"]), n("Transpose", ["o4"], ["o3"], perm=[0, 2, 1, 3]),
        n("Concat", ["b1", "t1", "neg1"], ["flat_shape"], axis=0),
        n("Reshape", ["o3", "flat_shape"], ["o"]), n("MatMul", ["o", "wo"], ["proj"]),
        n("Add", ["x", "proj"], ["h"]),
        n("ReduceMean", ["h"], ["mu"], axes=[-1]), n("Sub", ["h", "mu"], ["hc"]),
        n("Pow", ["hc", "two"], ["sq"]), n("ReduceMean", ["sq"], ["var"], axes=[-1]),
        n("Add", ["var", "eps"], ["ve"]), n("Sqrt", ["ve"], ["sd"]),
        n("Div", ["hc", "sd"], ["hn"]), n("Mul", ["hn", "g"], ["hg"]),
        n("Add", ["hg", "beta"], ["ln"]),
        n("Div", ["ln", "sqrt2"], ["gd"]), n("Erf", ["gd"], ["ge"]),
        n("Add", ["ge", "one"], ["g1"]), n("Mul", ["ln", "g1"], ["g2"]),
        n("Mul", ["g2", "half"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "attention", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ("B", "T", d))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ("B", "T", d))],
        [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_exported_attention_block_folds_shapes_and_matches_reference() -> None:
    model = _attention_block_model()
    onnx.checker.check_model(model)
    graph = load(model, input_shapes={"x": (2, 5, 8)})
    ops = {node.op for node in graph.nodes}
    assert OpCode.GATHER not in ops and OpCode.CONCAT not in ops  # shape arithmetic folded
    x = rand(2, 5, 8)
    outputs: Any = ReferenceEvaluator(model).run(None, {"x": x})
    np.testing.assert_allclose(interpret(graph, {"x": x})["y"], outputs[0], rtol=1e-4, atol=1e-5)


def test_symbolic_dims_default_to_one_and_input_shapes_override() -> None:
    model = _shape_subgraph_model("batch")
    assert load(model).types["x"].shape == (1, 3, 4)
    graph = load(model, input_shapes={"x": (5, 3, 4)})
    assert graph.types["y"].shape == (5, 12)
    with pytest.raises(FrameworkError, match=r"input_shapes names \['nope'\]"):
        load(model, input_shapes={"nope": (1,)})


def test_bind_turns_inputs_into_constants() -> None:
    graph = helper.make_graph(
        [helper.make_node("Slice", ["x", "starts", "ends"], ["y"])], "slice",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (4, 5)),
         helper.make_tensor_value_info("starts", TensorProto.INT64, (2,)),
         helper.make_tensor_value_info("ends", TensorProto.INT64, (2,))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ("a", "b"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(FrameworkError, match=r"starts \(input 'starts'\) must be a constant"):
        load(model)
    g = load(model, bind={"starts": [1, 0], "ends": [3, -1]})
    assert g.inputs == ("x",) and g.types["y"].shape == (2, 4)
    with pytest.raises(FrameworkError, match=r"bind names \['nope'\]"):
        load(model, bind={"nope": [1]})


def test_file_path_and_bytes_sources(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_shape_subgraph_model(2), str(path))
    assert load(path).types["y"].shape == (2, 12)
    assert load(str(path)).types["y"].shape == (2, 12)
    assert load(path.read_bytes()).types["y"].shape == (2, 12)


def _model_with(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
                outputs: list[onnx.ValueInfoProto], opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "bad", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_unsupported_ops_are_listed_in_one_message(tmp_path: Path) -> None:
    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], name="nms_1"),
        helper.make_node("Relu", ["scores"], ["r"]),
        helper.make_node("TopK", ["r", "k"], ["vals", "idx"], name="topk"),
    ]
    model = _model_with(
        nodes, [helper.make_tensor_value_info("boxes", f, (1, 4, 4)),
                helper.make_tensor_value_info("scores", f, (1, 1, 4)),
                helper.make_tensor_value_info("k", TensorProto.INT64, (1,))],
        [helper.make_tensor_value_info("sel", TensorProto.INT64, ("n", 3)),
         helper.make_tensor_value_info("vals", f, (1, 1, 2))])
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(FrameworkError) as err:
        load(path)
    assert str(err.value) == (f"{path}: unsupported ONNX ops: NonMaxSuppression (node 'nms_1'), "
                              f"TopK (node 'topk')")


def test_custom_domain_op_is_unsupported() -> None:
    node = helper.make_node("FusedGemm", ["x"], ["y"], domain="com.microsoft")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, (2,))],
                              [helper.make_tensor_value_info("y", 1, (2,))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.microsoft", 1)])
    with pytest.raises(FrameworkError, match=r"com\.microsoft\.FusedGemm \(node producing 'y'\)"):
        load(model, check=False)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(FrameworkError, match=r"nothere\.onnx: no such ONNX file"):
        load(tmp_path / "nothere.onnx")
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf\xff\xff")
    with pytest.raises(FrameworkError, match=r"garbage\.onnx: not a valid ONNX model"):
        load(bad)


def test_checker_failure_names_the_file(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["undefined"], ["y"])
    model = _model_with([node], [helper.make_tensor_value_info("x", 1, (2,))],
                        [helper.make_tensor_value_info("y", 1, (2,))])
    path = tmp_path / "broken.onnx"
    onnx.save(model, str(path))
    with pytest.raises(FrameworkError, match=r"broken\.onnx: fails the ONNX checker: "):
        load(path)


@pytest.mark.parametrize("nodes, inputs, message", [
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="conv3d")],
     {"x": (1, 2, 4, 4, 4), "w": (3, 2, 1, 1, 1)}, r"node 'conv3d' \(Conv\): 3-D Conv"),
    ([helper.make_node("Reshape", ["x", "w"], ["y"], name="dyn")],
     {"x": (2, 3), "w": (2,)}, r"node 'dyn' \(Reshape\): shape \(input 'w'\) must be a constant"),
    ([helper.make_node("MaxPool", ["x"], ["y", "idx"], name="mp", kernel_shape=[2, 2])],
     {"x": (1, 1, 4, 4)}, r"node 'mp' \(MaxPool\): output 1 \('idx'\) is not supported"),
])
def test_unexpressible_nodes_are_named(nodes: list[onnx.NodeProto],
                                       inputs: dict[str, tuple[int, ...]], message: str) -> None:
    infos = [helper.make_tensor_value_info(k, TensorProto.INT64 if k == "w" and len(v) == 1
                                           else 1, v) for k, v in inputs.items()]
    outs = [helper.make_empty_tensor_value_info(o) for o in nodes[-1].output]
    model = _model_with(nodes, infos, outs)
    with pytest.raises(FrameworkError, match=message):
        load(model, check=False)


def test_unsupported_input_dtype() -> None:
    model = _model_with([helper.make_node("Identity", ["s"], ["t"])],
                        [helper.make_tensor_value_info("s", TensorProto.STRING, (2,))],
                        [helper.make_tensor_value_info("t", TensorProto.STRING, (2,))])
    with pytest.raises(FrameworkError, match=r"input 's': element type STRING is not supported"):
        load(model)


def test_every_required_op_has_a_converter() -> None:
    required = {
        "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu",
        "PRelu", "Elu", "Selu", "Sigmoid", "Tanh", "Softplus", "Clip", "MaxPool", "AveragePool",
        "GlobalAveragePool", "Softmax", "LogSoftmax", "Add", "Sub", "Mul", "Div", "Sum", "Pow",
        "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Reshape", "Flatten", "Concat",
        "Split", "Slice", "Transpose", "Pad", "Gather", "Constant", "ConstantOfShape", "Shape",
        "Unsqueeze", "Squeeze", "ReduceMean", "ReduceSum", "ReduceMax", "LayerNormalization",
        "Gelu", "Cast", "Dropout", "Identity", "Erf", "Expand", "Where", "Equal", "Less",
        "Greater",
    }
    assert required <= SUPPORTED_OPS, sorted(required - SUPPORTED_OPS)
