"""Graph IR: immutability, builder type inference, printer, verifier and topological order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from framework import FrameworkError, Graph, GraphBuilder, Node, OpCode, TensorType, topological
from framework.attrs import Conv2dAttrs, ReshapeAttrs
from framework.verify import verify_graph


def _small_cnn() -> Graph:
    b = GraphBuilder("cnn")
    x = b.input("x", (2, 3, 8, 8))
    w = b.constant(np.ones((4, 3, 3, 3), np.float32), "w")
    y = b.relu(b.conv2d(x, w, stride=2, padding=1, name="conv"), name="act")
    y = b.flatten(b.max_pool2d(y, 2), name="flat")
    b.output(y)
    return b.build()


def test_tensor_type_properties() -> None:
    t = TensorType((2, 3), "float16")
    assert t.numel == 6 and t.nbytes == 12 and t.rank == 2 and t.is_float
    assert str(t) == "float16[2,3]"
    assert not TensorType((1,), "int64").is_float
    with pytest.raises(FrameworkError, match="unknown dtype"):
        TensorType((1,), "float8")
    with pytest.raises(FrameworkError, match="negative"):
        TensorType((-1,))


def test_builder_infers_types() -> None:
    g = _small_cnn()
    assert g.type_of("conv") == TensorType((2, 4, 4, 4))
    assert g.type_of("flat").shape == (2, 16)
    assert g.outputs == ("flat",)


def test_graph_is_immutable() -> None:
    g = _small_cnn()
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        g.types["x"] = TensorType((1,))  # type: ignore[index]
    with pytest.raises(ValueError):
        g.constants["w"][0, 0, 0, 0] = 5.0
    g2 = g.replace(name="renamed")
    assert g2.name == "renamed" and g.name == "cnn" and g2.nodes is g.nodes


def test_node_checks_arity_and_attrs() -> None:
    with pytest.raises(FrameworkError, match="takes 1..1 inputs"):
        Node(OpCode.RELU, ("a", "b"), ("c",))
    with pytest.raises(FrameworkError, match="attrs must be Conv2dAttrs"):
        Node(OpCode.CONV2D, ("x", "w"), ("y",), ReshapeAttrs((1,)))
    with pytest.raises(FrameworkError, match="takes no attributes"):
        Node(OpCode.RELU, ("x",), ("y",), Conv2dAttrs())
    node = Node(OpCode.RELU, ("x",), ("y",))
    assert node.name == "y" and node.replace(name="r").name == "r"


def test_attrs_validate() -> None:
    with pytest.raises(FrameworkError, match="stride must be >= 1"):
        Conv2dAttrs(stride=(0, 1))
    with pytest.raises(FrameworkError, match="padding needs 4"):
        Conv2dAttrs(padding=(1, 1))  # type: ignore[arg-type]


def test_builder_reports_shape_errors_with_node_name() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 3))
    y = b.input("y", (4, 5))
    with pytest.raises(FrameworkError, match=r"node 'bad' \(matmul\).*inner dims"):
        b.matmul(x, y, name="bad")
    with pytest.raises(FrameworkError, match="do not broadcast"):
        b.add(x, y)
    with pytest.raises(FrameworkError, match="already used"):
        b.input("x", (1,))
    with pytest.raises(FrameworkError, match="input .nope. is not defined"):
        b.relu("nope")


def test_builder_conveniences() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4))
    assert b.shape(b.reshape(x, (0, -1))) == (2, 12)
    assert b.shape(b.transpose(x)) == (4, 3, 2)
    parts = b.split(x, 3, axis=1)
    assert len(parts) == 3 and b.shape(parts[0]) == (2, 1, 4)
    assert b.shape(b.slice(x, [1], [-1], axes=[2])) == (2, 3, 2)
    assert b.dtype(b.greater(x, 0.0)) == "bool"
    assert b.scalar(1.0) == b.scalar(1.0)
    assert b.shape(b.reduce_sum(x, axes=[1, 2], keepdims=False)) == (2,)
    assert b.dtype(b.argmax(x, axis=1)) == "int64"


def test_printer_shows_ops_attrs_and_types() -> None:
    text = str(_small_cnn())
    assert text.splitlines()[0] == "graph cnn(x: float32[2,3,8,8]) -> (flat)"
    assert "const w: float32[4,3,3,3]" in text
    assert "conv = conv2d(x, w) {stride=(2, 2), padding=(1, 1, 1, 1)" in text
    assert "flat = flatten(" in text and ": float32[2,16]" in text


def test_verifier_catches_bad_graphs() -> None:
    g = _small_cnn()
    verify_graph(g)
    bad_type = g.replace(types={**g.types, "act": TensorType((2, 4, 4, 5))})
    with pytest.raises(FrameworkError, match=r"node 'act' \(relu\): output 'act' is typed"):
        verify_graph(bad_type)
    undefined = g.replace(nodes=g.nodes + (Node(OpCode.RELU, ("ghost",), ("z",)),),
                          types={**g.types, "z": TensorType((1,))})
    with pytest.raises(FrameworkError, match="input 'ghost' is not defined"):
        verify_graph(undefined)
    dup = g.replace(nodes=g.nodes + (Node(OpCode.RELU, ("x",), ("act",), name="again"),))
    with pytest.raises(FrameworkError, match="redefines 'act'"):
        verify_graph(dup)
    with pytest.raises(FrameworkError, match="output 'missing' is not defined"):
        verify_graph(g.replace(outputs=("missing",)))
    bad_const = g.replace(constants={"w": np.ones((1,), np.float32)})
    with pytest.raises(FrameworkError, match="constant 'w' holds"):
        verify_graph(bad_const)


def test_topological_order_and_cycles() -> None:
    g = _small_cnn()
    shuffled = g.replace(nodes=tuple(reversed(g.nodes)))
    order = [n.name for n in topological(shuffled)]
    assert order == [n.name for n in g.nodes]
    t = TensorType((2,))
    cyc = Graph(("x",), ("b",), (Node(OpCode.ADD, ("x", "b"), ("a",)),
                                 Node(OpCode.RELU, ("a",), ("b",))),
                types={"x": t, "a": t, "b": t})
    with pytest.raises(FrameworkError, match="cycle"):
        verify_graph(cyc)


def test_from_graph_extends_and_prunes() -> None:
    g = _small_cnn()
    b = GraphBuilder.from_graph(g)
    extra = b.neg(b.input("unused_in", (3,)))
    b.set_outputs(["act"])
    pruned = b.build(prune=True)
    assert [n.name for n in pruned.nodes] == ["conv", "act"]
    assert extra not in pruned.types
    assert "w" in pruned.constants
