"""framework.trace: symbolic tracing names values after modules, lifts constants, verifies, and
refuses value-dependent forwards."""

from __future__ import annotations

import time

import numpy as np
import pytest

from framework import FrameworkError, Tensor, TensorType, interpret, nn, trace, verify_graph
from framework.nn import functional as F
from framework.ops import OpCode


class Block(nn.Module):
    def __init__(self, r: np.random.Generator) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 3, 3, rng=r, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(3)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn1(self.conv1(x)) + x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        r = np.random.default_rng(0)
        self.layer1 = nn.Sequential(Block(r), Block(r))
        self.fc = nn.Linear(3, 2, rng=r)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        feats = self.layer1(image)
        return {"logits": self.fc(F.adaptive_avg_pool2d(feats, 1).flatten(1)), "features": feats}


def test_names_follow_module_paths() -> None:
    graph = trace(Net().eval(), {"image": TensorType((1, 3, 4, 4))})
    assert graph.inputs == ("image",)
    assert graph.outputs == ("logits", "features")
    assert "layer1.1.conv1.weight" in graph.constants
    assert "layer1.0.bn1.running_var" in graph.constants
    names = [n.name for n in graph.nodes]
    assert "layer1.0.conv1.conv2d" in names and "layer1.1.add" in names
    assert "layer1.1.relu.relu" in names and "fc.linear" in names
    verify_graph(graph)


def test_trace_is_deterministic_and_matches_eager() -> None:
    net = Net().eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(np.float32)
    g1, g2 = trace(net, {"image": x}), trace(net, {"image": x})
    assert str(g1) == str(g2)
    eager = net(image=Tensor(x))
    out = interpret(g1, {"image": x})
    for key in ("logits", "features"):
        np.testing.assert_array_equal(out[key], eager[key].numpy())


def test_tracing_is_symbolic_and_fast() -> None:
    """No arithmetic while tracing: a 64 GFLOP matmul chain traces instantly."""
    lin = nn.Linear(1024, 1024, rng=np.random.default_rng(0), bias=False)
    start = time.perf_counter()
    graph = trace(lambda x: lin(lin(x)), TensorType((16384, 1024)))
    assert time.perf_counter() - start < 1.0
    assert [n.op for n in graph.nodes] == [OpCode.LINEAR, OpCode.LINEAR]
    assert len(graph.constants) == 1  # the shared weight is lifted once


def test_constants_made_in_forward_and_scalars_are_lifted_once() -> None:
    mask = Tensor(np.array([1.0, 0.0, 1.0], np.float32))

    def f(x: Tensor) -> Tensor:
        return (x * mask + 2.0) * 2.0 + mask

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    graph = trace(f, x)
    assert len([c for c in graph.constants if c.startswith("const")]) == 1
    assert len([c for c in graph.constants if c.startswith("scalar")]) == 1
    np.testing.assert_array_equal(interpret(graph, {"input": x})["output"],
                                  f(Tensor(x)).numpy())


def test_ops_on_parameters_alone_are_recorded() -> None:
    """A slice of a parameter stays in the graph, so the parameter keeps its name and count."""
    class Positions(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(16, 4, rng=np.random.default_rng(0))

        def forward(self, x: Tensor) -> Tensor:
            return x + self.emb.weight[:3]

    graph = trace(Positions(), TensorType((2, 3, 4)))
    assert graph.constants["emb.weight"].shape == (16, 4)
    assert OpCode.SLICE in {n.op for n in graph.nodes}
    # outside a Module, an unnamed tensor is lifted under a generated name
    emb = nn.Embedding(16, 4, rng=np.random.default_rng(0))
    assert list(trace(lambda x: x + emb.weight[:3], TensorType((2, 3, 4))).constants) == ["const"]


def test_input_and_output_naming() -> None:
    graph = trace(lambda a, b: (a + b, a * b), [TensorType((2,)), TensorType((2,))],
                  input_names=["a", "b"], output_names=["sum", "product"])
    assert graph.inputs == ("a", "b") and graph.outputs == ("sum", "product")
    g2 = trace(lambda a, b: [a - b, a], [TensorType((2,)), TensorType((2,))])
    assert g2.inputs == ("input_0", "input_1") and g2.outputs[0] == "output_0"
    # an output that is an input is copied under its new name
    assert g2.outputs[1] == "output_1"
    assert g2.node("output_1").op is OpCode.IDENTITY
    verify_graph(g2)


def test_value_dependent_forward_is_refused() -> None:
    def f(x: Tensor) -> Tensor:
        return x * 2.0 if x.sum().item() > 0 else x

    with pytest.raises(FrameworkError, match="symbolic"):
        trace(f, TensorType((3,)))


def test_symbolic_tensor_cannot_escape_its_trace() -> None:
    leaked: list[Tensor] = []

    def f(x: Tensor) -> Tensor:
        leaked.append(x)
        return x.relu()

    trace(f, TensorType((3,)))
    with pytest.raises(FrameworkError, match="outside its trace"):
        _ = leaked[0] + 1.0
    with pytest.raises(FrameworkError, match="another trace"):
        trace(lambda y: y + leaked[0], TensorType((3,)))


def test_bad_arguments() -> None:
    with pytest.raises(FrameworkError, match="example input"):
        trace(lambda x: x, [3.0])
    with pytest.raises(FrameworkError, match="2 example inputs but 1 names"):
        trace(lambda a, b: a, [TensorType((1,))] * 2, input_names=["a"])
    with pytest.raises(FrameworkError, match="expected a Tensor"):
        trace(lambda x: 3, TensorType((1,)))
    with pytest.raises(FrameworkError, match="inner dims differ"):  # caught while tracing
        trace(lambda x: x @ x, TensorType((2, 3)))
