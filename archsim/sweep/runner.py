"""Running a sweep: local worker processes, a Dask cluster, or inline, with durable results.

The runner expands the spec, asks the store which points are already finished (resume) and
dispatches the rest one point per task, keeping at most one task per worker slot in flight.
Keeping exactly as many tasks as slots means the slot that just finished is the one that takes
the next task, so the runner hands it the next point of the same compile group (reuse.py) and
the worker's memoised program is reused instead of compiled again. Each finished point is
recorded (and committed) by the calling process the moment its result arrives.

Stopping: `Controls.stop` (the first Ctrl-C or SIGTERM) submits nothing more, cancels queued
tasks and waits for the running ones, recording them; `Controls.abandon` (the second) stops
at once and terminates local workers. Either way every finished point is already in the store,
and running the sweep again resumes where it stopped. With ``--scheduler`` the same loop runs
over a ``dask.distributed`` client's executor; Dask places tasks itself, so compile reuse there
is only as good as its placement.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archsim.errors import InputError
from archsim.sweep.points import Expansion, Point, expand
from archsim.sweep.spec import SweepSpec
from archsim.sweep.store import SweepStore
from archsim.sweep.worker import Outcome, evaluate_point


class SweepError(RuntimeError):
    """The sweep could not go on (a worker process died); finished points are saved."""


@dataclass
class Controls:
    """Stop requests from outside the loop (signal handlers, a UI): the first `request` asks
    for a graceful stop, the second abandons running points."""

    stop: threading.Event = field(default_factory=threading.Event)
    abandon: threading.Event = field(default_factory=threading.Event)

    def request(self) -> None:
        """Escalate: first call stops gracefully, later calls abandon."""
        (self.abandon if self.stop.is_set() else self.stop).set()


@dataclass(frozen=True)
class SweepSummary:
    """What a run of `run_sweep` did."""

    name: str
    total: int  # runnable points in the spec
    skipped: int  # already in the store when this run started
    ran: int  # recorded by this run
    failed: int  # of `ran`, how many recorded an error
    excluded: int  # assignments removed by constraints
    invalid: tuple[tuple[dict[str, Any], str], ...]  # assignments with an invalid config
    compilations: int  # distinct programs compiled by this run
    interrupted: bool
    wall_s: float

    @property
    def complete(self) -> bool:
        """Whether every point of the sweep is now in the store."""
        return self.skipped + self.ran == self.total


StartFn = Callable[[int, int], None]  # (points to run now, points in the sweep)
PointFn = Callable[[Point, Outcome], None]


def run_sweep(spec: SweepSpec, db: str | Path, workers: int | None = None,
              scheduler: str | None = None, retry_failed: bool = False,
              controls: Controls | None = None, on_start: StartFn | None = None,
              on_point: PointFn | None = None, connect_timeout_s: float = 10.0
              ) -> SweepSummary:
    """Run every unfinished point of ``spec`` and record it in the SQLite file ``db``.

    ``workers``: local worker processes (default: CPU count; 0 runs inline in this process).
    ``scheduler``: a Dask scheduler address (``tcp://host:port``); overrides ``workers``.
    ``retry_failed``: run again the points that recorded an error.
    ``connect_timeout_s``: how long to try reaching the Dask scheduler.
    """
    controls = controls or Controls()
    started = time.perf_counter()
    expansion = expand(spec)
    with SweepStore(db) as store:
        store.register_sweep(spec.name, spec.source, spec.text, spec.base_name)
        keys = [p.key for p in expansion.points]
        done = store.finished(spec.name, keys, include_failed=not retry_failed)
        failed_before = store.finished(spec.name, keys) - done
        todo = [p for p in expansion.points if p.key not in done]
        if not todo:
            if on_start:
                on_start(0, len(expansion.points))
            return _summary(spec, expansion, len(done), [], False, started)
        with _executor(workers, scheduler, connect_timeout_s) as (executor, slots, abandon_fn):
            outcomes, interrupted = _dispatch(
                todo, executor, slots, controls, abandon_fn, on_start, len(expansion.points),
                lambda p, o: _record(store, spec.name, p, o, p.key in failed_before, on_point))
    return _summary(spec, expansion, len(done), outcomes, interrupted, started)


def _record(store: SweepStore, sweep: str, point: Point, outcome: Outcome, replace: bool,
            on_point: PointFn | None) -> None:
    store.record(sweep, point, outcome, replace=replace)
    if on_point:
        on_point(point, outcome)


def _summary(spec: SweepSpec, expansion: Expansion, skipped: int, outcomes: list[Outcome],
             interrupted: bool, started: float) -> SweepSummary:
    return SweepSummary(
        spec.name, len(expansion.points), skipped, len(outcomes),
        sum(o.status != "ok" for o in outcomes), expansion.excluded, expansion.invalid,
        len({o.compile_id for o in outcomes if o.compile_id}), interrupted,
        time.perf_counter() - started)


def _dispatch(todo: list[Point], executor: Executor, slots: int, controls: Controls,
              abandon_fn: Callable[[], None], on_start: StartFn | None, total: int,
              record: Callable[[Point, Outcome], None]) -> tuple[list[Outcome], bool]:
    """The submit/collect loop; see the module docstring."""
    queue = _GroupQueue(todo)
    inflight: dict[Future[Outcome], Point] = {}
    outcomes: list[Outcome] = []
    prefer: str | None = None
    announced = False
    while queue or inflight:
        if controls.abandon.is_set():
            abandon_fn()
            return outcomes, True
        if controls.stop.is_set():
            queue.clear()
            for future in [f for f in inflight if f.cancel()]:
                del inflight[future]
        while queue and len(inflight) < slots:
            point = queue.pop(prefer, Counter(p.compile_group for p in inflight.values()))
            prefer = None
            try:
                inflight[executor.submit(evaluate_point, point)] = point
            except BrokenProcessPool as exc:
                raise SweepError(f"a worker process died ({exc}); finished points are saved, "
                                 "run the sweep again to resume") from None
        if not announced and on_start:
            on_start(len(todo), total)
            announced = True
        finished, _ = wait(list(inflight), timeout=0.2, return_when=FIRST_COMPLETED)
        for future in finished:
            point = inflight.pop(future)
            if future.cancelled():
                continue
            outcome = _result(future, point)
            outcomes.append(outcome)
            record(point, outcome)
            prefer = point.compile_group
    return outcomes, controls.stop.is_set()


def _result(future: Future[Outcome], point: Point) -> Outcome:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise SweepError(f"a worker process died while running point {point.index} "
                         f"({point.workload}, {point.params}): {exc}; finished points are "
                         "saved, run the sweep again to resume") from None
    except Exception as exc:  # noqa: BLE001 - e.g. a Dask KilledWorker: the point failed
        return Outcome(point.key, "error", error=f"{type(exc).__name__}: {exc}",
                       notes=point.note)


class _GroupQueue:
    """Pending points by compile group, in first-appearance order."""

    def __init__(self, points: list[Point]) -> None:
        self._groups: dict[str, deque[Point]] = {}
        for p in points:
            self._groups.setdefault(p.compile_group, deque()).append(p)

    def __bool__(self) -> bool:
        return bool(self._groups)

    def clear(self) -> None:
        self._groups.clear()

    def pop(self, prefer: str | None, busy: Counter[str]) -> Point:
        """The next point of group ``prefer`` if any is left, else of the first group no
        running task belongs to, else of the first group."""
        group = prefer if prefer in self._groups else None
        if group is None:
            group = next((g for g in self._groups if not busy[g]), next(iter(self._groups)))
        queue = self._groups[group]
        point = queue.popleft()
        if not queue:
            del self._groups[group]
        return point


class _InlineExecutor(Executor):
    """Runs each task in the calling thread at submit (``workers=0``: tests, debugging)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        return future


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C reaches the whole process group, but only the parent
    decides how to stop, so workers finish their point instead of dying mid-way."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _preload() -> None:
    """Import the compiler and engines before forking so every worker inherits them."""
    import archsim.simulate  # noqa: F401
    import compiler.compile  # noqa: F401


@contextmanager
def _executor(workers: int | None, scheduler: str | None, connect_timeout_s: float
              ) -> Iterator[tuple[Executor, int, Callable[[], None]]]:
    """(executor, worker slots, abandon function) for the chosen back end."""
    if scheduler:
        yield from _dask_executor(scheduler, connect_timeout_s)
        return
    count = (os.cpu_count() or 1) if workers is None else workers
    if count < 0:
        raise InputError(f"--workers must be >= 0, got {count}")
    if count == 0:
        yield _InlineExecutor(), 1, lambda: None
        return
    _preload()
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    pool = ProcessPoolExecutor(max_workers=count, mp_context=context,
                               initializer=_ignore_sigint)

    def abandon() -> None:
        # Terminate the workers; the pool sees them die, fails what is pending and winds
        # down, and the shutdown below joins it. (shutdown(wait=False) here would forget the
        # pool's manager thread unjoined, racing the interpreter's exit hook for its wake-up
        # pipe: "Bad file descriptor".)
        for child in multiprocessing.active_children():
            child.terminate()

    try:
        yield pool, count, abandon
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_executor(address: str, timeout_s: float
                   ) -> Iterator[tuple[Executor, int, Callable[[], None]]]:
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed (pip install 'dask[distributed]')"
                         ) from None
    try:
        client = Client(address, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {address}: cannot connect ({exc})") from None
    try:
        slots = max(1, sum(client.nthreads().values()))
        executor = client.get_executor(pure=False)
        yield executor, slots, lambda: executor.shutdown(wait=False)
    finally:
        client.close()
