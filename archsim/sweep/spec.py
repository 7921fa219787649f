"""Sweep spec files (TOML or YAML): what to vary, over which workloads, keeping which metrics.

```toml
name = "buffers"
base = "ascend910"                 # a preset name or a config file (relative to the spec)
mode = "timing"                    # or "functional"
metrics = ["seconds", "cycles", "utilization.cube"]
constraints = ["l0a_bytes + l0b_bytes <= l1_bytes"]

[sampling]
method = "grid"                    # grid | list | random | lhs
samples = 32                       # random and lhs only
seed = 0

[parameters]
l1_bytes = [524288, 1048576]       # a list of values
hbm_bytes_per_s = { min = 6e11, max = 1.2e12, num = 3, log = true }  # a range

[[workloads]]
model = "resnet18"                 # zoo spec or .onnx path
batch = [1, 8]
train = false                      # or [false, true]

[compile]                          # CompileOptions fields, plus reuse (see reuse.py)
reuse = true
```

YAML files have the same structure. Every problem raises one `SpecError` naming the file, the
key and what is wrong.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from archsim.errors import InputError
from archsim.sweep.constraints import Constraint, ConstraintError, parse_constraint
from archsim.sweep.sampling import Method, Parameter, Sampling
from compiler.options import CompileOptions

SCALAR_METRICS = ("cycles", "seconds", "throughput_per_s", "flops", "hbm_bytes",
                  "roofline_seconds")
"""Numeric keys of `RunResult.to_json()` a sweep may keep (DESIGN.md, the --json keys)."""
UNITS = ("cube", "vector", "scalar", "mte1", "mte2", "mte3", "fixpipe",  # DaVinci
         "tensor", "fp32", "sfu", "lsu", "l2", "dram")  # GPU
"""Unit names of ``utilization.<unit>`` metrics (DESIGN.md); "utilization" keeps them all."""
DEFAULT_METRICS = (*SCALAR_METRICS, "utilization")
MODES = ("timing", "functional")
_TOP_KEYS = ("name", "description", "base", "mode", "metrics", "constraints", "sampling",
             "parameters", "workloads", "compile")
_RANGE_KEYS = ("values", "min", "max", "num", "log", "integer", "multiple_of")


class SpecError(InputError):
    """A sweep spec that cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class WorkloadSpec:
    """One workload of the sweep: a zoo spec or .onnx path, its batch sizes and train flags."""

    model: str
    batches: tuple[int, ...] = (1,)
    train: tuple[bool, ...] = (False,)


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep. ``base`` is the loaded hardware config every point varies."""

    name: str
    source: str
    text: str
    base_name: str
    base: Any
    mode: str
    parameters: tuple[Parameter, ...]
    sampling: Sampling
    constraints: tuple[Constraint, ...]
    workloads: tuple[WorkloadSpec, ...]
    metrics: tuple[str, ...]
    options: CompileOptions
    reuse: bool


def config_fields(config: Any) -> frozenset[str]:
    """The settable field names of a hardware config (pydantic model or dataclass)."""
    if dataclasses.is_dataclass(config):
        return frozenset(f.name for f in dataclasses.fields(config))
    return frozenset(type(config).model_fields)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate the spec file at ``path`` (``.toml``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such sweep spec")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise SpecError(f"{path}: a sweep spec is a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, Mapping):
        raise SpecError(f"{path}: the spec must be a table of keys")
    return parse_spec(data, path, text)


def parse_spec(data: Mapping[str, Any], path: Path, text: str = "") -> SweepSpec:
    """Validate the decoded spec ``data`` read from ``path`` (relative paths resolve there)."""
    return _Parser(path).parse(data, text)


class _Parser:
    """Validation with error messages of the form ``FILE: key: problem``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> SpecError:
        return SpecError(f"{self.path}: {key}: {problem}")

    def parse(self, data: Mapping[str, Any], text: str) -> SweepSpec:
        unknown = sorted(set(data) - set(_TOP_KEYS))
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known: {', '.join(_TOP_KEYS)})")
        base_name = self.string(data, "base", "ascend910")
        base = self.base(base_name)
        fields = config_fields(base) - {"name"}
        mode = self.string(data, "mode", "timing")
        if mode not in MODES:
            raise self.fail("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
        parameters = self.parameters(data.get("parameters", {}), fields)
        sampling = self.sampling(data.get("sampling", {}), parameters)
        options, reuse = self.compile(data.get("compile", {}))
        return SweepSpec(
            name=self.string(data, "name", self.path.stem), source=str(self.path), text=text,
            base_name=base_name, base=base, mode=mode, parameters=parameters,
            sampling=sampling, constraints=self.constraints(data.get("constraints", []),
                                                            fields | {"name"}),
            workloads=self.workloads(data.get("workloads")),
            metrics=self.metrics(data.get("metrics", list(DEFAULT_METRICS))),
            options=options, reuse=reuse)

    def string(self, data: Mapping[str, Any], key: str, default: str) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def base(self, name: str) -> Any:
        from hw import load_hw
        from hw.errors import HwError

        source: str | Path = name
        candidate = self.path.parent / name
        if Path(name).suffix and candidate.is_file():
            source = candidate
        try:
            return load_hw(source)
        except HwError as exc:
            raise self.fail("base", str(exc)) from None

    def parameters(self, table: Any, fields: frozenset[str]) -> tuple[Parameter, ...]:
        if not isinstance(table, Mapping):
            raise self.fail("parameters", "must be a table of field = values")
        out = []
        for name, value in table.items():
            key = f"parameters.{name}"
            if name not in fields:
                raise self.fail(key, "not a field of the base config (known: "
                                     f"{', '.join(sorted(fields))})")
            out.append(self.parameter(key, name, value))
        return tuple(out)

    def parameter(self, key: str, name: str, value: Any) -> Parameter:
        if isinstance(value, list):
            value = {"values": value}
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a list of values or a table with min/max")
        unknown = sorted(set(value) - set(_RANGE_KEYS))
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(_RANGE_KEYS)})")
        if "values" in value:
            values = value["values"]
            if not isinstance(values, list) or not values:
                raise self.fail(f"{key}.values", "must be a non-empty list")
            extra = sorted(set(value) - {"values"})
            if extra:
                raise self.fail(f"{key}.{extra[0]}", "cannot be combined with values")
            return Parameter(name, values=tuple(_freeze(v) for v in values))
        low, high = self.number(value, key, "min"), self.number(value, key, "max")
        if not low <= high:
            raise self.fail(key, f"min {low} is larger than max {high}")
        log = self.flag(value, key, "log")
        if log and low <= 0:
            raise self.fail(f"{key}.min", "must be > 0 for a log range")
        num = value.get("num")
        if num is not None and (not isinstance(num, int) or isinstance(num, bool) or num < 1):
            raise self.fail(f"{key}.num", f"must be a positive integer, got {num!r}")
        multiple = value.get("multiple_of", 1)
        if not isinstance(multiple, int) or isinstance(multiple, bool) or multiple < 1:
            raise self.fail(f"{key}.multiple_of", f"must be a positive integer, got {multiple!r}")
        integer = self.flag(value, key, "integer") or "multiple_of" in value
        if integer and (-(-int(low) // multiple) * multiple) > high:
            raise self.fail(key, f"no multiple of {multiple} lies in [{low}, {high}]")
        return Parameter(name, low=low, high=high, num=num, log=log, integer=integer,
                         multiple_of=multiple)

    def number(self, table: Mapping[str, Any], key: str, name: str) -> float:
        value = table.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = ""
            if isinstance(value, str) and _is_float(value):
                # YAML 1.1 (PyYAML) reads 1e9 as text; it needs a dot and a signed exponent
                hint = " (in YAML write exponents like 1.0e+9)"
            raise self.fail(f"{key}.{name}", f"must be a number, got {value!r}{hint}")
        return float(value)

    def flag(self, table: Mapping[str, Any], key: str, name: str) -> bool:
        value = table.get(name, False)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, got {value!r}")
        return value

    def sampling(self, table: Any, parameters: tuple[Parameter, ...]) -> Sampling:
        if not isinstance(table, Mapping):
            raise self.fail("sampling", "must be a table with method, samples, seed")
        unknown = sorted(set(table) - {"method", "samples", "seed"})
        if unknown:
            raise self.fail(f"sampling.{unknown[0]}", "unknown key (known: method, samples, seed)")
        text = table.get("method", "grid")
        try:
            method = Method(text)
        except ValueError:
            raise self.fail("sampling.method", f"must be one of "
                            f"{', '.join(m.value for m in Method)}, got {text!r}") from None
        seed, samples = table.get("seed", 0), table.get("samples")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise self.fail("sampling.seed", f"must be a non-negative integer, got {seed!r}")
        if method in (Method.RANDOM, Method.LHS):
            if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
                raise self.fail("sampling.samples", f"{method.value} sampling needs a positive "
                                f"integer number of samples, got {samples!r}")
        elif samples is not None:
            raise self.fail("sampling.samples", f"only random and lhs sampling take samples "
                            f"(method is {method.value})")
        for p in parameters:
            key = f"parameters.{p.name}"
            if method is Method.GRID and p.is_range and p.num is None:
                raise self.fail(f"{key}.num", "a range on a grid needs num (how many values)")
            if method is Method.LIST and p.is_range:
                raise self.fail(key, "list sampling needs a list of values, not a range")
        if method is Method.LIST:
            lengths = {p.name: len(p.values or ()) for p in parameters}
            if len(set(lengths.values())) > 1:
                raise self.fail("parameters", f"list sampling needs lists of equal length, "
                                f"got {lengths}")
        return Sampling(method, samples, seed)

    def constraints(self, items: Any, fields: frozenset[str]) -> tuple[Constraint, ...]:
        if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
            raise self.fail("constraints", "must be a list of expression strings")
        out = []
        for i, text in enumerate(items):
            try:
                out.append(parse_constraint(text, fields))
            except ConstraintError as exc:
                raise self.fail(f"constraints[{i}]", str(exc)) from None
        return tuple(out)

    def workloads(self, items: Any) -> tuple[WorkloadSpec, ...]:
        if not isinstance(items, list) or not items:
            raise self.fail("workloads", "needs at least one [[workloads]] entry with a model")
        return tuple(self.workload(f"workloads[{i}]", item) for i, item in enumerate(items))

    def workload(self, key: str, item: Any) -> WorkloadSpec:
        if isinstance(item, str):
            item = {"model": item}
        if not isinstance(item, Mapping):
            raise self.fail(key, "must be a model name or a table with model, batch, train")
        unknown = sorted(set(item) - {"model", "batch", "train"})
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", "unknown key (known: model, batch, train)")
        model = item.get("model")
        if not isinstance(model, str) or not model.strip():
            raise self.fail(f"{key}.model", f"must be a zoo spec or .onnx path, got {model!r}")
        model = self.model(f"{key}.model", model)
        batches = item.get("batch", 1)
        batches = batches if isinstance(batches, list) else [batches]
        if not batches or any(not isinstance(b, int) or isinstance(b, bool) or b < 1
                              for b in batches):
            raise self.fail(f"{key}.batch", f"must be positive integers, got {item['batch']!r}")
        train = item.get("train", False)
        train = train if isinstance(train, list) else [train]
        if not train or any(not isinstance(t, bool) for t in train):
            raise self.fail(f"{key}.train", f"must be true/false or a list of them, "
                            f"got {item['train']!r}")
        return WorkloadSpec(model, tuple(dict.fromkeys(batches)), tuple(dict.fromkeys(train)))

    def model(self, key: str, model: str) -> str:
        if model.endswith(".onnx"):
            path = Path(model) if Path(model).is_absolute() else self.path.parent / model
            if not path.is_file():
                raise self.fail(key, f"no such ONNX file: {path}")
            return str(path)
        from framework.errors import FrameworkError
        from workloads import WORKLOADS, parse_spec

        try:
            parse_spec(model, WORKLOADS)
        except FrameworkError as exc:
            raise self.fail(key, str(exc)) from None
        return model

    def metrics(self, items: Any) -> tuple[str, ...]:
        if not isinstance(items, list) or not items or not all(isinstance(m, str) for m in items):
            raise self.fail("metrics", "must be a non-empty list of metric names")
        known = (*SCALAR_METRICS, "utilization", *(f"utilization.{u}" for u in UNITS))
        for name in items:
            if name not in known:
                raise self.fail("metrics", f"unknown metric {name!r} (known: {', '.join(known)})")
        return tuple(dict.fromkeys(items))

    def compile(self, table: Any) -> tuple[CompileOptions, bool]:
        if not isinstance(table, Mapping):
            raise self.fail("compile", "must be a table of compile options")
        table = dict(table)
        reuse = table.pop("reuse", True)
        if not isinstance(reuse, bool):
            raise self.fail("compile.reuse", f"must be true or false, got {reuse!r}")
        known = {f.name for f in dataclasses.fields(CompileOptions)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise self.fail(f"compile.{unknown[0]}",
                            f"unknown compile option (known: reuse, {', '.join(sorted(known))})")
        from compiler.errors import CompileError

        try:
            return CompileOptions(**table), reuse
        except (CompileError, TypeError) as exc:
            raise self.fail("compile", str(exc)) from None


def _freeze(value: Any) -> Any:
    """Lists in parameter values (e.g. cube_dtypes) become tuples so points are hashable."""
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
