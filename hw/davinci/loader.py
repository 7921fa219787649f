"""Load a `DaVinciConfig` from a preset name or a TOML / YAML / JSON file.

A file holds overrides of any `DaVinciConfig` field on top of a base preset, named in the file
(``preset = "ascend910b"``) or passed by the caller::

    preset = "ascend910b"
    l1_bytes = 1048576
    [vector_costs.vexp]
    startup_cycles = 10
    cycles_per_repeat = 3

Loading is strict (nanoGPT's "Unknown config key"): an unknown key is an error naming the key
and the file; ``vector_costs`` entries replace the base's entry for that op, other ops keep the
base's costs. Without ``name`` the config is named after the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from hw.config_io import PARSERS, read_config_file
from hw.davinci.config import DaVinciConfig
from hw.davinci.presets import PRESETS, get_preset
from hw.errors import ConfigError

_BASE_KEY = "preset"


def load_config(source: str | Path, base: str | DaVinciConfig | None = None) -> DaVinciConfig:
    """The config named by `source`: a preset name, or a path to a .toml/.yaml/.yml/.json file.

    `base` (a preset name or a config) is what a file's overrides apply to when the file names
    no ``preset`` itself; a file with neither must set every field. `base` is ignored when
    `source` is a preset name. Every problem raises one `ConfigError` naming the file.
    """
    if isinstance(source, str) and source in PRESETS:
        return PRESETS[source]
    path = Path(source)
    if path.suffix.lower() not in PARSERS:
        if path.exists():
            raise ConfigError(
                f"{path}: unsupported config file type (use {', '.join(sorted(PARSERS))})"
            )
        # neither a preset nor a config file: report the names a user most likely meant
        return get_preset(str(source))
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    data = read_config_file(path)
    return _build(data, path, base)


def _build(data: dict[str, Any], path: Path, base: str | DaVinciConfig | None) -> DaVinciConfig:
    fields = DaVinciConfig.model_fields
    for key in data:
        if key != _BASE_KEY and key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint}")
    overrides = dict(data)
    base_name = overrides.pop(_BASE_KEY, None)
    if base_name is not None:
        if not isinstance(base_name, str):
            raise ConfigError(f"{path}: preset: {base_name!r} must be a preset name")
        try:
            base_config: DaVinciConfig | None = get_preset(base_name)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    elif isinstance(base, str):
        base_config = get_preset(base)
    else:
        base_config = base

    merged: dict[str, Any] = {}
    if base_config is not None:
        merged = base_config.model_dump()
        merged["vector_costs"] = dict(base_config.vector_costs)
    if "vector_costs" in overrides:
        costs = overrides.pop("vector_costs")
        if not isinstance(costs, dict):
            raise ConfigError(
                f"{path}: vector_costs: {costs!r} must be a table of op -> "
                "{startup_cycles, cycles_per_repeat[, cycles_per_repeat_b32]}"
            )
        merged["vector_costs"] = {**merged.get("vector_costs", {}), **costs}
    merged.update(overrides)
    if "name" not in overrides:
        merged["name"] = path.stem  # a variant must not pass for the preset it started from
    try:
        return DaVinciConfig(**merged)
    except ConfigError as exc:
        lines = str(exc).splitlines()
        raise ConfigError("\n".join(f"{path}: {line}" for line in lines)) from None
