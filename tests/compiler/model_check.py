"""Compile a model for a chip, run it in functional mode and compare with the reference
interpreter (fp16 tolerance); every kernel respects its roofline and utilisations lie in
[0, 1]. Shared by the DaVinci and SIMT zoo and lowering tests."""

from __future__ import annotations

import numpy as np

from archsim.simulate import compile_model, load_model, run_executable
from framework import Graph, interpret
from hw import load_hw

TOLERANCE = 1e-2  # fp16 storage between kernels, relative to the output's scale


def inputs_for(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        t = graph.types[name]
        value = rng.integers(0, 8, t.shape) if not t.is_float else rng.standard_normal(t.shape)
        out[name] = value.astype(t.dtype)
    return out


def check_model(model: str | Graph, hw: str, tolerance: float = TOLERANCE,
                target: str | None = None):
    """Compile and run ``model`` functionally on ``hw`` (for the ``target`` lowering when
    given); assert it matches the interpreter, every kernel takes at least its roofline time
    and utilisations lie in [0, 1]. Returns (executable, result)."""
    config = load_hw(hw)
    name, graph = load_model(model)
    exe = compile_model(graph, config)
    if target is not None:
        assert exe.target == target
    inputs = inputs_for(graph)
    result = run_executable(exe, config, "functional", inputs, graph=graph, model=name)
    expected = interpret(graph, inputs)
    for output in graph.outputs:
        want = expected[output].astype(np.float32)
        got = result.outputs[output]
        scale = max(1.0, float(np.abs(want).max()))
        assert np.abs(got - want).max() <= tolerance * scale, (output, np.abs(got - want).max())
    for kernel in result.kernels:
        assert kernel.seconds >= kernel.roofline_seconds, kernel.name
        assert all(0.0 <= u <= 1.0 for u in kernel.utilization().values()), kernel.name
    return exe, result
