"""Sweep results as a pandas DataFrame, one row per recorded point.

Columns: ``sweep, index, workload, batch, train, mode, hw, status``, then one column per swept
parameter (``param.<field>``) and one per kept metric (``seconds``, ``utilization.cube``,
``sram_bytes``, ...), then ``error, notes, compile_id, compile_s, run_s, cpu_s, worker, key``.
Failed points have empty metrics and their error text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from archsim.errors import InputError
from archsim.sweep.store import SweepStore

if TYPE_CHECKING:
    import pandas as pd

PARAM_PREFIX = "param."
"""Prefix of the parameter columns, so a field never collides with a metric name."""
_HEAD = ("sweep", "index", "workload", "batch", "train", "mode", "hw", "status")
_TAIL = ("error", "notes", "compile_id", "compile_s", "run_s", "cpu_s", "worker", "key")


def results_frame(db: str | Path, sweep: str | None = None) -> pd.DataFrame:
    """Every point recorded in the database ``db`` (of ``sweep`` if given)."""
    import pandas as pd

    if not Path(db).is_file():
        raise InputError(f"{db}: no such sweep database")
    with SweepStore(db) as store:
        rows = store.rows(sweep)
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for row in rows:
        params.update(dict.fromkeys(row["params"]))
        metrics.update(dict.fromkeys(row["metrics"]))
    records = []
    for row in rows:
        record = {name: row["idx" if name == "index" else name] for name in _HEAD}
        record.update({PARAM_PREFIX + p: _cell(row["params"].get(p)) for p in params})
        record.update({m: row["metrics"].get(m) for m in metrics})
        record.update({name: row[name] for name in _TAIL})
        records.append(record)
    columns = [*_HEAD, *(PARAM_PREFIX + p for p in params), *metrics, *_TAIL]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for m in metrics:
        frame[m] = pd.to_numeric(frame[m], errors="coerce")
    return frame


def param_columns(frame: pd.DataFrame) -> list[str]:
    """The swept-parameter columns of a results frame."""
    return [c for c in frame.columns if c.startswith(PARAM_PREFIX)]


def _cell(value: object) -> object:
    """Lists (tuple-valued fields such as cube_dtypes) become text so columns stay scalar."""
    return ",".join(map(str, value)) if isinstance(value, list) else value
