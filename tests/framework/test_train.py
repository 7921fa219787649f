"""Training-step graphs: an MLP (MSE) and a small CNN (cross-entropy, batch norm in training
mode) learn on synthetic data when their updated state is fed back for a few steps."""

from __future__ import annotations

import numpy as np
import pytest

from framework import FrameworkError, Graph, GraphBuilder, OpCode, interpret
from framework.train import initial_state, next_state, train_step

RNG = np.random.default_rng(7)


def _mlp() -> Graph:
    b = GraphBuilder("mlp")
    x = b.input("x", (16, 4))
    w1 = b.constant(RNG.standard_normal((32, 4)).astype(np.float32) * 0.5, "fc1.w")
    h = b.relu(b.linear(x, w1, b.constant(np.zeros(32, np.float32), "fc1.b")))
    b.output(b.linear(h, b.constant(RNG.standard_normal((2, 32)).astype(np.float32) * 0.2, "fc2.w"),
                      b.constant(np.zeros(2, np.float32), "fc2.b"), name="y"))
    return b.build()


def _cnn() -> Graph:
    b = GraphBuilder("cnn")
    x = b.input("x", (8, 1, 8, 8))
    w = b.constant(RNG.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.5, "conv.w")
    h = b.conv2d(x, w, padding=1)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    h = b.batch_norm(h, b.constant(ones, "bn.scale"), b.constant(zeros, "bn.bias"),
                     b.constant(zeros, "bn.mean"), b.constant(ones, "bn.var"), name="bn")
    h = b.flatten(b.max_pool2d(b.relu(h), 2))
    fc = b.constant(RNG.standard_normal((3, 64)).astype(np.float32) * 0.1, "fc.w")
    b.output(b.linear(h, fc, b.constant(np.zeros(3, np.float32), "fc.b"), name="logits"))
    return b.build()


def _train(model: Graph, step: Graph, batches: list[dict[str, np.ndarray]]) -> list[float]:
    state = initial_state(model, step)
    losses = []
    for batch in batches:
        out = interpret(step, {**state, **batch})
        losses.append(float(out["loss"]))
        state.update(next_state(out))
    return losses


def test_mlp_mse_loss_falls() -> None:
    model = _mlp()
    step = train_step(model, "mse", lr=0.05, momentum=0.5)
    assert {"fc1.w", "velocity:fc1.w", "target"} <= set(step.inputs)
    assert step.outputs[0] == "loss" and "next:fc2.b" in step.outputs
    x = RNG.standard_normal((16, 4)).astype(np.float32)
    target = np.stack([x[:, 0] - x[:, 1], x[:, 2] * 0.5], axis=1).astype(np.float32)
    losses = _train(model, step, [{"x": x, "target": target}] * 6)
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses
    assert losses[-1] < 0.5 * losses[0], losses


def test_cnn_cross_entropy_loss_falls_and_updates_running_stats() -> None:
    model = _cnn()
    step = train_step(model, "cross_entropy", lr=0.1, momentum=0.9)
    bn = [n for n in step.nodes if n.op is OpCode.BATCH_NORM]
    assert len(bn) == 1 and bn[0].attrs.training
    wanted = {"next:bn.mean", "next:bn.var", "next:conv.w", "next:velocity:conv.w"}
    assert wanted <= set(step.outputs)
    assert "velocity:bn.mean" not in step.inputs  # running statistics are state, not trained
    labels = np.arange(8) % 3
    x = RNG.standard_normal((8, 1, 8, 8)).astype(np.float32) * 0.3
    for i, c in enumerate(labels):  # class c lights up a different quadrant
        r, s = divmod(int(c), 2)
        x[i, 0, 4 * r:4 * r + 4, 4 * s:4 * s + 4] += 2.0
    batch = {"x": x, "target": labels.astype(np.int64)}
    state = initial_state(model, step)
    out = interpret(step, {**state, **batch})
    assert not np.allclose(out["next:bn.mean"], state["bn.mean"])
    losses = _train(model, step, [batch] * 5)
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses
    assert losses[-1] < 0.5 * losses[0], losses


def test_step_graph_uses_only_ordinary_ops_and_matches_manual_sgd() -> None:
    b = GraphBuilder("lin")
    x = b.input("x", (4, 3))
    b.output(b.matmul(x, b.constant(np.ones((3, 1), np.float32), "w")))
    model = b.build()
    step = train_step(model, "mse", lr=0.1, momentum=0.5)
    xs = RNG.standard_normal((4, 3)).astype(np.float32)
    t = RNG.standard_normal((4, 1)).astype(np.float32)
    v0 = RNG.standard_normal((3, 1)).astype(np.float32)
    out = interpret(step, {"x": xs, "target": t, "w": np.ones((3, 1), np.float32),
                           "velocity:w": v0})
    g = xs.T @ (2 * (xs @ np.ones((3, 1)) - t) / 4)
    v1 = 0.5 * v0 + g
    np.testing.assert_allclose(out["next:velocity:w"], v1, rtol=1e-5)
    np.testing.assert_allclose(out["next:w"], 1 - 0.1 * v1, rtol=1e-5)


def test_train_step_rejects_bad_arguments() -> None:
    with pytest.raises(FrameworkError, match="loss must be one of"):
        train_step(_mlp(), "hinge")
    with pytest.raises(FrameworkError, match="parameter 'nope'"):
        train_step(_mlp(), "mse", params=["nope"])
