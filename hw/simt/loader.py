"""Load a `GpuConfig` from a preset name or a TOML / YAML / JSON file of overrides::

    preset = "a100"
    sms = 54
    [pipes.tensor]
    latency_cycles = 20
    ii_cycles = 8

Strict like the DaVinci loader (both read files with `hw.config_io`): an unknown key is an
error naming the key and the file; ``pipes`` entries replace the base's entry for that unit
only. Without ``name`` the config is named after the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from hw.config_io import read_config_file
from hw.errors import ConfigError
from hw.simt.config import GpuConfig
from hw.simt.presets import PRESETS, get_preset

BASE_KEY = "preset"


def is_gpu_file(data: dict[str, Any]) -> bool:
    """Whether a config file's table describes a GPU (names a GPU preset or has ``sms``)."""
    return data.get(BASE_KEY) in PRESETS or "sms" in data


def load_gpu_config(source: str | Path) -> GpuConfig:
    """The GPU config named by a preset name or a config file path."""
    if isinstance(source, str) and source in PRESETS:
        return PRESETS[source]
    path = Path(source)
    if not path.is_file():
        return get_preset(str(source))
    return build_gpu_config(read_config_file(path), path)


def build_gpu_config(data: dict[str, Any], path: Path) -> GpuConfig:
    """Apply a file's overrides to its base preset (or build it whole) and validate."""
    fields = GpuConfig.model_fields
    for key in data:
        if key != BASE_KEY and key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint}")
    overrides = dict(data)
    merged: dict[str, Any] = {}
    base = overrides.pop(BASE_KEY, None)
    if base is not None:
        try:
            merged = get_preset(str(base)).model_dump()
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    if "pipes" in overrides:
        pipes = overrides.pop("pipes")
        if not isinstance(pipes, dict):
            raise ConfigError(f"{path}: pipes: must be a table of unit -> "
                              "{latency_cycles, ii_cycles}")
        merged["pipes"] = {**merged.get("pipes", {}), **pipes}
    merged.update(overrides)
    if "name" not in overrides:
        merged["name"] = path.stem
    try:
        return GpuConfig(**merged)
    except ConfigError as exc:
        raise ConfigError("\n".join(f"{path}: {line}" for line in str(exc).splitlines())) \
            from None
