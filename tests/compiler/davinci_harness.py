"""Test harness for DaVinci kernels: lower a small Graph, run every kernel on the chip model
(functional mode, one shared GM via archsim's executable runner), and compare the outputs with
the reference interpreter; also run timing mode and check each kernel against its roofline."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsim.simulate import run_executable
from compiler import CompileOptions
from compiler.davinci import context
from compiler.davinci.lower import lower_graph
from compiler.executable import Executable
from framework import Graph, GraphBuilder, interpret
from hw.davinci import get_preset
from hw.davinci.run import SimOptions, run_kernel
from isa.davinci import kernel_problems
from isa.davinci.layouts import from_layout, layout_shape, to_layout

PRESET = "ascend910"


@dataclass(frozen=True)
class Outcome:
    """What one harness run produced."""

    exe: Executable
    outputs: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]
    gm: np.ndarray


def build(fn: Callable[..., Any], **inputs: tuple[int, ...]) -> Graph:
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


@contextmanager
def _forced_layouts(fmap: Iterable[str]) -> Iterator[None]:
    """Lower with the values in ``fmap`` stored as NC1HWC0 feature maps (as they would be next
    to a convolution), whatever the layout assignment would choose."""
    original = context.assign_layouts
    forced = set(fmap)

    def assign(graph: Graph) -> dict[str, str]:
        layouts = original(graph)
        layouts.update({v: "nc1hwc0" for v in forced})
        return layouts

    context.assign_layouts = assign  # type: ignore[assignment]
    try:
        yield
    finally:
        context.assign_layouts = original  # type: ignore[assignment]


UNMERGED = CompileOptions(merge_launches=False)
"""Options that keep one launch per kernel (no core-local runs), for tests of kernel
boundaries."""


def lower(graph: Graph, preset: str = PRESET, fmap: Iterable[str] = (),
          options: CompileOptions | None = None) -> Executable:
    """The executable of ``graph`` (``fmap`` values forced to NC1HWC0)."""
    with _forced_layouts(fmap):
        return lower_graph(graph, get_preset(preset), options)


def run(graph: Graph, feeds: Mapping[str, np.ndarray] | None = None, preset: str = PRESET,
        seed: int = 0, fmap: Iterable[str] = (),
        options: CompileOptions | None = None) -> Outcome:
    """Lower ``graph``, run it functionally, return outputs next to the reference."""
    config = get_preset(preset)
    exe = lower(graph, preset, fmap, options)
    feeds = dict(feeds) if feeds is not None else feeds_for(graph, seed)
    gm = np.zeros(max(exe.gm_bytes, 1), dtype=np.uint8)
    for name, image in exe.constants.items():
        _write(gm, exe.placements[name].offset, image)
    for name in exe.inputs:
        place = exe.placements[name]
        _write(gm, place.offset, to_layout(np.asarray(feeds[name]).astype(place.dtype),
                                           place.layout))
    for launch in exe.kernels:
        problems = kernel_problems(launch.program, config)
        assert not problems, f"{launch.name}: verifier: {problems[:3]}"
        run_kernel(launch.program, config, SimOptions(mode="functional"), gm=gm)
    outputs = {}
    for name in exe.outputs:
        place = exe.placements[name]
        itemsize = np.dtype(place.dtype).itemsize
        shape = layout_shape(place.shape or (1,), place.layout, itemsize)
        count = int(np.prod(shape))
        stored = gm[place.offset:place.offset + count * itemsize].view(place.dtype)
        outputs[name] = from_layout(stored.reshape(shape), place.layout,
                                    place.shape).astype(np.float32)
    reference = interpret(graph, feeds)
    return Outcome(exe, outputs,
                   {k: np.asarray(v, dtype=np.float32) for k, v in reference.items()}, gm)


def _write(gm: np.ndarray, offset: int, array: np.ndarray) -> None:
    raw = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
    gm[offset:offset + raw.size] = raw


def check(graph: Graph, feeds: Mapping[str, np.ndarray] | None = None, rtol: float = 1e-2,
          atol_frac: float = 1e-2, atol: float = 0.0, preset: str = PRESET,
          fmap: Iterable[str] = (), options: CompileOptions | None = None) -> Outcome:
    """Run and assert every output matches the reference within fp16 tolerance:
    |got - ref| <= atol + atol_frac * max|ref| + rtol * |ref|; then run the same executable in
    timing mode and check every kernel against its roofline (`check_timing`)."""
    outcome = run(graph, feeds, preset, fmap=fmap, options=options)
    check_timing(outcome.exe, preset)
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


def check_roofline(graph: Graph, preset: str = PRESET, fmap: Iterable[str] = (),
                   options: CompileOptions | None = None) -> list[tuple[int, float]]:
    """Timing-mode run of a freshly lowered graph (see `check_timing`)."""
    return check_timing(lower(graph, preset, fmap, options), preset)


def check_timing(exe: Executable, preset: str = PRESET) -> list[tuple[int, float]]:
    """Timing mode: every kernel takes at least its roofline bound (FLOPs at peak, minimum
    bytes at HBM bandwidth) and every unit's utilisation is within [0, 1]; returns (cycles,
    bound cycles) per kernel."""
    config = get_preset(preset)
    result = run_executable(exe, config, mode="timing")
    pairs = []
    for record in result.kernels:
        bound_cycles = record.roofline_seconds * config.freq_hz
        cycles = record.run.cycles
        assert cycles >= bound_cycles * 0.999, (record.name, cycles, bound_cycles)
        for unit, share in record.utilization().items():
            assert 0.0 <= share <= 1.0, (record.name, unit, share)
        pairs.append((cycles, bound_cycles))
    return pairs
