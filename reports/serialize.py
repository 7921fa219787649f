"""``result.json``: a RunResult (every kernel record and its counters) with the chip's roofs,
written and read back losslessly, so ``archsim report result.json`` re-renders a report
without re-running anything.

The top level holds the keys of ``archsim run --json`` (``RunResult.to_json()``) for people and
scripts, then ``format``, ``ceilings`` and ``records`` (the full per-kernel data). Timeline
events and functional-mode output tensors are not saved (``--trace`` writes the timeline).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hw.davinci.stats import KernelRun, PipeStats
from hw.errors import HwError
from hw.results import KernelRecord, RunResult
from reports.ceilings import Ceilings, ceilings_from_result

FORMAT = "archsim.result/1"
_SKIPPED = ("events", "outputs")  # not saved: see the module docstring


class ResultFileError(HwError):
    """A result file that cannot be read: not JSON, not a saved result, or a missing key."""


@dataclass(frozen=True)
class SavedResult:
    """A RunResult read back from ``result.json`` with the roofs it was saved with."""

    result: RunResult
    ceilings: Ceilings


def _run_kinds() -> dict[str, type[KernelRun]]:
    from hw.simt.stats import GpuKernelRun

    return {"davinci": KernelRun, "simt": GpuKernelRun}


def _kind_of(run: KernelRun) -> str:
    for kind, cls in _run_kinds().items():
        if type(run) is cls:
            return kind
    raise TypeError(f"cannot save a {type(run).__name__}")


def _is_mapping(annotation: Any) -> bool:
    return "Mapping" in str(annotation)


def run_to_json(run: KernelRun) -> dict[str, Any]:
    """Every field of a kernel run except its events and output tensors."""
    out: dict[str, Any] = {"kind": _kind_of(run)}
    for f in fields(run):
        if f.name in _SKIPPED:
            continue
        value = getattr(run, f.name)
        if f.name == "pipes":
            value = {name: {s.name: getattr(stats, s.name) for s in fields(PipeStats)}
                     for name, stats in value.items()}
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out


def run_from_json(data: Mapping[str, Any]) -> KernelRun:
    """The inverse of `run_to_json` (events and outputs come back empty)."""
    cls = _run_kinds().get(data.get("kind", ""))
    if cls is None:
        raise ResultFileError(f"kernel run: unknown kind {data.get('kind')!r}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in _SKIPPED or f.name not in data:
            continue
        value = data[f.name]
        if f.name == "pipes":
            value = {name: PipeStats(**stats) for name, stats in value.items()}
        if _is_mapping(f.type) and value is not None:
            value = MappingProxyType(dict(value))
        values[f.name] = value
    return cls(**values)


def result_to_json(result: RunResult, ceilings: Ceilings) -> dict[str, Any]:
    """``result.json``'s content (see the module docstring)."""
    out = dict(result.to_json())
    out.update({
        "format": FORMAT, "freq_hz": result.freq_hz, "peak_flops": result.peak_flops,
        "hbm_bytes_per_s": result.hbm_bytes_per_s, "ceilings": ceilings.to_json(),
        "records": [{
            "name": k.name, "layer": k.layer, "op": k.op, "origin": list(k.origin),
            "flops": k.flops, "min_bytes": k.min_bytes, "roofline_seconds": k.roofline_seconds,
            "run": run_to_json(k.run)} for k in result.kernels],
    })
    return out


def result_from_json(data: Mapping[str, Any]) -> SavedResult:
    """The inverse of `result_to_json`."""
    if data.get("format") != FORMAT:
        raise ResultFileError(f"not a saved archsim result (format {data.get('format')!r}, "
                              f"expected {FORMAT!r})")
    try:
        kernels = tuple(
            KernelRecord(r["name"], r["layer"], r["op"], tuple(r["origin"]), int(r["flops"]),
                         int(r["min_bytes"]), float(r["roofline_seconds"]),
                         run_from_json(r["run"]))
            for r in data["records"])
        result = RunResult(
            model=data["model"], hw=data["hw"], batch=int(data["batch"]), mode=data["mode"],
            freq_hz=float(data["freq_hz"]), peak_flops=float(data["peak_flops"]),
            hbm_bytes_per_s=float(data["hbm_bytes_per_s"]), kernels=kernels,
            notes=MappingProxyType(dict(data.get("notes", {}))))
        ceilings = Ceilings.from_json(data["ceilings"]) if "ceilings" in data else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultFileError(f"saved result: bad or missing field ({exc})") from None
    return SavedResult(result, ceilings or default_ceilings(result))


def default_ceilings(result: RunResult) -> Ceilings:
    """The roofs of a result's chip: from its preset when ``result.hw`` names one, else the
    peak and off-chip bandwidth the result itself carries."""
    from hw import load_hw
    from reports.ceilings import ceilings_for

    try:
        return ceilings_for(load_hw(result.hw))
    except (HwError, TypeError, OSError):
        level = "dram" if any("dram" in k.run.bytes_read for k in result.kernels) else "hbm"
        return ceilings_from_result(result.hw, result.peak_flops, result.hbm_bytes_per_s, level)


def save_result(path: str | Path, result: RunResult, ceilings: Ceilings) -> Path:
    """Write ``result.json`` to ``path``."""
    path = Path(path)
    path.write_text(json.dumps(result_to_json(result, ceilings), indent=1) + "\n")
    return path


def load_result(path: str | Path) -> SavedResult:
    """Read a ``result.json`` written by `save_result`."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ResultFileError(f"{path}: not a saved archsim result")
    try:
        return result_from_json(data)
    except ResultFileError as exc:
        raise ResultFileError(f"{path}: {exc}") from None
