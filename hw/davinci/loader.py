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
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from hw.davinci.config import DaVinciConfig
from hw.davinci.presets import PRESETS, get_preset
from hw.errors import ConfigError

_BASE_KEY = "preset"


_PARSERS: Mapping[str, Callable[[str], Any]] = {
    ".toml": tomllib.loads,
    ".yaml": yaml.safe_load,
    ".yml": yaml.safe_load,
    ".json": json.loads,
}
_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def load_config(source: str | Path, base: str | DaVinciConfig | None = None) -> DaVinciConfig:
    """The config named by `source`: a preset name, or a path to a .toml/.yaml/.yml/.json file.

    `base` (a preset name or a config) is what a file's overrides apply to when the file names
    no ``preset`` itself; a file with neither must set every field. `base` is ignored when
    `source` is a preset name. Every problem raises one `ConfigError` naming the file.
    """
    if isinstance(source, str) and source in PRESETS:
        return PRESETS[source]
    path = Path(source)
    if path.suffix.lower() not in _PARSERS:
        if path.exists():
            raise ConfigError(
                f"{path}: unsupported config file type (use {', '.join(sorted(_PARSERS))})"
            )
        # neither a preset nor a config file: report the names a user most likely meant
        return get_preset(str(source))
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    data = _read(path)
    return _build(data, path, base)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    try:
        data = _PARSERS[path.suffix.lower()](text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {_syntax_message(exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of fields, got {type(data).__name__}")
    return data


def _syntax_message(exc: Exception) -> str:
    """The parser's complaint with its (1-based) line number first."""
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}: invalid JSON: {exc.msg}"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        line = exc.problem_mark.line + 1
        return f"line {line}: invalid YAML: {exc.problem or exc.context}"
    if isinstance(exc, yaml.YAMLError):
        return f"invalid YAML: {exc}"
    # tomllib reports "<problem> (at line N, column M)"
    message = str(exc)
    where = _TOML_WHERE.search(message)
    if where:
        problem = message[: where.start()]
        return f"line {where.group(1)}: invalid TOML: {problem} (column {where.group(2)})"
    return f"invalid TOML: {message}"


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
