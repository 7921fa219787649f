"""hw: hardware configurations, presets and the discrete-event engines that run isa programs."""

from __future__ import annotations

from pathlib import Path

from hw.config_io import read_config_file
from hw.davinci import PRESETS as DAVINCI_PRESETS
from hw.davinci import DaVinciConfig, load_config
from hw.errors import ConfigError
from hw.simt import PRESETS as GPU_PRESETS
from hw.simt import GpuConfig
from hw.simt.loader import build_gpu_config, is_gpu_file


def load_hw(name_or_path: str | Path) -> DaVinciConfig | GpuConfig:
    """The hardware config named by a preset name (DaVinci or GPU) or a .toml/.yaml/.yml/.json
    file path (a GPU file names a GPU preset or sets ``sms``); unknown names raise
    `hw.errors.ConfigError` listing every preset."""
    if isinstance(name_or_path, str) and name_or_path in GPU_PRESETS:
        return GPU_PRESETS[name_or_path]
    path = Path(name_or_path)
    config_file = path.suffix.lower() in (".toml", ".yaml", ".yml", ".json")
    if config_file and path.is_file():
        data = read_config_file(path)
        if is_gpu_file(data):
            return build_gpu_config(data, path)
    elif not config_file and str(name_or_path) not in DAVINCI_PRESETS and not path.exists():
        known = ", ".join([*DAVINCI_PRESETS, *GPU_PRESETS])
        raise ConfigError(f"unknown preset {str(name_or_path)!r} (known: {known})")
    return load_config(name_or_path)


__all__ = ["load_hw"]
