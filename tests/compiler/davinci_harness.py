"""Test harness for DaVinci kernels: lower a small Graph, run every kernel on the chip model
(functional mode, one shared GM via archsim's executable runner), and compare the outputs with
the reference interpreter; also run timing mode and check each kernel against its roofline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from archsim.simulate import run_executable
from compiler.davinci.lower import lower_graph
from compiler.executable import Executable
from framework import Graph, GraphBuilder, interpret
from hw.davinci import get_preset

PRESET = "ascend910"


@dataclass(frozen=True)
class Outcome:
    """What one harness run produced."""

    exe: Executable
    outputs: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]


def build(fn: Callable[[GraphBuilder], str | tuple[str, ...]], **inputs: tuple[int, ...]
          ) -> Graph:
    """A graph with float32 inputs of the given shapes, whose outputs ``fn`` returns."""
    gb = GraphBuilder("t")
    names = {name: gb.input(name, shape) for name, shape in inputs.items()}
    outs = fn(gb, **names) if names else fn(gb)
    gb.output(*(outs if isinstance(outs, tuple) else (outs,)))
    return gb.build()


def feeds_for(graph: Graph, seed: int = 0, low: float = -2.0, high: float = 2.0
              ) -> dict[str, np.ndarray]:
    """Random inputs, already rounded to fp16 so both sides see the same values."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name in graph.inputs:
        t = graph.types[name]
        if t.is_float:
            feeds[name] = rng.uniform(low, high, t.shape).astype(np.float16).astype(np.float32)
        else:
            feeds[name] = rng.integers(0, 4, t.shape).astype(t.dtype)
    return feeds


def run(graph: Graph, feeds: Mapping[str, np.ndarray] | None = None, preset: str = PRESET,
        seed: int = 0) -> Outcome:
    """Lower ``graph``, run it functionally, return outputs next to the reference."""
    config = get_preset(preset)
    exe = lower_graph(graph, config)
    feeds = dict(feeds) if feeds is not None else feeds_for(graph, seed)
    result = run_executable(exe, config, mode="functional", inputs=feeds, graph=graph)
    reference = interpret(graph, feeds)
    return Outcome(exe, dict(result.outputs),
                   {k: np.asarray(v, dtype=np.float32) for k, v in reference.items()})


def check(graph: Graph, feeds: Mapping[str, np.ndarray] | None = None, rtol: float = 1e-2,
          atol_frac: float = 1e-2, atol: float = 0.0, preset: str = PRESET) -> Outcome:
    """Run and assert every output matches the reference within fp16 tolerance:
    |got - ref| <= atol + atol_frac * max|ref| + rtol * |ref|."""
    outcome = run(graph, feeds, preset)
    for name in graph.outputs:
        got, ref = outcome.outputs[name], outcome.reference[name]
        assert got.shape == ref.shape, (name, got.shape, ref.shape)
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        tol = atol + atol_frac * scale + rtol * np.abs(ref)
        err = np.abs(got - ref)
        bad = ~(err <= tol)
        assert not bad.any(), (
            f"{name}: {int(bad.sum())} of {ref.size} elements off; worst at "
            f"{np.unravel_index(int(np.argmax(np.where(bad, err, 0))), ref.shape)}: "
            f"got {got.reshape(-1)[np.argmax(np.where(bad, err, 0))]}, "
            f"ref {ref.reshape(-1)[np.argmax(np.where(bad, err, 0))]}")
    return outcome


def check_roofline(graph: Graph, preset: str = PRESET) -> list[tuple[int, float]]:
    """Timing-mode run: every kernel's cycles >= its roofline bound; returns (cycles, bound)."""
    config = get_preset(preset)
    exe = lower_graph(graph, config)
    result = run_executable(exe, config, mode="timing")
    pairs = []
    for record in result.kernels:
        bound_cycles = record.roofline_seconds * config.freq_hz
        cycles = record.run.cycles
        assert cycles >= bound_cycles * 0.999, (record.name, cycles, bound_cycles)
        pairs.append((cycles, bound_cycles))
    return pairs
