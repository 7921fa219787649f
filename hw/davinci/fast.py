"""The fast timing engine: the simpy engine's programs, rules and event order, replayed in
numba (`fast_core`), with the same `KernelRun` to the cycle and the byte.

It serves timing runs without a trace (sweeps, `archsim run`); functional runs, traces and
stepping use the simpy engine (`engine.py`), which stays the readable reference. Races are
checked by a logical pass over each stream shape (`races.check_stream`), the verdict the simpy
engine reaches while timing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from hw.cache import LineCache
from hw.davinci import fast_core as core
from hw.davinci.decode import Decoded, Kind, executes_at_issue, tally_bytes
from hw.davinci.engine import cross_flag_overflow, deadlock_report, flag_set_twice, no_target_unit
from hw.davinci.races import check_stream
from hw.davinci.stats import PipeStats
from hw.errors import DeadlockError
from isa.davinci import EXEC_PIPES, Pipe


class _Unit:
    """What `run._collect` reads from a unit: its pipes' statistics and end."""

    def __init__(self, stats: np.ndarray, end: int, present: set[str]) -> None:
        self.end = int(end)
        self._stats = stats
        self._present = present
        self.bytes_by_path = self.bytes_read = self.bytes_written = self.mnemonics = {}
        self.flops = 0

    def pipe_stats(self) -> dict[str, PipeStats]:
        return {pipe.name: PipeStats(*(int(v) for v in self._stats[pipe]))
                for pipe in (Pipe.S, *EXEC_PIPES)}

    def pipes_present(self) -> set[str]:
        return self._present


class _Totals:
    """The kernel's timing-independent tallies (bytes per path and level, instruction counts,
    FLOPs) as the simpy engine accumulates them instruction by instruction, plus the HBM
    bytes the run moved; `run._collect` reads it as one more unit without pipes."""

    end = 0

    def __init__(self, records: Sequence[Decoded], counts: np.ndarray, hbm: np.ndarray) -> None:
        self.bytes_by_path: Counter = Counter()
        self.bytes_read: Counter = Counter()
        self.bytes_written: Counter = Counter()
        self.mnemonics: Counter = Counter()
        self.flops = 0
        for row in np.flatnonzero(counts):
            self._add(records[row], int(counts[row]))
        if hbm[:, core.H_ANY_READ].any():
            self.bytes_read["hbm"] += int(hbm[:, core.H_READ].sum())
        if hbm[:, core.H_ANY_WRITE].any():
            self.bytes_written["hbm"] += int(hbm[:, core.H_WRITTEN].sum())

    def _add(self, d: Decoded, n: int) -> None:
        if executes_at_issue(d):
            return  # not counted among the instructions the pipes completed
        self.mnemonics[d.instr.mnemonic] += n
        if d.kind is Kind.WORK:
            tally_bytes(d, n, self.bytes_by_path, self.bytes_read, self.bytes_written)
            self.flops += n * d.flops

    def pipe_stats(self) -> dict[str, PipeStats]:
        return {}

    def pipes_present(self) -> set[str]:
        return set()


