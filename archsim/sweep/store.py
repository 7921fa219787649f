"""The durable result store: one SQLite row per finished point, committed the moment it lands.

SQLite in WAL mode with ``synchronous=FULL``: each `record` is its own transaction, so once it
returns the row survives a crash of the process (and of the machine). Rows are keyed by the
sweep name and the point key (points.py), so a resumed sweep asks `finished` which keys exist
and skips them; a plain INSERT (never REPLACE, except for an explicit retry of failed points)
means a point can never be written twice. Sweeps (name, spec text) have their own table.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archsim import __version__
from archsim.errors import InputError
from archsim.sweep.points import Point
from archsim.sweep.worker import Outcome

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY, source TEXT, spec TEXT, base TEXT, updated_at REAL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT NOT NULL, sweep TEXT NOT NULL, idx INTEGER, workload TEXT, batch INTEGER,
    train INTEGER, mode TEXT, hw TEXT, status TEXT NOT NULL, params TEXT, metrics TEXT,
    error TEXT, notes TEXT, compile_id TEXT, compile_s REAL, run_s REAL, cpu_s REAL, worker TEXT,
    version TEXT, finished_at REAL, PRIMARY KEY (sweep, key));
"""


class SweepStore:
    """An open result database. Use as a context manager or call `close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a sweep database ({exc})") from None

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (every recorded row is already committed)."""
        self._db.close()

    def register_sweep(self, name: str, source: str, spec_text: str, base: str) -> None:
        """Remember the sweep's spec (the latest text wins)."""
        self._db.execute("INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?, ?)",
                         (name, source, spec_text, base, time.time()))

    def finished(self, sweep: str, keys: Iterable[str], include_failed: bool = True) -> set[str]:
        """The subset of ``keys`` already recorded for ``sweep`` (only successful ones unless
        ``include_failed``)."""
        wanted = list(keys)
        done: set[str] = set()
        status = "" if include_failed else " AND status = 'ok'"
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key FROM points WHERE sweep = ? AND key IN ({marks})"
                                    f"{status}", [sweep, *chunk])
            done.update(r[0] for r in rows)
        return done

    def record(self, sweep: str, point: Point, outcome: Outcome, replace: bool = False) -> None:
        """Write one finished point and commit it. ``replace`` overwrites an earlier (failed)
        row of the same key; otherwise a second write of a key is an error."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        self._db.execute(
            f"{verb} INTO points VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (point.key, sweep, point.index, point.workload, point.batch, int(point.train),
             point.mode, point.config.name, outcome.status, json.dumps(point.params),
             json.dumps(outcome.metrics), outcome.error, outcome.notes, outcome.compile_id,
             outcome.compile_s, outcome.run_s, outcome.cpu_s, outcome.worker, __version__,
             time.time()))

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep recorded in this database."""
        cursor = self._db.execute("SELECT name, source, spec, base, updated_at FROM sweeps")
        return [dict(zip(("name", "source", "spec", "base", "updated_at"), row, strict=True))
                for row in cursor]

    def rows(self, sweep: str | None = None) -> list[dict[str, Any]]:
        """Every recorded point (of ``sweep`` if given) as a dict, JSON columns decoded."""
        query, args = "SELECT * FROM points", ()  # type: tuple[str, tuple[str, ...]]
        if sweep is not None:
            query, args = query + " WHERE sweep = ?", (sweep,)
        cursor = self._db.execute(query + " ORDER BY sweep, idx", args)
        names = [d[0] for d in cursor.description]
        out = []
        for row in cursor:
            item = dict(zip(names, row, strict=True))
            item["params"] = json.loads(item["params"] or "{}")
            item["metrics"] = json.loads(item["metrics"] or "{}")
            item["train"] = bool(item["train"])
            out.append(item)
        return out

    def count(self, sweep: str | None = None) -> int:
        """How many points are recorded (for ``sweep`` if given)."""
        if sweep is None:
            return int(self._db.execute("SELECT COUNT(*) FROM points").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM points WHERE sweep = ?",
                                    (sweep,)).fetchone()[0])
