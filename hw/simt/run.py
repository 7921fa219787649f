"""Run one SIMT kernel on a GPU model and collect a `GpuKernelRun`.

Large grids (``sample="auto"``): the run first simulates ``sample_sms`` SMs, each running the
CTAs that SM would run in the full chip, capped at ``sample_waves`` waves (occupancy-limited
rounds). CTAs of one wave share data through L2 (GEMM tiles), so each sampled CTA carries
*shadow CTAs*: the CTAs of the same round on the SMs not simulated. Shadows follow the sampled
warp's control flow, execute only the instructions addresses depend on (vectorised over the
shadows) and send their global accesses through their own L1s into the shared L2 and DRAM, so
L2 contents and L2/DRAM queues see the whole wave. Shadows go first: the kernel ends with its
slowest SM, the one served last, and the sampled SMs play that part. Kernels whose addresses
depend on loaded data (pointer chasing) cannot have shadows; their sample owns its fair share
(sample_sms / sms) of L2 capacity and L2/DRAM bandwidth instead.

If the sample covers the grid, or the whole grid is estimated at no more than
``full_budget_instructions`` warp instructions (about half a minute of simulation), every CTA
is simulated on every SM instead. Otherwise the sample is extrapolated: cycles scale with the
CTAs per SM (throughput-bound SMs take time in proportion to their CTAs), counts with CTAs
(L2 and DRAM counts from the sampled and shadow CTAs together).
The result says so: ``sampled=True`` and ``sampled_fraction``. Functional mode always
simulates every CTA (every output must be computed). ``sample="waves"`` always samples and
``"full"`` never does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

import numpy as np

from hw.errors import SimulationError
from hw.simt.config import SECTOR_BYTES, GpuConfig
from hw.simt.decode import UNITS, decode
from hw.simt.engine import Gpu
from hw.simt.occupancy import Occupancy, occupancy
from hw.simt.stats import GpuKernelRun
from hw.stats import PipeStats
from isa.simt import DATA_DTYPES, DataDecl, Kernel, verify_kernel

Mode = Literal["timing", "functional"]
Sample = Literal["auto", "full", "waves"]


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How to run: ``mode`` functional executes every lane's data, timing only what timing
    depends on (same cycles); ``trace`` records timeline events (at most ``max_events``);
    ``sample`` chooses full or wave-sampled simulation of large grids and ``shadow_ctas``
    whether a sample presents its wave's traffic to L2 and DRAM (module docstring);
    ``seed`` seeds random example inputs; ``max_cycles`` stops runaway programs."""

    mode: Mode = "timing"
    trace: bool = False
    max_events: int = 200_000
    seed: int = 0
    sample: Sample = "auto"
    sample_sms: int = 2
    sample_waves: int = 2
    full_budget_instructions: int = 1_000_000
    shadow_ctas: bool = True
    max_cycles: int = 2_000_000_000

    def __post_init__(self) -> None:
        if self.mode not in ("timing", "functional"):
            raise SimulationError(f"mode: unknown mode {self.mode!r} (timing or functional)")
        if self.sample not in ("auto", "full", "waves"):
            raise SimulationError(f"sample: unknown {self.sample!r} (auto, full or waves)")
        if self.sample_sms < 1 or self.sample_waves < 1:
            raise SimulationError("sample_sms and sample_waves must be at least 1")


