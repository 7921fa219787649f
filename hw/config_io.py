"""Config-file plumbing shared by the chip models: reading a TOML / YAML / JSON table of fields
and turning pydantic's validation errors into one `ConfigError`.

Every problem becomes one ConfigError whose message names the file (and the line, for a syntax
error) or the field: ``gpu.toml: line 3: invalid TOML: ...``, ``sms: 0 must be a positive
integer``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hw.errors import ConfigError

PARSERS: Mapping[str, Callable[[str], Any]] = {
    ".toml": tomllib.loads,
    ".yaml": yaml.safe_load,
    ".yml": yaml.safe_load,
    ".json": json.loads,
}
"""Config file suffix (lower case) -> the parser of its text."""

_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_MAX_ECHO_CHARS = 80


def read_config_file(path: Path) -> dict[str, Any]:
    """The table of fields in a .toml/.yaml/.yml/.json file (an empty file is an empty table);
    an unreadable file, a syntax error or a non-table document raises ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    try:
        data = PARSERS[path.suffix.lower()](text)
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


def _location(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _clean(message: str) -> str:
    # pydantic prefixes messages raised from validators with "Value error, ".
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def format_validation_error(exc: ValidationError, source: str | None = None) -> ConfigError:
    """One ConfigError with one line per failing field, field name (and file) first."""
    lines = []
    for error in exc.errors():
        where = _location(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            line = f"{where}: unknown field"
        elif kind == "missing":
            line = f"{where}: missing (required)"
        elif where:
            value = repr(error["input"])
            # a whole table (vector_costs) is too long to echo; the message names the culprit
            shown = f"{value} " if len(value) <= _MAX_ECHO_CHARS else ""
            line = f"{where}: {shown}{_clean(error['msg'])}"
        else:
            # model-level checks already format "<field>: <value> <problem>" lines themselves
            line = _clean(error["msg"])
        lines.extend(line.splitlines())
    if source:
        lines = [f"{source}: {line}" for line in lines]
    return ConfigError("\n".join(lines))


__all__ = ["PARSERS", "format_validation_error", "read_config_file"]
