"""Run one kernel on a DaVinci chip model: decode, simulate, check for deadlock, and collect
a `KernelRun` (plus output tensors in functional mode)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hw.davinci.decode import Decoded, decode_stream
from hw.davinci.engine import ChipState, EngineOptions, UnitEngine
from hw.davinci.functional_numerics import bf16_to_float32, float32_to_bf16
from hw.davinci.stats import KernelRun, PipeStats
from hw.errors import DeadlockError, SimulationError
from isa.davinci import Kernel, Pipe, Space, Stream
from isa.davinci.asm_print import format_instruction

Mode = Literal["timing", "functional"]
Engine = Literal["auto", "simpy", "fast"]


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How to run: ``mode`` functional moves real bytes, timing skips data with the same
    cycles; ``check_races`` enables the cross-pipe race detector; ``trace`` records timeline
    events (at most ``max_events``); ``seed`` seeds random example inputs. ``engine``: "simpy"
    (the reference), "fast" (numba, `fast.py`: the same numbers, timing without a trace
    only) or "auto", the fast one whenever it can serve."""

    mode: Mode = "timing"
    check_races: bool = True
    trace: bool = False
    max_events: int = 200_000
    seed: int = 0
    engine: Engine = "auto"

    def __post_init__(self) -> None:
        if self.mode not in ("timing", "functional"):
            raise SimulationError(f"mode: unknown mode {self.mode!r} (timing or functional)")
        if self.engine not in ("auto", "simpy", "fast"):
            raise SimulationError(f"engine: unknown engine {self.engine!r} (auto, simpy or "
                                  f"fast)")
        if self.engine == "fast" and (self.mode != "timing" or self.trace):
            raise SimulationError("engine: the fast engine only times (mode timing, no "
                                  "trace); use simpy or auto")

    @property
    def fast(self) -> bool:
        """Whether the fast engine runs."""
        return self.engine == "fast" or (self.engine == "auto" and self.mode == "timing"
                                         and not self.trace)


def _describer(stream: Stream) -> Any:
    def describe(index: int) -> str:
        return f"line {stream.line(index)} `{format_instruction(stream.instructions[index])}`"

    return describe


def _gm_extent(kernel: Kernel) -> int:
    extent = 0
    for decl in (*kernel.inputs, *kernel.outputs):
        if decl.addr.space is Space.GM:
            nbytes = int(np.prod(_stored_shape(decl))) * decl.dtype.itemsize
            extent = max(extent, decl.addr.offset + nbytes)
    for core in kernel.cores:
        for stream in core.values():
            for instr in stream.instructions:
                for region in (*instr.reads(), *instr.writes()):
                    if region.space is Space.GM:
                        extent = max(extent, region.stop)
    return extent


def _stored_shape(decl: Any) -> tuple[int, ...]:
    from isa.davinci.layouts import layout_shape

    return tuple(layout_shape(decl.shape, decl.layout, decl.dtype.itemsize))


class Simulation:
    """A kernel loaded on a chip model, ready to run to the end or to step through.

    ``step(n)`` advances until ``n`` more instructions have completed (on any pipe of any
    core) and returns the timeline events of those that completed; ``finish()`` runs to the
    end, checks for deadlock and returns the `KernelRun`. In functional mode ``gm`` (a uint8
    array) is the global memory, created from the kernel's declarations when omitted; declared
    inputs are written in their layouts (``inputs`` maps a name to the logical array, otherwise
    seeded random data) and declared outputs are read back into ``KernelRun.outputs``, together
    with the inputs under their own names.
    """

    def __init__(self, kernel: Kernel, cfg: Any, options: SimOptions = SimOptions(), *,
                 gm: np.ndarray | None = None,
                 inputs: Mapping[str, np.ndarray] | None = None) -> None:
        _check_cores(kernel, cfg)
        self.kernel, self.cfg, self.options = kernel, cfg, options
        self.functional = options.mode == "functional"
        engine_options = EngineOptions(options.check_races, options.trace, options.max_events)
        self.chip = ChipState(cfg, engine_options)
        self.memories: dict[tuple[int, str], Any] = {}
        self.gm = gm
        self._logical: dict[str, np.ndarray] = {}
        execute = None
        if self.functional:
            from hw.davinci.functional import CoreMemory, execute_decoded

            execute = execute_decoded
            if self.gm is None:
                self.gm = np.zeros(max(_gm_extent(kernel), 1), dtype=np.uint8)
            for core_index, core in enumerate(kernel.cores):
                for unit in core:
                    self.memories[core_index, unit] = CoreMemory(cfg, self.gm)
            self._logical = _place_inputs(kernel, self.memories, self.gm, inputs or {},
                                          options.seed)
        for core_index, unit, stream, decoded in _decode(kernel, cfg):
            self.chip.units[core_index, unit] = UnitEngine(
                self.chip, core_index, unit, decoded, stream.lines, _describer(stream),
                execute, self.memories.get((core_index, unit)), stream.shape,
            )

    @property
    def now(self) -> int:
        """The current simulated cycle."""
        return int(self.chip.env.now)

    @property
    def done(self) -> bool:
        """True when no event is left (the kernel finished, or it is deadlocked)."""
        return self.chip.env.peek() == float("inf")

    @property
    def units(self) -> Mapping[tuple[int, str], UnitEngine]:
        return self.chip.units

    def step(self, instructions: int = 1) -> list:
        """Advance until ``instructions`` more instructions completed; return their events
        (events are recorded only when the options ask for a trace)."""
        env, chip = self.chip.env, self.chip
        first_event = len(chip.events)
        target = chip.completed + instructions
        while chip.completed < target and not self.done:
            env.step()
        return chip.events[first_event:]

    def finish(self) -> KernelRun:
        """Run to the end; raise DeadlockError if some unit cannot finish."""
        self.chip.env.run()
        reports = [r for r in (u.deadlock_report() for u in self.chip.units.values()) if r]
        if reports:
            raise DeadlockError(f"{self.kernel.name}: deadlock: " + " | ".join(reports))
        outputs: dict[str, np.ndarray] = {}
        if self.functional:
            outputs.update(self._logical)
            outputs.update(_read_outputs(self.kernel, self.memories, self.gm))
        return _collect(self.kernel, self.cfg, list(self.chip.units.values()), outputs,
                        self.chip.events, self.chip.events_dropped)


