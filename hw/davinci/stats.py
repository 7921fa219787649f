"""Result records of a DaVinci kernel run: the chip-independent records of `hw.stats`
(re-exported here) and the DaVinci pipe names."""

from __future__ import annotations

from hw.stats import KernelRun, PipeStats, TimelineEvent

PIPE_NAMES = ("S", "V", "M", "MTE1", "MTE2", "MTE3", "FIX")
"""The pipes of a DaVinci AI Core, in report order."""

__all__ = ["PIPE_NAMES", "KernelRun", "PipeStats", "TimelineEvent"]