class _Packer:
    """Turns decoded records into rows of `fast_core`'s instruction table, once per record."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, ...]] = []
        self.records: list[Decoded] = []
        self.index: dict[int, int] = {}  # id(record) -> row
        self.targets: list[str | None] = []  # per row: the unit a cross-core set targets
        self.flags: dict[tuple[int, ...], int] = {}
        self.cross_flags = 1
        self.lines: list[np.ndarray] = []
        self.line_count = 0

    def rows_of(self, decoded: Sequence[Decoded]) -> np.ndarray:
        index = self.index
        for d in decoded:
            if id(d) not in index:
                index[id(d)] = self._add(d)
        return np.fromiter((index[id(d)] for d in decoded), dtype=np.int64, count=len(decoded))

    def _add(self, d: Decoded) -> int:
        flag = 0
        target = None
        if d.kind in (Kind.SET_FLAG, Kind.WAIT_FLAG):
            flag = self.flags.setdefault(d.flag, len(self.flags))
        elif d.kind in (Kind.CROSS_SET, Kind.CROSS_WAIT):
            flag = d.flag[0]
            self.cross_flags = max(self.cross_flags, flag + 1)
            if d.kind is Kind.CROSS_SET:
                target = d.instr.target.value
        start = stop = self.line_count
        if d.gm_lines is not None and d.gm_lines.size:
            self.lines.append(d.gm_lines)
            self.line_count = stop = start + d.gm_lines.size
        self.rows.append((int(d.kind), int(d.pipe), d.cycles, d.head_cycles, d.latency_cycles,
                          d.gm_bytes, int(d.gm_write), flag, start, stop, -1))
        self.targets.append(target)
        self.records.append(d)
        return len(self.rows) - 1


def run_fast(kernel: Any, units: Sequence[tuple[int, str, Sequence[Decoded], Any, Any]],
             cfg: Any, check_races: bool) -> list[_Unit | _Totals]:
    """Time ``units`` (core, unit name, decoded stream, describe, stream shape), in the order
    the simpy engine creates them; returns the per-unit results and the kernel's totals, for
    `run._collect`.

    Raises the simpy engine's errors: RaceError, SimulationError (a flag set twice, a
    cross-core flag without its unit or with too many pending sets) and DeadlockError.
    """
    if check_races:
        checked: set[Any] = set()
        for _core, _name, decoded, describe, shape in units:
            if shape is None or shape not in checked:
                checked.add(shape)
                check_stream(decoded, describe)
    packer = _Packer()
    row_cache: dict[int, np.ndarray] = {}
    per_unit = []
    for _core, _name, decoded, _describe, _shape in units:
        rows = row_cache.get(id(decoded))
        if rows is None:
            rows = row_cache[id(decoded)] = packer.rows_of(decoded)
        per_unit.append(rows)
    table = np.array(packer.rows, dtype=np.int64).reshape(-1, core.FIELDS)
    sizes = np.array([rows.size for rows in per_unit], dtype=np.int64)
    unit_stop = np.cumsum(sizes)
    unit_start = unit_stop - sizes
    all_rows = np.concatenate(per_unit) if per_unit else np.zeros(0, dtype=np.int64)
    ins = table[all_rows]
    _resolve_targets(ins, unit_start, per_unit, packer, units)
    lines = np.concatenate(packer.lines) if packer.lines else np.zeros(0, dtype=np.int64)
    l2 = LineCache(int(cfg.l2_bytes), int(cfg.l2_line_bytes), int(cfg.l2_ways))
    us, stats, hbm, blocked, err = core.simulate(
        ins, unit_start, unit_stop, lines, int(cfg.queue_depth), int(cfg.scalar_issue_cycles),
        float(cfg.l2_bytes_per_cycle), float(cfg.hbm_bytes_per_cycle),
        int(cfg.l2_line_bytes), l2.tags, l2.stamps, l2.clock, max(len(packer.flags), 1),
        packer.cross_flags)
    if err[0] != core.E_NONE:
        raise _error(err, units, unit_start)
    _check_deadlock(kernel, units, us, blocked, unit_start)
    results: list[_Unit | _Totals] = []
    present_of: dict[int, set[str]] = {}
    for u, rows in enumerate(per_unit):
        present = present_of.get(id(rows))
        if present is None:
            work = table[rows]
            pipes = np.unique(work[work[:, core.KIND] == core.WORK, core.PIPE])
            present = present_of[id(rows)] = {"S", *(Pipe(int(p)).name for p in pipes)}
        results.append(_Unit(stats[u], us[u, core.U_END], present))
    counts = np.bincount(all_rows, minlength=len(packer.records))
    results.append(_Totals(packer.records, counts, hbm))
    return results


def _resolve_targets(ins: np.ndarray, unit_start: np.ndarray, per_unit: list[np.ndarray],
                     packer: _Packer, units: Sequence) -> None:
    """Fill TARGET: the index of the unit of the same core a cross-core set targets (-1 when
    that core has no such unit)."""
    names = sorted({t for t in packer.targets if t is not None})
    if not names:
        return
    codes = np.array([-1 if t is None else names.index(t) for t in packer.targets],
                     dtype=np.int64)
    where = {(c, name): u for u, (c, name, *_rest) in enumerate(units)}
    for u, (c, _name, *_rest) in enumerate(units):
        code = codes[per_unit[u]]
        sets = np.flatnonzero(code >= 0)
        if sets.size:
            lookup = np.array([where.get((c, name), -1) for name in names], dtype=np.int64)
            ins[unit_start[u] + sets, core.TARGET] = lookup[code[sets]]


def _error(err: np.ndarray, units: Sequence, unit_start: np.ndarray) -> Exception:
    code, u, row = (int(v) for v in err)
    c, name, decoded, describe, _shape = units[u]
    index = row - int(unit_start[u])
    d = decoded[index]
    if code == core.E_FLAG_TWICE:
        return flag_set_twice(c, name, describe(index))
    if code == core.E_NO_TARGET:
        return no_target_unit(c, name, describe(index), d)
    return cross_flag_overflow(c, name, describe(index), d.flag[0])


def _check_deadlock(kernel: Any, units: Sequence, us: np.ndarray, blocked: np.ndarray,
                    unit_start: np.ndarray) -> None:
    reports = []
    for u, (c, name, decoded, describe, _shape) in enumerate(units):
        where = {}
        for pipe in Pipe:
            if pipe is not Pipe.ALL and blocked[u, pipe] >= 0:
                index = int(blocked[u, pipe] - unit_start[u])
                where[pipe] = (index, decoded[index])
        stall = None
        if us[u, core.U_STALL_PIPE] >= 0:
            stall = (Pipe(int(us[u, core.U_STALL_PIPE])),
                     int(us[u, core.U_STALL_INDEX] - unit_start[u]))
        report = deadlock_report(c, name, where, stall, bool(us[u, core.U_DONE]), describe)
        if report:
            reports.append(report)
    if reports:
        raise DeadlockError(f"{kernel.name}: deadlock: " + " | ".join(reports))