def _check_cores(kernel: Kernel, cfg: Any) -> None:
    if kernel.block_dim > cfg.cores:
        raise SimulationError(f"{kernel.name}: block_dim {kernel.block_dim} exceeds the "
                              f"{cfg.cores} cores of {cfg.name}")


def _decode(kernel: Kernel, cfg: Any) -> list[tuple[int, str, Stream, tuple[Decoded, ...]]]:
    """Every unit's stream with its decoded records, in core order (streams and instructions
    shared between units are decoded once: `decode_stream`)."""
    decoded_cache: dict[int, tuple[Decoded, ...]] = {}
    records: dict = {}  # decoded instructions, shared by the streams (`decode_stream`)
    out = []
    for core_index, core in enumerate(kernel.cores):
        for unit, stream in core.items():
            decoded = decoded_cache.get(id(stream))
            if decoded is None:
                decoded = decoded_cache[id(stream)] = decode_stream(stream.instructions, cfg,
                                                                  records)
            out.append((core_index, unit, stream, decoded))
    return out


def run_kernel(
    kernel: Kernel,
    cfg: Any,
    options: SimOptions = SimOptions(),
    *,
    gm: np.ndarray | None = None,
    inputs: Mapping[str, np.ndarray] | None = None,
) -> KernelRun:
    """Simulate ``kernel`` on the chip ``cfg`` and return its `KernelRun` (see `Simulation`;
    timing runs without a trace take the fast engine unless ``options.engine`` says simpy)."""
    if not options.fast:
        return Simulation(kernel, cfg, options, gm=gm, inputs=inputs).finish()
    from hw.davinci.fast import run_fast

    _check_cores(kernel, cfg)
    units = [(c, unit, decoded, _describer(stream), stream.shape)
             for c, unit, stream, decoded in _decode(kernel, cfg)]
    return _collect(kernel, cfg, run_fast(kernel, units, cfg, options.check_races), {})


def _memory_for(decl: Any, memories: Mapping[tuple[int, str], Any], kernel: Kernel) -> Any:
    units = kernel.cores[decl.core] if decl.core < kernel.block_dim else {}
    if not units:
        raise SimulationError(f"{kernel.name}: {decl.name} is declared on core {decl.core}, "
                              f"which has no stream")
    unit = next(iter(units))
    return memories[decl.core, unit]


def _buffer(decl: Any, memories: Any, gm: np.ndarray, kernel: Kernel) -> np.ndarray:
    if decl.addr.space is Space.GM:
        return gm
    return _memory_for(decl, memories, kernel).buffer(decl.addr.space)


