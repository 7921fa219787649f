"""Running one design point, in whatever process or thread a scheduler gives it.

`evaluate_point` never raises for a problem of the point itself: a compile or simulation error
becomes an ``error`` outcome carrying the exception's type and message, so the sweep records it
and goes on. Graphs and compiled programs are memoised per process (bounded LRUs) so points
of one compile group (see reuse.py) that land on the same worker compile
once; every compilation gets a fresh id, so a sweep can count how many it made.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from archsim.sweep.points import Point


@dataclass(frozen=True)
class Outcome:
    """What one point produced: its metrics, or the error that stopped it."""

    key: str
    status: str  # "ok" or "error"
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str = ""
    notes: str = ""
    compile_id: str = ""  # one id per compilation: points sharing it shared the program
    compile_s: float = 0.0  # how long that program took to compile (once, wherever it was)
    run_s: float = 0.0  # simulation (and graph building) time of this point
    cpu_s: float = 0.0  # CPU time of this thread for the point (compile included if it compiled)
    worker: str = ""


def evaluate_point(point: Point) -> Outcome:
    """Compile (or reuse) and simulate ``point``; see the module docstring."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    compile_id, compile_s = "", 0.0
    cpu_start = time.thread_time()  # the thread's CPU: meaningful beside other load, Dask threads
    start = time.perf_counter()
    try:
        exe, compile_id, compile_s = _programs().get(point)
        start = time.perf_counter()
        from archsim.simulate import run_executable

        graph = _graph(point.workload, point.batch, point.train)[1]
        result = run_executable(exe, point.config, point.mode, model=point.workload,
                                batch=point.batch, graph=graph)
        metrics = select_metrics(result.to_json(), point.metrics)
    except Exception as exc:  # noqa: BLE001 - any failure of a point is recorded, not raised
        return Outcome(point.key, "error", error=f"{type(exc).__name__}: {exc}",
                       notes=point.note, compile_id=compile_id, compile_s=compile_s,
                       run_s=time.perf_counter() - start,
                       cpu_s=time.thread_time() - cpu_start, worker=worker)
    metrics["sram_bytes"] = float(point.sram_bytes)
    return Outcome(point.key, "ok", metrics, notes=point.note, compile_id=compile_id,
                   compile_s=compile_s, run_s=time.perf_counter() - start,
                   cpu_s=time.thread_time() - cpu_start,
                   worker=worker)


def select_metrics(result: dict[str, Any], names: tuple[str, ...]) -> dict[str, float | None]:
    """The requested metrics from a `RunResult.to_json()` dict; ``utilization`` expands to
    ``utilization.<unit>`` for every unit the target reports; absent units are None."""
    units = result.get("utilization", {})
    out: dict[str, float | None] = {}
    for name in names:
        if name == "utilization":
            out.update({f"utilization.{u}": float(v) for u, v in units.items()})
        elif name.startswith("utilization."):
            value = units.get(name.partition(".")[2])
            out[name] = None if value is None else float(value)
        else:
            out[name] = float(result[name])
    return out


@functools.lru_cache(maxsize=8)
def _graph(workload: str, batch: int, train: bool) -> tuple[str, Any]:
    from archsim.simulate import load_model

    name, graph = load_model(workload, batch)
    if train:
        from framework import train_step

        graph = train_step(graph, loss="mse")
    return name, graph


class _ProgramCache:
    """A bounded, thread-safe LRU of compiled programs keyed by compile group (points.py).

    Keyed by the group digest rather than the config object because not every config type is
    hashable (the GPU config holds dicts). One per process (`_programs`); Dask may run several
    threads in one worker process, hence the lock. A program compiled twice by racing threads
    is merely wasted work: both copies are identical.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[Any, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, point: Point) -> tuple[Any, str, float]:
        """(executable, compilation id, compile seconds) for ``point``'s compile group."""
        key = point.compile_group
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        from archsim.simulate import compile_model

        graph = _graph(point.workload, point.batch, point.train)[1]
        start = time.perf_counter()
        exe = compile_model(graph, point.target, point.options)
        item = (exe, uuid.uuid4().hex, time.perf_counter() - start)
        with self._lock:
            self._items[key] = item
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item


@functools.cache
def _programs() -> _ProgramCache:
    """This process's program cache (a full-size ResNet-18 program is tens of MB: keep 4)."""
    return _ProgramCache(4)
