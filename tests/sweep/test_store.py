"""The SQLite store: WAL, committed at once, one row per point, readable by a new connection."""

from __future__ import annotations

import sqlite3

import pytest

from archsim.sweep import SweepStore, expand, load_spec
from archsim.sweep.worker import Outcome


@pytest.fixture
def points(write_spec):
    spec = load_spec(write_spec("""
        workloads = ["gemm:m=64,n=64,k=64"]
        [parameters]
        l1_bytes = [262144, 524288, 1048576]
    """))
    return expand(spec).points


def test_rows_are_committed_at_once_and_visible_to_other_connections(tmp_path, points):
    db = tmp_path / "r.db"
    store = SweepStore(db)
    store.record("s", points[0], Outcome(points[0].key, "ok", {"seconds": 1.5}))
    # no close(), no explicit commit: another connection must already see the row
    other = sqlite3.connect(db)
    assert other.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 1
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
    store.close()


def test_finished_and_rows(tmp_path, points):
    with SweepStore(tmp_path / "r.db") as store:
        store.record("s", points[0], Outcome(points[0].key, "ok", {"seconds": 1.0}))
        store.record("s", points[1], Outcome(points[1].key, "error", error="Boom: no"))
        keys = [p.key for p in points]
        assert store.finished("s", keys) == {points[0].key, points[1].key}
        assert store.finished("s", keys, include_failed=False) == {points[0].key}
        assert store.finished("other", keys) == set()
        rows = store.rows("s")
    assert [r["status"] for r in rows] == ["ok", "error"]
    assert rows[0]["metrics"] == {"seconds": 1.0}
    assert rows[0]["params"] == {"l1_bytes": 262144}
    assert rows[1]["error"] == "Boom: no"


def test_a_point_cannot_be_written_twice_except_as_a_retry(tmp_path, points):
    with SweepStore(tmp_path / "r.db") as store:
        p = points[0]
        store.record("s", p, Outcome(p.key, "error", error="X"))
        with pytest.raises(sqlite3.IntegrityError):
            store.record("s", p, Outcome(p.key, "ok"))
        store.record("s", p, Outcome(p.key, "ok", {"seconds": 2.0}), replace=True)
        assert store.count("s") == 1 and store.rows()[0]["status"] == "ok"


def test_not_a_database_is_an_input_error(tmp_path):
    from archsim.errors import InputError

    bad = tmp_path / "bad.db"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(InputError, match="not a sweep database"):
        SweepStore(bad)


def test_keys_depend_on_everything_that_changes_numbers(write_spec):
    def keys(body):
        return [p.key for p in expand(load_spec(write_spec(body))).points]

    base = 'workloads = ["gemm:m=64,n=64,k=64"]\n'
    assert keys(base) == keys(base)
    assert keys(base) != keys('workloads = ["gemm:m=64,n=64,k=128"]\n')
    assert keys(base) != keys(base + "[compile]\nfuse = false\n")
    assert keys(base) != keys(base + "[parameters]\nub_bytes = [131072]\n")
    assert keys(base) != keys('mode = "functional"\n' + base)
    batch = '[[workloads]]\nmodel = "gemm:m=64,n=64,k=64"\nbatch = [1, 2]\n'
    assert len(set(keys(batch))) == 2 and keys(batch)[0] == keys(base)[0]
