"""Chrome trace-event JSON (the "JSON Object Format" of the Trace Event Format document, read by
Perfetto and chrome://tracing) from a RunResult recorded with ``trace``.

Layout: process 0 holds the kernels (one slice per launch overhead and per kernel, with its
layer, op and FLOPs); every core (DaVinci) or SM (GPU) is a process with one thread per pipe
(or per sub-core and pipe; instructions that overlap on one pipe, as pipelined warps do,
spread over numbered extra lanes of it), each instruction a complete event named by its
mnemonic with its layer, bytes and source line (the kernel's slice carries its origin nodes).
Kernels run one after another, so each kernel's events are shifted by the time of the kernels
before it. Time stamps are microseconds.

A flag wait is a "flag wait" slice on the waiting pipe from when the wait began to when the
flag arrived, and a flow arrow from the ``set_flag`` that released it. The engine does not
record flag ids with events, so the source is inferred: the latest ``set_flag`` on another pipe
of the same core and unit that ended by the release and is not yet paired with a wait (sets
and waits pair one to one). ``otherData`` says so.

Large runs: at most ``max_events`` instruction events are written. Kernels get full detail in
order of their time, longest first, while the budget lasts; each remaining kernel is drawn as
one "aggregated" slice per track spanning its first to last instruction with the count and
busy cycles in its args. ``otherData`` names the aggregated kernels and any events the engine
itself dropped (``KernelRun.events_dropped``).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from hw.davinci.stats import TimelineEvent
from hw.results import KernelRecord, RunResult

DEFAULT_MAX_EVENTS = 100_000
_FLOW_ORDER = ("S", "MTE2", "MTE1", "M", "FIX", "V", "MTE3")  # the way data flows on DaVinci
_KERNEL_PID = 0


def _track_name(event: TimelineEvent) -> str:
    return event.pipe if event.unit in ("core", "") else f"{event.unit} {event.pipe}"


def _track_key(name: str) -> tuple[str, int, str, int]:
    base, lane = name, 1
    found = re.fullmatch(r"(.*) \((\d+)\)", name)
    if found:
        base, lane = found.group(1), int(found.group(2))
    unit, _, pipe = base.rpartition(" ")
    order = _FLOW_ORDER.index(pipe) if pipe in _FLOW_ORDER else len(_FLOW_ORDER)
    return unit, order, pipe, lane


class _Writer:
    """Accumulates trace events; tracks get ids on first use."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.tracks: dict[tuple[int, str], int] = {}
        self.flow_id = 0

    def tid(self, pid: int, name: str) -> int:
        key = (pid, name)
        if key not in self.tracks:
            self.tracks[key] = len([k for k in self.tracks if k[0] == pid]) + 1
        return self.tracks[key]

    def slice(self, pid: int, track: str, name: str, ts: float, dur: float, cat: str,
              args: dict[str, Any]) -> None:
        self.events.append({"ph": "X", "pid": pid, "tid": self.tid(pid, track), "name": name,
                            "cat": cat, "ts": ts, "dur": max(dur, 0.0), "args": args})

    def flow(self, src: tuple[int, str, float], dst: tuple[int, str, float]) -> None:
        self.flow_id += 1
        common = {"name": "flag", "cat": "flag", "id": self.flow_id}
        self.events.append({"ph": "s", "pid": src[0], "tid": self.tid(src[0], src[1]),
                            "ts": src[2], **common})
        self.events.append({"ph": "f", "bp": "e", "pid": dst[0], "tid": self.tid(dst[0], dst[1]),
                            "ts": dst[2], **common})

    def metadata(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"ph": "M", "pid": _KERNEL_PID, "tid": 0, "name": "process_name",
             "args": {"name": "kernels"}},
            {"ph": "M", "pid": _KERNEL_PID, "tid": 0, "name": "process_sort_index",
             "args": {"sort_index": -1}},
        ]
        for pid in sorted({pid for pid, _ in self.tracks} - {_KERNEL_PID}):
            out.append({"ph": "M", "pid": pid, "tid": 0, "name": "process_name",
                        "args": {"name": f"core {pid - 1}"}})
            out.append({"ph": "M", "pid": pid, "tid": 0, "name": "process_sort_index",
                        "args": {"sort_index": pid}})
        for (pid, name), tid in self.tracks.items():
            names = sorted((n for p, n in self.tracks if p == pid), key=_track_key)
            out.append({"ph": "M", "pid": pid, "tid": tid, "name": "thread_name",
                        "args": {"name": name}})
            out.append({"ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index",
                        "args": {"sort_index": names.index(name)}})
        return out


def _lane(lanes: list[int], start: int, end: int) -> int:
    """The first lane free by ``start`` (a new one if none), now busy until ``end``."""
    for i, free_at in enumerate(lanes):
        if free_at <= start:
            lanes[i] = end
            return i
    lanes.append(end)
    return len(lanes) - 1


