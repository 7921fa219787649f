"""The roofs of a hierarchical roofline: a chip's compute peaks and the bandwidth of each
memory level, read from its hardware config (and saved with a result so a report can be
re-rendered without the config).

Each memory roof says which of a run's byte counters it bounds: whole levels of
``bytes_read``/``bytes_written`` (HBM, L2) or a set of DMA paths of ``bytes_by_path`` (the
on-chip buffers), with the chip-wide bandwidth that bounds them. A roof is only drawn where
the engine enforces it, so no kernel can sit above it:

- DaVinci: every GM byte crosses one shared L2 timeline at ``l2_bytes_per_s`` and every L2
  miss (and write) one HBM timeline at ``hbm_bytes_per_s`` (`hw.davinci.engine.ChipState`); each
  DMA path moves at most its per-core ``<path>_bytes_per_cycle`` on every core that has it, so
  the paths into and out of L1 (or UB) together move at most the sum of their bandwidths.
- SIMT: DRAM at ``dram_bytes_per_s``, L2 at ``l2_bytes_per_cycle``, L1 at
  ``l1_bytes_per_cycle`` per SM and shared memory at one bank word per bank per cycle per SM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hw.davinci.config import DaVinciConfig
from hw.davinci.stats import KernelRun


@dataclass(frozen=True)
class ComputeRoof:
    """A compute ceiling in FLOP/s (e.g. the Cube's fp16 peak)."""

    name: str
    flops_per_s: float


@dataclass(frozen=True)
class MemoryRoof:
    """One memory level: its chip-wide bandwidth and the byte counters it bounds.

    ``levels`` name keys of ``KernelRun.bytes_read``/``bytes_written`` (read plus written are
    summed); ``paths`` name keys of ``KernelRun.bytes_by_path``.
    """

    name: str
    bytes_per_s: float
    levels: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def bytes_of(self, run: KernelRun) -> int:
        """The bytes ``run`` moved through this level."""
        total = sum(run.bytes_by_path.get(p, 0) for p in self.paths)
        total += sum(run.bytes_read.get(lv, 0) + run.bytes_written.get(lv, 0)
                     for lv in self.levels)
        return int(total)


@dataclass(frozen=True)
class Ceilings:
    """A chip's roofs for one roofline: compute peaks (highest first) and memory levels from
    off-chip inwards. ``source`` says where the figures came from."""

    hw: str
    compute: tuple[ComputeRoof, ...]
    memory: tuple[MemoryRoof, ...]
    source: str = "config"

    @property
    def peak_flops(self) -> float:
        """The highest compute ceiling."""
        return max(c.flops_per_s for c in self.compute)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (read back by `from_json`)."""
        return {
            "hw": self.hw, "source": self.source,
            "compute": [{"name": c.name, "flops_per_s": c.flops_per_s} for c in self.compute],
            "memory": [{"name": m.name, "bytes_per_s": m.bytes_per_s, "levels": list(m.levels),
                        "paths": list(m.paths)} for m in self.memory],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ceilings:
        """The inverse of `to_json`."""
        return cls(
            hw=str(data["hw"]), source=str(data.get("source", "config")),
            compute=tuple(ComputeRoof(str(c["name"]), float(c["flops_per_s"]))
                          for c in data["compute"]),
            memory=tuple(MemoryRoof(str(m["name"]), float(m["bytes_per_s"]),
                                    tuple(m.get("levels", ())), tuple(m.get("paths", ())))
                         for m in data["memory"]),
        )


def _paths_touching(config: DaVinciConfig, buffer: str) -> list[tuple[str, float]]:
    """(path key as the engine names it, per-core bytes/cycle) for every existing DMA path
    into or out of ``buffer``."""
    out = []
    for name in type(config).model_fields:
        if not name.endswith("_bytes_per_cycle") or "_to_" not in name:
            continue
        src, dst = name.removesuffix("_bytes_per_cycle").split("_to_")
        bandwidth = float(getattr(config, name))
        if bandwidth > 0 and buffer in (src, dst):
            out.append((f"{src}->{dst}", bandwidth))
    return out


def _davinci(config: DaVinciConfig) -> Ceilings:
    # On separated chips (910B) the UB lives in the vector cores (AIV), L1 in the cube cores.
    ub_cores = config.vector_cores if config.organisation == "separated" else config.cores
    on_chip = []
    for buffer, cores in (("l1", config.cores), ("ub", ub_cores)):
        paths = _paths_touching(config, buffer)
        if paths and cores:
            on_chip.append(MemoryRoof(
                buffer.upper(), sum(bw for _, bw in paths) * cores * config.freq_hz,
                paths=tuple(p for p, _ in paths)))
    return Ceilings(
        hw=config.name,
        compute=(ComputeRoof("Cube fp16", config.peak_flops("fp16")),),
        memory=(MemoryRoof("HBM", float(config.hbm_bytes_per_s), levels=("hbm",)),
                MemoryRoof("L2", float(config.l2_bytes_per_s), levels=("gm",)),
                *on_chip),
    )


def _gpu(config: Any) -> Ceilings:
    per_sm = config.sms * config.freq_hz
    return Ceilings(
        hw=config.name,
        compute=(ComputeRoof("tensor fp16", float(config.peak_tensor_flops)),
                 ComputeRoof("fp32", float(config.peak_fp32_flops))),
        memory=(MemoryRoof("DRAM", float(config.dram_bytes_per_s), levels=("dram",)),
                MemoryRoof("L2", float(config.l2_bytes_per_cycle) * config.freq_hz,
                           levels=("l2",)),
                MemoryRoof("L1", float(config.l1_bytes_per_cycle) * per_sm, levels=("l1",)),
                MemoryRoof("shared", float(config.shared_banks * config.shared_bank_bytes)
                           * per_sm, levels=("shared",))),
    )


def _rules() -> dict[type, Callable[[Any], Ceilings]]:
    rules: dict[type, Callable[[Any], Ceilings]] = {DaVinciConfig: _davinci}
    from hw.simt.config import GpuConfig

    rules[GpuConfig] = _gpu
    return rules


def ceilings_for(config: Any) -> Ceilings:
    """The roofs of ``config`` (a DaVinci or SIMT GPU config)."""
    for kind, rule in _rules().items():
        if isinstance(config, kind):
            return rule(config)
    raise TypeError(f"no roofline rule for a {type(config).__name__} config")


def ceilings_from_result(hw: str, peak_flops: float, hbm_bytes_per_s: float,
                         hbm_level: str) -> Ceilings:
    """The two roofs every RunResult carries (peak and off-chip bandwidth), for a result whose
    config is no longer at hand."""
    return Ceilings(hw=hw, compute=(ComputeRoof("peak", peak_flops),),
                    memory=(MemoryRoof("HBM", hbm_bytes_per_s, levels=(hbm_level,)),),
                    source="result (config unavailable: on-chip roofs omitted)")
