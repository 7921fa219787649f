"""A training step built only from vector-lowered ops (batch norm in training mode, ReLU, max
pooling, global average pooling, MSE loss, SGD with momentum): compiled through the full pass
pipeline and run on the chip model, every output (loss, updated parameters, velocities and
running statistics) matches the reference interpreter."""

from __future__ import annotations

import numpy as np

from archsim.simulate import simulate
from framework import GraphBuilder, interpret, train_step


def _net() -> object:
    rng = np.random.default_rng(0)
    gb = GraphBuilder("bnnet")
    x = gb.input("x", (4, 20, 6, 6))
    params = [rng.uniform(0.5, 1.5, 20), rng.uniform(-1, 1, 20), rng.uniform(-0.5, 0.5, 20),
              rng.uniform(0.5, 2.0, 20)]
    y = gb.batch_norm(x, *(gb.constant(p.astype(np.float32)) for p in params))
    y = gb.flatten(gb.global_avg_pool(gb.max_pool2d(gb.relu(y), 2, 2)))
    gb.output(y)
    return gb.build()


def test_batch_norm_network_training_step_matches_reference() -> None:
    graph = train_step(_net(), loss="mse")
    rng = np.random.default_rng(1)
    feeds = {name: (rng.standard_normal(graph.types[name].shape) * 0.5).astype(np.float32)
             for name in graph.inputs}
    result = simulate(graph, mode="functional", inputs=feeds)
    reference = interpret(graph, feeds)
    assert len(graph.outputs) > 4
    for name in graph.outputs:
        got, want = result.outputs[name], np.asarray(reference[name], dtype=np.float32)
        scale = float(np.max(np.abs(want))) + 1e-6
        assert np.max(np.abs(got - want)) <= 5e-3 * scale, name
