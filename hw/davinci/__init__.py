"""hw.davinci: the DaVinci AI Core model: its config record, chip presets and config loading,
and the discrete-event engine that runs isa.davinci kernels (`run_kernel`, `Simulation`)."""

from hw.davinci.config import DaVinciConfig
from hw.davinci.config_fields import VectorCost
from hw.davinci.loader import load_config
from hw.davinci.presets import PRESETS, get_preset
from hw.davinci.run import SimOptions, Simulation, run_kernel
from hw.davinci.stats import KernelRun, PipeStats, TimelineEvent

__all__ = [
    "PRESETS", "DaVinciConfig", "KernelRun", "PipeStats", "SimOptions", "Simulation",
    "TimelineEvent", "VectorCost", "get_preset", "load_config", "run_kernel",
]
