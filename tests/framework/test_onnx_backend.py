"""The onnx package's own backend test runner drives `framework.onnx.backend`.

Suites run: the shipped ``pytorch-converted`` and ``pytorch-operator`` model cases, and the
shipped light models (onnx/backend/test/data/light: the runner feeds arange-based inputs and
compares with the shipped ``light_<name>_output_0.pb``). Nothing is downloaded: the "real"
category here holds only the light models, whose expected outputs ship with onnx, and the
runner's scratch files go to a temporary ONNX_HOME. The node-level suite (one ONNX op per case,
every opset) is not run here; only the three categories above are exported to pytest.

CUDA variants are skipped by the runner itself (the backend supports only the CPU).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx.backend.test
import pytest
from onnx import TensorProto, helper

from framework import FrameworkError
from framework.onnx import backend
from framework.onnx.backend import FrameworkBackend

runner = onnx.backend.test.BackendTest(FrameworkBackend, __name__)

# pytorch-converted: every case whose ops the importer supports (all but the 3-D ones below)
runner.include(r"^test_(AvgPool[12]d|BatchNorm|ConstantPad2d|Conv[12]d|ConvTranspose2d|ELU"
               r"|Embedding|GLU|LeakyReLU|Linear|LogSoftmax|MaxPool[12]d|PReLU|PixelShuffle"
               r"|PoissonNLLLLoss|ReLU|ReflectionPad2d|ReplicationPad2d|SELU|Sigmoid|Softmax"
               r"|Softmin|Softplus|Softsign|Tanh|ZeroPad2d|log_softmax_(dim3|lastdim)"
               r"|softmax_(functional_dim3|lastdim))\w*_(cpu|cuda)$")
# pytorch-operator: all 35 cases
runner.include(r"^test_operator_\w+_(cpu|cuda)$")
# light models (shipped with onnx; expected outputs shipped beside them)
runner.include(r"^test_(resnet50|vgg19|bvlc_alexnet|densenet121|inception_v1|inception_v2"
               r"|shufflenet|zfnet512|squeezenet)_(cpu|cuda)$")

# Excluded, with the reason:
# - 3-D convolution and pooling: the IR has 2-D windows only (1-D ones are lifted to 2-D).
#   (The include pattern above already leaves them out; the exclusion documents it.)
runner.exclude(r"^test_(AvgPool3d|Conv3d|MaxPool3d)")
# - light SqueezeNet: its generated constant weights drive activations to ~1e10, where float32
#   rounding order (BLAS blocking) spreads the 1000 logits by ~3 ulps = ~3000, so softmax of
#   equal-in-exact-arithmetic logits is not uniform; the shipped output assumes they are equal.
runner.exclude(r"^test_squeezenet_")

_SUITES = ("OnnxBackendPyTorchConvertedModelTest", "OnnxBackendPyTorchOperatorModelTest",
           "OnnxBackendRealModelTest")
globals().update({name: case for name, case in runner.test_cases.items() if name in _SUITES})


@pytest.fixture(autouse=True)
def _scratch_onnx_home(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The light-model runner writes its test_data_set_0 under ONNX_HOME: keep it temporary."""
    home = tmp_path_factory.getbasetemp() / "onnx_home"
    monkeypatch.setenv("ONNX_HOME", str(home))
    monkeypatch.setenv("ONNX_MODELS", str(home / "models" / "light"))


def _mlp_model(batch: str | int = "N") -> onnx.ModelProto:
    w = helper.make_tensor("w", TensorProto.FLOAT, (3, 2), np.arange(6, dtype=np.float32))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (batch, 3))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (batch, 2))], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_backend_run_accepts_list_dict_and_array() -> None:
    rep = backend.prepare(_mlp_model(4))
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    want = np.maximum(x @ np.arange(6, dtype=np.float32).reshape(3, 2), 0)
    for inputs in ([x], {"x": x}, x):
        (y,) = rep.run(inputs)
        np.testing.assert_allclose(y, want, rtol=1e-6)
    assert rep.run([x])["y"].shape == (4, 2)  # outputs are addressable by ONNX name


def test_backend_reimports_symbolic_dims_for_the_inputs_given() -> None:
    rep = backend.prepare(_mlp_model("N"))
    assert rep.graph.types["x"].shape == (1, 3)  # symbolic dims default to 1
    (y,) = rep.run([np.ones((5, 3), np.float32)])
    assert y.shape == (5, 2)


def test_backend_run_node_and_devices() -> None:
    node = helper.make_node("Add", ["a", "b"], ["c"])
    a, b = np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(backend.run_node(node, [a, b])[0], a + b)
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")
    with pytest.raises(FrameworkError, match="only 'CPU'"):
        backend.prepare(_mlp_model(), "CUDA")


def test_backend_wrong_input_count_is_a_framework_error() -> None:
    rep = backend.prepare(_mlp_model(2))
    with pytest.raises(FrameworkError, match="takes 1 inputs"):
        rep.run([np.ones((2, 3), np.float32)] * 2)
