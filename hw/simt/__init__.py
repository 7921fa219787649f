"""hw.simt: the SIMT GPU model: config record, presets, and the warp-level simpy engine."""

from hw.simt.config import GpuConfig, PipeCost
from hw.simt.presets import PRESETS, get_preset

__all__ = ["GpuConfig", "PRESETS", "PipeCost", "get_preset"]
