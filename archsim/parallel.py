"""Timing runs of a DaVinci executable's kernels on several processes.

In timing mode every kernel starts from an idle chip (empty queues, an empty L2) and moves no
data, so kernels are independent and their records are the same whichever process simulates
them: the run splits them over forked worker processes, which inherit the executable (nothing
is pickled but the records coming back). Functional runs pass data from kernel to kernel in one
GM image and stay in one process, as do GPU runs (their engine addresses one global memory).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

_Run = Callable[[Any, Any], Any]

# Set in each worker by the pool initializer (fork: inherited, never pickled). Worker-local.
_WORK: tuple[Sequence[Any], _Run] | None = None


def default_workers() -> int:
    """Processes for one command's kernel simulations: the CPUs this process may use (2 on the
    project's machines), at most 8."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(8, available))


def run_kernels(programs: Sequence[Any], run: _Run, workers: int) -> list[Any]:
    """``[run(program, None) for program in programs]``, over ``workers`` forked processes
    when that helps (in order; the same records either way)."""
    if workers <= 1 or len(programs) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [run(program, None) for program in programs]
    context = multiprocessing.get_context("fork")
    with context.Pool(min(workers, len(programs)), initializer=_start,
                      initargs=(programs, run)) as pool:
        return pool.map(_run_one, range(len(programs)), chunksize=1)


def _start(programs: Sequence[Any], run: _Run) -> None:
    global _WORK
    _WORK = (programs, run)


def _run_one(index: int) -> Any:
    assert _WORK is not None, "worker started without its programs"
    programs, run = _WORK
    return run(programs[index], None)
