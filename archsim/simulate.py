"""``archsim.simulate()``: a model on a chip, end to end.

A model (zoo spec, ``.onnx`` path or framework Graph) is compiled for the chip, every kernel
runs on the chip model in order, and the per-kernel results are gathered into a `RunResult`
whose kernels carry their layer, op and roofline bound. In functional mode global memory is one
byte array shared by all kernels: constants (weights in their device layouts) and inputs are
written into it first, and outputs are read back and converted to the graph's float32.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from archsim.errors import InputError
from archsim.parallel import run_kernels
from compiler.executable import Executable
from framework import Graph
from hw import load_hw
from hw.davinci.run import SimOptions, run_kernel
from hw.results import KernelRecord, RunResult, roofline_seconds
from isa.davinci.layouts import from_layout, to_layout


def load_model(model: str | Graph, batch: int = 1) -> tuple[str, Graph]:
    """(name, graph) for a zoo spec, an ``.onnx`` path or a Graph."""
    if isinstance(model, Graph):
        return model.name, model
    if model.endswith(".onnx"):
        if not Path(model).exists():
            raise InputError(f"no such ONNX file: {model}")
        from framework.onnx import load

        return Path(model).stem, load(model)
    import workloads

    return model, workloads.build(model, batch=batch)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector every 50 000 allocations instead of 700 while
    compiling or simulating (both allocate millions of short-lived objects), then restore the
    caller's setting. The CLI sets the same threshold for the whole command."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 50_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def compile_model(graph: Graph, config: Any, options: Any = None,
                  merge_launches: bool = True) -> Executable:
    """Compile ``graph`` for ``config`` (a DaVinci chip or a GPU). ``merge_launches=False``
    keeps one launch per kernel on a DaVinci chip (the layer-at-a-time schedule, one report
    row per layer) instead of running kernels whose cores exchange no data as one launch."""
    import dataclasses

    from compiler.compile import compile_graph, default_options

    if not merge_launches:
        if _is_gpu(config):
            raise InputError(f"{config.name} is a GPU: merging launches applies to DaVinci "
                             "chips only")
        options = dataclasses.replace(options or default_options(config),
                                      merge_launches=False)
    with fewer_collections():
        return compile_graph(graph, config, options)


def _is_gpu(config: Any) -> bool:
    return hasattr(config, "sms")  # GPU configs have streaming multiprocessors


def _to_device(value: np.ndarray, place: Any, gpu: bool) -> np.ndarray:
    if gpu:
        from compiler.simt.context import logical_to_stored

        return logical_to_stored(np.asarray(value).astype(place.dtype), place.layout)
    return to_layout(np.asarray(value).astype(place.dtype), place.layout)


def _from_device(gm: np.ndarray, place: Any, gpu: bool) -> np.ndarray:
    itemsize = np.dtype(place.dtype).itemsize
    if gpu:
        from compiler.simt.context import stored_to_logical

        count = int(np.prod(place.shape or (1,)))
        stored = gm[place.offset:place.offset + count * itemsize].view(place.dtype)
        return stored_to_logical(stored, place.layout, place.shape).astype(np.float32)
    from isa.davinci.layouts import layout_shape

    shape = layout_shape(place.shape or (1,), place.layout, itemsize)
    count = int(np.prod(shape))
    stored = gm[place.offset:place.offset + count * itemsize].view(place.dtype)
    return from_layout(stored.reshape(shape), place.layout, place.shape).astype(np.float32)


def _runner(config: Any, mode: str, trace: bool) -> Any:
    """``run(program, gm)`` for the chip's engine: DaVinci or SIMT GPU."""
    if _is_gpu(config):
        from hw.simt.run import SimOptions as GpuOptions
        from hw.simt.run import run_kernel as run_gpu_kernel

        gpu_options = GpuOptions(mode=mode, trace=trace)
        return lambda program, gm: run_gpu_kernel(program, config, gpu_options, gmem=gm)
    options = SimOptions(mode=mode, trace=trace)
    return lambda program, gm: run_kernel(program, config, options, gm=gm)


def _gpu_notes(records: list[KernelRecord]) -> dict[str, str]:
    sampled = [r for r in records if getattr(r.run, "sampled", False)]
    if not sampled:
        return {}
    fraction = min(r.run.sampled_fraction for r in sampled)
    return {"sampling": f"{len(sampled)} of {len(records)} GPU kernels simulated a sample of "
                        f"their CTAs (waves on a subset of SMs, down to {fraction:.1%} of the "
                        "grid) and were extrapolated (hw.simt.run)"}


def run_executable(exe: Executable, config: Any, mode: str = "timing",
                   inputs: Mapping[str, np.ndarray] | None = None, seed: int = 0,
                   model: str | None = None, batch: int = 1,
                   graph: Graph | None = None, trace: bool = False,
                   workers: int = 1) -> RunResult:
    """Run every kernel of ``exe`` on ``config`` (a DaVinci chip or a GPU: the engine is
    chosen by the config) and gather a RunResult (with each kernel's timeline events when
    ``trace``). A DaVinci timing run may spread its kernels over ``workers`` processes
    (`archsim.parallel`; same numbers)."""
    with fewer_collections():
        return _run_executable(exe, config, mode, inputs, seed, model, batch, graph, trace,
                               workers)


