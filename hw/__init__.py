"""hw: hardware configurations, presets and the discrete-event engines that run isa programs."""

from __future__ import annotations

from pathlib import Path

from hw.davinci import DaVinciConfig, load_config


def load_hw(name_or_path: str | Path) -> DaVinciConfig:
    """The hardware config named by a preset name or a .toml/.yaml/.yml/.json file path.

    Only DaVinci configs exist so far; unknown names raise `hw.errors.ConfigError`.
    """
    return load_config(name_or_path)


__all__ = ["load_hw"]
