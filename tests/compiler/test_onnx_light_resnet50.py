"""The onnx package's shipped light ResNet-50, imported and compiled for the AI Core, matches
the reference interpreter in functional mode.

Its generated parameters make activations reach 1e19, far outside fp16 (65504), so an fp16
device overflows on them as a real one would. The test keeps the shipped graph (topology,
shapes, every op) and rescales the parameters into range first: each conv's weights to unit
L1 norm per output channel, batch norms to zero mean, unit variance, |scale| <= 0.5 and
|bias| <= 0.1. It then compares the logits as well as the softmax output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from archsim.simulate import compile_model, run_executable
from framework import Graph, OpCode, interpret
from framework.onnx import load
from hw import load_hw

LIGHT = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"


def _in_fp16_range(graph: Graph) -> Graph:
    consts = dict(graph.constants)
    for node in graph.nodes:
        if node.op is OpCode.CONV2D:
            w = np.asarray(consts[node.inputs[1]], dtype=np.float32)
            l1 = np.abs(w).reshape(w.shape[0], -1).sum(axis=1).reshape(-1, 1, 1, 1)
            consts[node.inputs[1]] = w / np.maximum(l1, 1e-6)
        elif node.op is OpCode.BATCH_NORM:
            _, scale, bias, mean, var = node.inputs
            consts[mean] = np.zeros_like(np.asarray(consts[mean]))
            consts[var] = np.ones_like(np.asarray(consts[var]))
            s = np.asarray(consts[scale], dtype=np.float32)
            consts[scale] = 0.5 * s / np.abs(s).max()
            b = np.asarray(consts[bias], dtype=np.float32)
            consts[bias] = 0.1 * b / np.abs(b).max()
    return graph.replace(constants=consts)


@pytest.mark.slow
def test_light_resnet50_matches_the_reference() -> None:
    graph = _in_fp16_range(load(LIGHT))
    logits = next(n.outputs[0] for n in graph.nodes if n.op is OpCode.GEMM)
    graph = graph.replace(outputs=(*graph.outputs, logits))
    shape = graph.types[graph.inputs[0]].shape
    image = (np.arange(np.prod(shape)) / np.prod(shape)).reshape(shape).astype(np.float32)
    config = load_hw("ascend910")
    result = run_executable(compile_model(graph, config), config, "functional",
                            {graph.inputs[0]: image}, graph=graph)
    expected = interpret(graph, {graph.inputs[0]: image})
    for name in graph.outputs:
        want = expected[name]
        assert np.abs(result.outputs[name] - want).max() <= 1e-2 * max(1.0, np.abs(want).max())