def _detail(w: _Writer, k: KernelRecord, t0_us: float, us_per_cycle: float) -> None:
    pending_sets: dict[tuple[int, str], list[tuple[int, str, float, str]]] = defaultdict(list)
    lanes: dict[tuple[int, str], list[int]] = defaultdict(list)
    for e in sorted(k.run.events, key=lambda e: (e.start, e.end)):
        pid, track = e.core + 1, _track_name(e)
        # Overlapping instructions of one pipe (pipelined GPU warps) go on extra lanes so that
        # slices on a thread nest, as the format requires; DaVinci pipes never need one.
        begin = e.flag_wait_from if e.flag_wait_from is not None else e.start
        lane = _lane(lanes[(pid, track)], begin, e.end)
        track = track if lane == 0 else f"{track} ({lane + 1})"
        ts = t0_us + e.start * us_per_cycle
        w.slice(pid, track, e.name, ts, (e.end - e.start) * us_per_cycle, e.pipe,
                {"layer": k.layer, "bytes": e.nbytes, "line": e.line})
        if e.name == "set_flag":
            pending_sets[(e.core, e.unit)].append((e.end, e.pipe, ts, track))
        if e.flag_wait_from is not None:
            start = t0_us + e.flag_wait_from * us_per_cycle
            w.slice(pid, track, "flag wait", start, ts - start, "stall",
                    {"layer": k.layer, "cycles": e.start - e.flag_wait_from, "line": e.line})
            sets = pending_sets[(e.core, e.unit)]
            source = max((s for s in sets if s[0] <= e.start and s[1] != e.pipe),
                         default=None, key=lambda s: s[0])
            if source is not None:
                sets.remove(source)
                w.flow((pid, source[3], source[2]), (pid, track, ts))


def _aggregate(w: _Writer, k: KernelRecord, t0_us: float, us_per_cycle: float) -> None:
    spans: dict[tuple[int, str], list[int]] = {}
    for e in k.run.events:
        span = spans.setdefault((e.core + 1, _track_name(e)), [e.start, e.end, 0, 0])
        span[0], span[1] = min(span[0], e.start), max(span[1], e.end)
        span[2] += 1
        span[3] += e.end - e.start
    for (pid, track), (start, end, count, busy) in sorted(spans.items()):
        w.slice(pid, track, f"{k.name} (aggregated)", t0_us + start * us_per_cycle,
                (end - start) * us_per_cycle, "aggregated",
                {"kernel": k.name, "layer": k.layer, "instructions": count,
                 "busy_cycles": busy})


def trace_events(result: RunResult, max_events: int = DEFAULT_MAX_EVENTS) -> dict[str, Any]:
    """The trace as a JSON-ready dict (see the module docstring)."""
    w = _Writer()
    budget = max_events
    detailed: set[int] = set()  # kernel indices
    for i in sorted(range(len(result.kernels)), key=lambda i: -result.kernels[i].seconds):
        events = len(result.kernels[i].run.events)
        if events and events <= budget:
            detailed.add(i)
            budget -= events
    aggregated: list[str] = []
    t0_us = 0.0
    for i, k in enumerate(result.kernels):
        us_per_cycle = 1e6 / k.run.freq_hz
        launch_us = k.run.launch_cycles * us_per_cycle
        w.slice(_KERNEL_PID, "launches", "launch overhead", t0_us, launch_us, "launch",
                {"kernel": k.name})
        body = t0_us + launch_us
        w.slice(_KERNEL_PID, "launches", k.name, body, k.run.cycles * us_per_cycle, "kernel",
                {"layer": k.layer, "op": k.op, "origin": ", ".join(k.origin),
                 "flops": k.flops, "cycles": k.run.cycles, "cores": k.run.cores})
        if i in detailed:
            _detail(w, k, body, us_per_cycle)
        elif k.run.events:
            aggregated.append(k.name)
            _aggregate(w, k, body, us_per_cycle)
        t0_us = body + k.run.cycles * us_per_cycle
    recorded = any(k.run.events for k in result.kernels)
    other = {
        "model": result.model, "hw": result.hw, "batch": result.batch, "mode": result.mode,
        "cycles": result.cycles, "seconds": result.seconds, "kernels": len(result.kernels),
        "time_unit": "microseconds; kernels run back to back, each after its launch overhead",
        "max_events": max_events,
        "detailed_kernels": len(detailed), "aggregated_kernels": aggregated,
        "events_dropped_by_engine": sum(k.run.events_dropped for k in result.kernels),
        "flag_flows": "inferred: each flag wait links to the latest unpaired set_flag on "
                      "another pipe of the same core that ended by the release",
    }
    if not recorded:
        other["note"] = "the run recorded no timeline events (run with trace enabled)"
    elif aggregated:
        other["note"] = (f"{len(aggregated)} kernels aggregated to one slice per track to stay "
                         f"within {max_events} instruction events")
    return {"traceEvents": w.metadata() + w.events, "displayTimeUnit": "ns",
            "otherData": other}


def write_trace(path: str | Path, result: RunResult,
                max_events: int = DEFAULT_MAX_EVENTS) -> Path:
    """Write the trace of ``result`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(trace_events(result, max_events), separators=(",", ":")))
    return path
