"""Design points: a spec expanded into configs x workloads, each with its durable key.

A point's key is the SHA-256 of everything its numbers depend on (the full config, the config
its program is compiled for, the workload with its batch and train flag, the ONNX file's bytes
if any, the simulation mode, the compile options and the archsim version), so the same point in
any spec, any order and any database row is recognised and never simulated twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsim import __version__
from archsim.sweep.reuse import compile_config
from archsim.sweep.sampling import sample
from archsim.sweep.spec import SweepSpec
from compiler.options import CompileOptions


@dataclass(frozen=True)
class Point:
    """One simulation to run. ``params`` holds only the swept values (for tables and plots);
    ``config`` is the full config it runs on, ``target`` the config it is compiled for."""

    index: int
    key: str
    workload: str
    batch: int
    train: bool
    params: dict[str, Any]
    config: Any
    target: Any
    note: str
    mode: str
    options: CompileOptions
    metrics: tuple[str, ...]
    sram_bytes: int

    @property
    def compile_group(self) -> str:
        """Points with the same group can share one compiled program."""
        return _digest([self.workload, self.batch, self.train, _config_json(self.target),
                        dataclasses.asdict(self.options)])


@dataclass(frozen=True)
class Expansion:
    """The expanded sweep: runnable points, how many assignments the constraints excluded,
    and the assignments whose config is invalid (with the config error)."""

    points: tuple[Point, ...]
    excluded: int
    invalid: tuple[tuple[dict[str, Any], str], ...]


def expand(spec: SweepSpec) -> Expansion:
    """Every point of ``spec`` in a deterministic order (assignments outer, workloads inner)."""
    from hw.errors import HwError

    points: list[Point] = []
    excluded = 0
    invalid: list[tuple[dict[str, Any], str]] = []
    for assignment in sample(spec.parameters, spec.sampling):
        values = {**_fields(spec.base), **assignment}
        if not all(c.holds(values) for c in spec.constraints):
            excluded += 1
            continue
        try:
            config = spec.base.replace(**assignment) if assignment else spec.base
        except (HwError, ValueError) as exc:
            invalid.append((assignment, str(exc)))
            continue
        target, note = compile_config(config, spec.base, spec.reuse)
        params = {k: _plain(getattr(config, k)) for k in assignment}
        for workload in spec.workloads:
            for batch in workload.batches:
                for train in workload.train:
                    key = point_key(config, target, workload.model, batch, train, spec)
                    points.append(Point(len(points), key, workload.model, batch, train, params,
                                        config, target, note, spec.mode, spec.options,
                                        spec.metrics, onchip_sram_bytes(config)))
    return Expansion(tuple(points), excluded, tuple(invalid))


def point_key(config: Any, target: Any, workload: str, batch: int, train: bool,
              spec: SweepSpec) -> str:
    """The durable key of one point (see the module docstring)."""
    model = workload
    if workload.endswith(".onnx"):
        model = hashlib.sha256(Path(workload).read_bytes()).hexdigest()
    return _digest({
        "config": _config_json(config), "target": _config_json(target), "workload": model,
        "batch": batch, "train": train, "mode": spec.mode,
        "options": dataclasses.asdict(spec.options), "reuse": spec.reuse,
        "version": __version__,
    })


def onchip_sram_bytes(config: Any) -> int:
    """Total on-chip SRAM of a chip, the usual area/energy-free cost proxy for Pareto plots:
    per-core buffers x cores plus the shared L2 (DaVinci: L1, L0A/B/C, UB, BT, FB; GPU: the
    unified L1/shared array per SM)."""
    per_core_fields = ("l1_bytes", "l0a_bytes", "l0b_bytes", "l0c_bytes", "ub_bytes",
                       "bt_bytes", "fb_bytes", "unified_l1_shared_bytes")
    values = _fields(config)  # fields only: a GPU config's l1_bytes is a method
    per_core = sum(int(values.get(f) or 0) for f in per_core_fields)
    units = int(values.get("cores") or values.get("sms") or 1)
    return per_core * units + int(values.get("l2_bytes") or 0)


def _fields(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    return {name: getattr(config, name) for name in type(config).model_fields}


def _config_json(config: Any) -> Any:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return json.loads(json.dumps(dataclasses.asdict(config), default=str))
    return config.model_dump(mode="json")


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a config value (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
