"""Typed, frozen result records of a kernel run on any chip model; they add up with ``+``.

`KernelRun` is the record every engine returns (DaVinci's directly, the SIMT GPU's through its
subclass `hw.simt.stats.GpuKernelRun`), so reports treat every target alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


def _add(a: Mapping, b: Mapping) -> Mapping:
    total: Counter = Counter(a)
    total.update(b)
    return _frozen(total)


@dataclass(frozen=True, slots=True)
class PipeStats:
    """Cycles one pipe (summed over cores) spent working, blocked on a flag, and the cycles the
    scalar unit could not issue because this pipe's queue was full."""

    busy_cycles: int = 0
    flag_wait_cycles: int = 0
    queue_full_cycles: int = 0
    instructions: int = 0

    def __add__(self, other: PipeStats) -> PipeStats:
        return PipeStats(
            self.busy_cycles + other.busy_cycles,
            self.flag_wait_cycles + other.flag_wait_cycles,
            self.queue_full_cycles + other.queue_full_cycles,
            self.instructions + other.instructions,
        )


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One instruction on one pipe of one core unit (or SM sub-core), in cycles from the
    kernel start."""

    core: int
    unit: str
    pipe: str
    name: str
    line: int
    start: int
    end: int
    nbytes: int = 0
    flag_wait_from: int | None = None  # start of the flag wait that preceded it, if any


@dataclass(frozen=True)
class KernelRun:
    """The outcome of one kernel on one chip.

    ``cycles`` is the makespan of the cores (launch overhead excluded, reported separately in
    ``launch_cycles``). ``pipes`` sums each pipe over every core and unit; ``units_per_pipe``
    says over how many units did work on it, so utilisation = busy / (cycles * units): the
    kernel's own share. ``chip_units_per_pipe`` counts the units the whole chip has (when
    known), for chip-wide shares: a kernel on 16 of 32 cores leaves the other 16 idle.
    """

    name: str
    chip: str
    cycles: int
    launch_cycles: int
    freq_hz: float
    cores: int
    pipes: Mapping[str, PipeStats]
    units_per_pipe: Mapping[str, int]
    bytes_by_path: Mapping[str, int]
    bytes_read: Mapping[str, int]
    bytes_written: Mapping[str, int]
    instruction_counts: Mapping[str, int]
    flops: int
    events: tuple[TimelineEvent, ...] = ()
    events_dropped: int = 0
    chip_units_per_pipe: Mapping[str, int] | None = None
    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def total_cycles(self) -> int:
        return self.cycles + self.launch_cycles

    @property
    def seconds(self) -> float:
        return self.total_cycles / self.freq_hz

    def utilization(self, pipe: str) -> float:
        """Fraction of the run the pipe was busy, averaged over the units that have it."""
        units = self.units_per_pipe.get(pipe, 0)
        if units == 0 or self.cycles == 0:
            return 0.0
        return self.pipes[pipe].busy_cycles / (self.cycles * units)

    def chip_utilization(self, pipe: str) -> float:
        """Fraction of the chip's ``pipe`` capacity the kernel used while it ran (its own
        share, `utilization`, when the chip's units are not known)."""
        chip = (self.chip_units_per_pipe or {}).get(pipe, 0)
        if chip == 0 or pipe not in self.pipes or self.cycles == 0:
            return self.utilization(pipe)
        return self.pipes[pipe].busy_cycles / (self.cycles * chip)

    def __add__(self, other: KernelRun) -> KernelRun:
        """Sequential composition: two kernels run one after the other."""
        pipes = {
            name: self.pipes.get(name, PipeStats()) + other.pipes.get(name, PipeStats())
            for name in set(self.pipes) | set(other.pipes)
        }
        units = {
            name: max(self.units_per_pipe.get(name, 0), other.units_per_pipe.get(name, 0))
            for name in set(self.units_per_pipe) | set(other.units_per_pipe)
        }
        return KernelRun(
            name=f"{self.name}+{other.name}",
            chip=self.chip,
            cycles=self.cycles + other.cycles,
            launch_cycles=self.launch_cycles + other.launch_cycles,
            freq_hz=self.freq_hz,
            cores=max(self.cores, other.cores),
            pipes=_frozen(pipes),
            units_per_pipe=_frozen(units),
            bytes_by_path=_add(self.bytes_by_path, other.bytes_by_path),
            bytes_read=_add(self.bytes_read, other.bytes_read),
            bytes_written=_add(self.bytes_written, other.bytes_written),
            instruction_counts=_add(self.instruction_counts, other.instruction_counts),
            flops=self.flops + other.flops,
            chip_units_per_pipe=self.chip_units_per_pipe or other.chip_units_per_pipe,
        )