def _extent(kernel: Kernel) -> int:
    ends = [d.addr + d.nbytes for d in (*kernel.inputs, *kernel.outputs)]
    return -(-max(ends, default=0) // 256) * 256 + 256


def _init(decl: DataDecl, rng: np.random.Generator) -> np.ndarray:
    dtype = DATA_DTYPES[decl.dtype]
    if decl.init == "zeros":
        return np.zeros(decl.shape, dtype)
    if decl.init == "ones":
        return np.ones(decl.shape, dtype)
    if decl.init == "arange":
        return np.arange(int(np.prod(decl.shape))).reshape(decl.shape).astype(dtype)
    if dtype.kind == "f":
        return rng.uniform(-1, 1, decl.shape).astype(dtype)
    return rng.integers(0, 10, decl.shape).astype(dtype)


def _view(gmem: np.ndarray, decl: DataDecl) -> np.ndarray:
    dtype = DATA_DTYPES[decl.dtype]
    if decl.addr % dtype.itemsize or decl.addr + decl.nbytes > gmem.size:
        raise SimulationError(f"data {decl.name!r} at {decl.addr:#x} ({decl.nbytes} B) is "
                              f"misaligned or beyond the {gmem.size} B global memory")
    return gmem[decl.addr:decl.addr + decl.nbytes].view(dtype).reshape(decl.shape)


def prepare_memory(kernel: Kernel, gmem: np.ndarray | None, inputs: Mapping[str, np.ndarray],
                   seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Global memory (uint8, a multiple of 4 bytes) with the declared inputs written; returns
    it and the input arrays by name."""
    if gmem is None:
        gmem = np.zeros(_extent(kernel), dtype=np.uint8)
    if gmem.dtype != np.uint8 or gmem.size % 4:
        raise SimulationError("gmem must be a uint8 array whose size is a multiple of 4")
    rng = np.random.default_rng(seed)
    written = {}
    for decl in kernel.inputs:
        value = inputs[decl.name] if decl.name in inputs else _init(decl, rng)
        target = _view(gmem, decl)
        if np.shape(value) != target.shape:
            raise SimulationError(f"input {decl.name!r}: shape {np.shape(value)} != declared "
                                  f"{target.shape}")
        target[...] = value
        written[decl.name] = target.copy()
    return gmem, written


def _sample_ids(cfg: GpuConfig, ctas: int, sms: int, per_sm: int) -> tuple[
        list[int], dict[int, tuple[int, ...]]]:
    """The CTAs the first ``sms`` SMs run in a full simulation (``per_sm`` each; the CTA
    scheduler deals CTA i to SM i % cfg.sms), and for each the CTAs of the same round on the
    other SMs that it stands for (its shadows)."""
    ids = [r * cfg.sms + s for r in range(per_sm) for s in range(sms) if r * cfg.sms + s < ctas]
    shadows = {}
    for cta in ids:
        end = min(ctas, (cta // cfg.sms + 1) * cfg.sms)
        shadows[cta] = tuple(range(cta + sms, end, sms))
    return ids, shadows


def _simulate(cfg: GpuConfig, kernel: Kernel, occ: Occupancy, options: SimOptions,
              gmem: np.ndarray, sms: int, per_sm: int | None) -> tuple[Gpu, int]:
    """Every CTA on every SM (``per_sm`` None), or ``per_sm`` CTAs on each of ``sms`` SMs."""
    functional = options.mode == "functional"
    ops, data = decode(kernel.program, cfg, functional)
    ctas = kernel.launch.ctas
    if per_sm is None:
        gpu = Gpu(cfg, kernel, ops, occ, sms=cfg.sms, share=1.0, cta_ids=range(ctas),
                  gmem=gmem, data=data, trace=options.trace, max_events=options.max_events)
        return gpu, gpu.run(options.max_cycles)
    ids, shadows = _sample_ids(cfg, ctas, sms, per_sm)
    # shadows need addresses that do not depend on loaded data (they load nothing)
    use_shadows = options.shadow_ctas and not data
    gpu = Gpu(cfg, kernel, ops, occ, sms=sms, share=1.0 if use_shadows else sms / cfg.sms,
              cta_ids=ids, gmem=gmem, data=data, trace=options.trace,
              max_events=options.max_events, shadow_ids=shadows if use_shadows else None)
    return gpu, gpu.run(options.max_cycles)


def _record(cfg: GpuConfig, kernel: Kernel, occ: Occupancy, gpu: Gpu, cycles: int,
            scale: float, sampled: bool, outputs: Mapping[str, np.ndarray]) -> GpuKernelRun:
    subcores = [s for sm in gpu.subcores for s in sm]
    sim_cycles = max(1, gpu.finish)
    units = cfg.sms * cfg.subcores_per_sm

    def scaled(value: float) -> int:
        return round(value * scale)

    pipes = {unit.value: PipeStats(
        busy_cycles=scaled(sum(s.pipe_busy[i] for s in subcores)),
        instructions=scaled(sum(s.pipe_count[i] for s in subcores)),
    ) for i, unit in enumerate(UNITS)}
    mem = gpu.memory
    pipes["l1tex"] = PipeStats(busy_cycles=scaled(mem.lsu_busy))
    pipes["l2"] = PipeStats(busy_cycles=scaled(mem.l2_busy))
    pipes["dram"] = PipeStats(busy_cycles=scaled(mem.dram_busy))
    units_per_pipe = {name: units for name in pipes} | {"l1tex": cfg.sms, "l2": 1, "dram": 1}
    if sampled:  # the sampled L2/DRAM queues are a share of the chip's: keep their busy ratio
        for name in ("l2", "dram"):
            busy = getattr(mem, f"{name}_busy") / sim_cycles * cycles
            pipes[name] = PipeStats(busy_cycles=round(busy))
    counts: Counter[str] = Counter({k: scaled(v) for k, v in mem.counts.items()})
    shadows = sum(len(gpu.shadow_ids.get(cta, ())) for cta in gpu.simulated)
    if shadows:  # chip-level traffic: the sampled CTAs and their shadows saw it together
        wave_scale = kernel.launch.ctas / (gpu.total + shadows)
        for key in ("dram_read_bytes", "dram_write_bytes", "l2_sectors", "l2_hit_sectors"):
            counts[key] = round((mem.counts[key] + mem.shadow_counts[key]) * wave_scale)
    stalls: Counter[str] = Counter()
    for s in subcores:
        stalls.update(s.stalls)
    issued = sum(s.issued for s in subcores)
    stalls["idle"] += max(0, len(subcores) * sim_cycles - issued - sum(stalls.values()))
    flops = sum(count * _FLOPS.get(name, 0) for name, count in gpu.instruction_counts.items())
    return GpuKernelRun(
        name=kernel.name, chip=cfg.name, cycles=cycles, launch_cycles=cfg.launch_overhead_cycles,
        freq_hz=cfg.freq_hz, cores=cfg.sms, pipes=MappingProxyType(pipes),
        units_per_pipe=MappingProxyType(units_per_pipe),
        bytes_by_path=MappingProxyType({
            "dram->l2": counts["dram_read_bytes"], "l2->dram": counts["dram_write_bytes"],
            "l2->l1": counts["l2_to_l1_bytes"], "sm->l2": counts["sm_to_l2_bytes"],
            "shared->sm": counts["shared_read_bytes"], "sm->shared": counts["shared_write_bytes"],
        }),
        bytes_read=MappingProxyType({
            "dram": counts["dram_read_bytes"], "l2": counts["l2_to_l1_bytes"],
            "l1": counts["l1_hit_sectors"] * SECTOR_BYTES, "shared": counts["shared_read_bytes"],
        }),
        bytes_written=MappingProxyType({
            "dram": counts["dram_write_bytes"], "l2": counts["sm_to_l2_bytes"],
            "shared": counts["shared_write_bytes"],
        }),
        instruction_counts=MappingProxyType(
            {k: scaled(v) for k, v in sorted(gpu.instruction_counts.items())}),
        flops=scaled(flops),
        events=tuple(gpu.events), events_dropped=gpu.events_dropped,
        outputs=MappingProxyType(dict(outputs)),
        issue_cycles=scaled(issued),
        stall_cycles=MappingProxyType({k: scaled(v) for k, v in sorted(stalls.items())}),
        subcore_cycles=scaled(len(subcores) * sim_cycles),
        l1_hit_rate=mem.counts["l1_hit_sectors"] / max(1, mem.counts["l1_sectors"]),
        l2_hit_rate=counts["l2_hit_sectors"] / max(1, counts["l2_sectors"]),
        achieved_occupancy=gpu.warp_cycles / (sim_cycles * len(gpu.subcores)
                                              * cfg.max_warps_per_sm),
        theoretical_occupancy=occ.theoretical, occupancy_limiter=occ.limiter,
        ctas=kernel.launch.ctas, ctas_simulated=gpu.total, sampled=sampled,
        sampled_fraction=gpu.total / max(1, kernel.launch.ctas),
        memory_counts=MappingProxyType(dict(sorted(counts.items()))),
    )


_FLOPS = {"fma": 2 * 32, "mma.m16n8k16": 2 * 16 * 8 * 16}
"""FLOPs per warp instruction (full warps; f16x2 fma counted as f32 fma)."""


def run_kernel(kernel: Kernel, cfg: GpuConfig, options: SimOptions = SimOptions(), *,
               gmem: np.ndarray | None = None,
               inputs: Mapping[str, np.ndarray] | None = None) -> GpuKernelRun:
    """Verify ``kernel`` against ``cfg``'s limits, run it and return the record. In
    functional mode ``gmem`` (uint8, made from the declarations when omitted) holds the data
    after the run and ``outputs`` maps declared inputs and outputs to arrays."""
    verify_kernel(kernel, cfg.limits)
    occ = occupancy(cfg, kernel)
    gmem, written = prepare_memory(kernel, gmem, inputs or {}, options.seed)
    ctas = kernel.launch.ctas
    sms = min(cfg.sms, options.sample_sms)
    per_sm = -(-ctas // cfg.sms)  # CTAs the busiest SM runs in a full simulation
    per_sampled_sm = min(per_sm, occ.ctas_per_sm * options.sample_waves)
    sample = min(ctas, sms * per_sampled_sm)
    functional = options.mode == "functional"
    if functional or options.sample == "full" or (options.sample == "auto" and sample == ctas):
        gpu, cycles = _simulate(cfg, kernel, occ, options, gmem, cfg.sms, None)
        outputs = {**written, **{d.name: _view(gmem, d).copy() for d in kernel.outputs}} \
            if functional else {}
        return _record(cfg, kernel, occ, gpu, cycles, 1.0, False, outputs)
    gpu, cycles = _simulate(cfg, kernel, occ, options, gmem, sms, per_sampled_sm)
    scale = ctas / gpu.total
    issued = sum(s.issued for sm in gpu.subcores for s in sm)
    if options.sample == "auto" and issued * scale <= options.full_budget_instructions:
        return run_kernel(kernel, cfg, replace(options, sample="full"), gmem=gmem,
                          inputs=inputs)
    return _record(cfg, kernel, occ, gpu, round(cycles * per_sm / per_sampled_sm), scale,
                   True, {})
