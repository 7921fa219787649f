"""hw.simt: the SIMT GPU model: config record and presets, the warp-level simpy engine
(`run_kernel`), its result record and calibration microbenchmarks (`hw.simt.microbench`)."""

from hw.simt.config import GpuConfig, PipeCost
from hw.simt.loader import load_gpu_config
from hw.simt.presets import PRESETS, get_preset
from hw.simt.run import SimOptions, run_kernel
from hw.simt.stats import GpuKernelRun

__all__ = [
    "GpuConfig", "GpuKernelRun", "PRESETS", "PipeCost", "SimOptions", "get_preset",
    "load_gpu_config", "run_kernel",
]