def _place_inputs(kernel: Kernel, memories: Any, gm: np.ndarray,
                  given: Mapping[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    from isa.davinci.layouts import to_layout

    rng = np.random.default_rng(seed)
    placed = {}
    for decl in kernel.inputs:
        if decl.name in given:
            value = np.asarray(given[decl.name])
        elif decl.init == "zeros":
            value = np.zeros(decl.shape)
        elif decl.init == "ones":
            value = np.ones(decl.shape)
        elif decl.init == "arange":
            value = np.arange(int(np.prod(decl.shape))).reshape(decl.shape)
        elif decl.dtype.is_float:
            value = rng.uniform(-1.0, 1.0, size=decl.shape)
        else:
            value = rng.integers(-8, 8, size=decl.shape)
        if tuple(value.shape) != tuple(decl.shape):
            raise SimulationError(f"{kernel.name}: input {decl.name} has shape {value.shape}, "
                                  f"declared {decl.shape}")
        typed = _to_storage(value, decl.dtype)
        stored = to_layout(typed, decl.layout, decl.dtype.itemsize)
        raw = np.ascontiguousarray(stored).view(np.uint8).reshape(-1)
        buffer = _buffer(decl, memories, gm, kernel)
        start = decl.addr.offset
        if start + raw.size > buffer.size:
            raise SimulationError(f"{kernel.name}: input {decl.name} ({raw.size} B at "
                                  f"{decl.addr}) does not fit {decl.addr.space.name}")
        buffer[start:start + raw.size] = raw
        placed[decl.name] = _from_storage(typed, decl.dtype)
    return placed


def _to_storage(value: np.ndarray, dtype: Any) -> np.ndarray:
    if dtype.text == "bf16":
        return float32_to_bf16(value)
    return value.astype(dtype.np_dtype)


def _from_storage(stored: np.ndarray, dtype: Any) -> np.ndarray:
    return bf16_to_float32(stored) if dtype.text == "bf16" else stored


def _read_outputs(kernel: Kernel, memories: Any, gm: np.ndarray) -> dict[str, np.ndarray]:
    from isa.davinci.layouts import from_layout

    outputs = {}
    for decl in kernel.outputs:
        shape = _stored_shape(decl)
        nbytes = int(np.prod(shape)) * decl.dtype.itemsize
        buffer = _buffer(decl, memories, gm, kernel)
        raw = buffer[decl.addr.offset:decl.addr.offset + nbytes]
        stored = raw.view(decl.dtype.np_dtype).reshape(shape)
        outputs[decl.name] = _from_storage(from_layout(stored, decl.layout, decl.shape),
                                           decl.dtype)
    return outputs


def _collect(kernel: Kernel, cfg: Any, units: list, outputs: dict, events: list = (),
             events_dropped: int = 0) -> KernelRun:
    """Sum the units' statistics into a KernelRun (byte and instruction tallies by name, so
    both engines give the same records)."""
    pipes: dict[str, PipeStats] = {}
    units_per_pipe: Counter = Counter()
    totals: dict[str, Counter] = {k: Counter() for k in ("path", "read", "written", "mnem")}
    flops = 0
    cycles = 0
    for unit in units:
        for name, stats in unit.pipe_stats().items():
            pipes[name] = pipes.get(name, PipeStats()) + stats
        units_per_pipe.update(unit.pipes_present())
        totals["path"].update(unit.bytes_by_path)
        totals["read"].update(unit.bytes_read)
        totals["written"].update(unit.bytes_written)
        totals["mnem"].update(unit.mnemonics)
        flops += unit.flops
        cycles = max(cycles, unit.end)
    return KernelRun(
        name=kernel.name,
        chip=cfg.name,
        cycles=int(cycles),
        launch_cycles=int(cfg.kernel_launch_cycles),
        freq_hz=float(cfg.freq_hz),
        cores=kernel.block_dim,
        pipes=pipes,
        units_per_pipe=dict(units_per_pipe),
        bytes_by_path=dict(sorted(totals["path"].items())),
        bytes_read=dict(sorted(totals["read"].items())),
        bytes_written=dict(sorted(totals["written"].items())),
        instruction_counts=dict(sorted(totals["mnem"].items())),
        flops=flops,
        events=tuple(sorted(events, key=lambda e: (e.start, e.core, e.pipe))),
        events_dropped=events_dropped,
        outputs=outputs,
        chip_units_per_pipe=chip_units(cfg),
    )


def chip_units(cfg: Any) -> dict[str, int]:
    """How many units of the chip have each pipe: every core has all of them on coupled
    chips; on separated ones the AIC has the Cube side and each AIV the vector side, and
    both have scalar issue and MTE2/MTE3."""
    cores = int(cfg.cores)
    if cfg.organisation != "separated":
        return {pipe.name: cores for pipe in Pipe}
    aivs = cores * int(cfg.vector_cores_per_core)
    cube_side = {"M": cores, "MTE1": cores, "FIX": cores}
    return {**cube_side, "V": aivs, "S": cores + aivs, "MTE2": cores + aivs,
            "MTE3": cores + aivs}