def _run_executable(exe: Executable, config: Any, mode: str,
                    inputs: Mapping[str, np.ndarray] | None, seed: int, model: str | None,
                    batch: int, graph: Graph | None, trace: bool, workers: int) -> RunResult:
    gpu = _is_gpu(config)
    run = _runner(config, mode, trace)
    gm = None
    if mode == "functional" or gpu:  # the GPU engine addresses one flat global memory
        gm = np.zeros(-(-max(exe.gm_bytes, 1) // 4) * 4 + 256, dtype=np.uint8)
    if mode == "functional":
        for name, image in exe.constants.items():
            place = exe.placements[name]
            raw = np.ascontiguousarray(image).view(np.uint8).reshape(-1)
            gm[place.offset:place.offset + raw.size] = raw
        values = dict(inputs or {})
        rng = np.random.default_rng(seed)
        for name in exe.inputs:
            place = exe.placements[name]
            value = values.get(name)
            if value is None:
                value = _random_input(rng, place.shape, graph.types[name].dtype if graph else
                                      "float32")
                values[name] = value
            raw = np.ascontiguousarray(_to_device(value, place, gpu)).view(np.uint8).reshape(-1)
            gm[place.offset:place.offset + raw.size] = raw
    peak = config.peak_tensor_flops if gpu else config.peak_flops("fp16")
    bandwidth = config.dram_bytes_per_s if gpu else config.hbm_bytes_per_s
    programs = [launch.program for launch in exe.kernels]
    if gm is None:  # timing on a DaVinci chip: kernels are independent
        runs = run_kernels(programs, run, workers)
    else:
        runs = [run(program, gm) for program in programs]
    records = []
    for launch, result in zip(exe.kernels, runs, strict=True):
        records.append(KernelRecord(
            launch.name, launch.layer, launch.op, launch.origin, launch.flops, launch.min_bytes,
            roofline_seconds(launch.flops, launch.min_bytes, peak, bandwidth), result))
    outputs = {}
    if mode == "functional":
        outputs = {name: _from_device(gm, exe.placements[name], gpu) for name in exe.outputs}
    notes = _gpu_notes(records) if gpu else {}
    if exe.memory is not None:
        notes = {**notes, "global memory": exe.memory.summary()}
    return RunResult(model or exe.name, config.name, batch, mode, float(config.freq_hz), peak,
                     float(bandwidth), tuple(records), outputs, notes=notes)


def gm_figures(exe: Executable) -> dict[str, Any]:
    """The executable's global-memory figures for ``archsim run --json`` (key ``gm``): the
    liveness plan's peak against the naive layout (`MemoryPlan.figures`), or, for a target
    that does not plan GM, its bump-allocated total as both."""
    if exe.memory is not None:
        return {"planned": True, **exe.memory.figures()}
    return {"planned": False, "peak_bytes": exe.gm_bytes, "naive_bytes": exe.gm_bytes}


def _random_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(0, 2, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(np.float32)


def training_graph(graph: Graph, loss: str = "cross_entropy") -> Graph:
    """One training step of ``graph``: forward, loss, backward and an SGD-with-momentum update
    (framework.train_step); parameters, velocities and labels become inputs."""
    from framework import train_step

    return train_step(graph, loss=loss)


def simulate(model: str | Graph, hw: str = "ascend910", batch: int = 1, mode: str = "timing",
             inputs: Mapping[str, np.ndarray] | None = None, seed: int = 0,
             trace: bool = False, train: bool = False, workers: int = 1,
             merge_launches: bool = True) -> RunResult:
    """Compile ``model`` for ``hw`` and run it; see the module docstring. ``trace`` records
    every kernel's timeline events (for ``reports.write_trace``); ``train`` runs one training
    step instead of inference (throughput is then training samples per second); ``workers``
    processes share a DaVinci timing run's kernels (same numbers, less wall time);
    ``merge_launches=False``: one launch per kernel (see `compile_model`)."""
    return compile_and_run(model, hw, batch, mode, inputs, seed, trace, train, workers,
                           merge_launches)[1]


def compile_and_run(model: str | Graph, hw: str = "ascend910", batch: int = 1,
                    mode: str = "timing", inputs: Mapping[str, np.ndarray] | None = None,
                    seed: int = 0, trace: bool = False, train: bool = False,
                    workers: int = 1, merge_launches: bool = True
                    ) -> tuple[Executable, RunResult]:
    """`simulate`, returning the compiled executable (its GM plan, kernels) with the result."""
    name, graph = load_model(model, batch)
    if train:
        graph = training_graph(graph)
        name = f"{name} (train)"
    config = load_hw(hw)
    exe = compile_model(graph, config, merge_launches=merge_launches)
    return exe, run_executable(exe, config, mode, inputs, seed, model=name, batch=batch,
                               graph=graph, trace=trace, workers=workers)
