"""The miner's per-run cache (``skillforge.analyze._mine_cache``): runs indexed once are read
back from the store the same, only new runs are indexed, labels come from the store, and a
cache that is damaged, foreign or hostile costs a re-read, never a result."""

from __future__ import annotations

import ast
import pickle
import shutil
import zlib
from pathlib import Path

import duckdb
import pytest
from conftest import TAU_AIRLINE, need_shared

from skillforge.analyze import _mine_cache
from skillforge.analyze._mine_cache import INDEX_MODULES, index_code_key
from skillforge.analyze._mine_read import read_runs
from skillforge.store import connect


@pytest.fixture(scope="module")
def tau_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the tau-bench airline runs with an empty miner cache (copied per test)."""
    need_shared()
    from skillforge import ingest
    from skillforge.settings import Settings

    home = tmp_path_factory.mktemp("tau-home")
    settings = Settings.load(home)
    ingest([TAU_AIRLINE], settings=settings, show_progress=False)
    connect(settings.db_path).close()
    return settings.db_path


@pytest.fixture
def con(tau_store: Path, tmp_path: Path):
    path = tmp_path / "store.duckdb"
    shutil.copy(tau_store, path)
    c = connect(path)
    yield c
    c.close()


def _read(c: duckdb.DuckDBPyConnection, **kw):
    counts: dict[str, int] = {}
    runs = read_runs(c, counts=counts, **kw)
    return runs, counts


def _chunk_ids(c: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(i for (ids,) in c.execute("SELECT ids FROM mine_cache").fetchall() for i in ids)


def test_cached_runs_are_the_runs_indexed_from_the_steps(con) -> None:
    fresh = read_runs(con, cache=False)
    assert con.execute("SELECT count(*) FROM mine_cache").fetchone() == (0,)
    first, c1 = _read(con)
    assert c1 == {"indexed": len(fresh), "cached": 0, "kept": len(fresh), "dropped": 0}
    assert _chunk_ids(con) == sorted(r.id for r in fresh)
    again, c2 = _read(con)
    assert c2 == {"indexed": 0, "cached": len(fresh), "kept": 0, "dropped": 0}
    assert first == fresh and again == fresh        # every field of every run and call
    some = [r.id for r in fresh[::4]]
    sub, c3 = _read(con, ids=some)
    assert [r.id for r in sub] == sorted(some) and c3["indexed"] == 0
    assert sub == [r for r in fresh if r.id in set(some)]


def test_a_grown_store_indexes_only_its_new_runs(con) -> None:
    fresh = read_runs(con, cache=False)
    ids = [r.id for r in fresh]
    _read(con, ids=ids[:120])                      # as if the store had held only these
    assert _chunk_ids(con) == sorted(ids[:120])
    grown, counts = _read(con)
    assert counts["cached"] == 120 and counts["indexed"] == len(ids) - 120
    assert grown == fresh
    assert _chunk_ids(con) == sorted(ids)


def test_labels_and_task_ids_come_from_the_store_not_the_cache(con) -> None:
    fresh = read_runs(con)
    target = next(r for r in fresh if r.success is True)
    con.execute("UPDATE trajectories SET success = false, task_id = 'moved' WHERE id = ?",
                [target.id])
    runs, counts = _read(con)
    assert counts["cached"] == len(fresh)
    got = next(r for r in runs if r.id == target.id)
    assert got.success is False and got.task_id == "moved"
    assert runs == read_runs(con, cache=False)


CALLED: list[str] = []


def _record(what: str) -> str:
    CALLED.append(what)
    return what


class _Boom:
    """Unpickled by a plain unpickler, this calls ``_record`` (it could be anything)."""

    def __reduce__(self):
        return (_record, ("called by a cache blob",))


def test_the_hostile_blob_would_run_code_through_a_plain_unpickler() -> None:
    CALLED.clear()
    pickle.loads(pickle.dumps([_Boom()]))
    assert CALLED == ["called by a cache blob"]
    CALLED.clear()


@pytest.mark.parametrize("blob", ["hostile", "garbage", "not-runs"])
def test_a_chunk_that_does_not_read_is_dropped_and_its_runs_indexed_again(con,
                                                                           blob: str) -> None:
    fresh = read_runs(con)
    chunk = con.execute("SELECT min(chunk) FROM mine_cache").fetchone()[0]
    data = {"hostile": zlib.compress(pickle.dumps([_Boom()])),
            "garbage": b"\x00not a zlib stream",
            "not-runs": zlib.compress(pickle.dumps(["a", "b"]))}[blob]
    con.execute("UPDATE mine_cache SET data = ? WHERE chunk = ?", [data, chunk])
    CALLED.clear()
    runs, counts = _read(con)
    assert not CALLED                               # nothing the blob asked for was called
    assert counts["dropped"] == 1 and counts["indexed"] > 0
    assert runs == fresh
    assert con.execute("SELECT count(*) FROM mine_cache WHERE data = ?", [data]).fetchone() == (0,)
    assert _chunk_ids(con) == sorted(r.id for r in fresh)   # the runs were kept again


def test_a_removed_trajectory_leaves_the_cache_at_the_next_read(con) -> None:
    fresh = read_runs(con)
    gone = fresh[5].id
    for table, col in (("steps", "trajectory_id"), ("analyzed", "trajectory_id"),
                       ("trajectories", "id")):
        con.execute(f"DELETE FROM {table} WHERE {col} = ?", [gone])
    runs, counts = _read(con)
    assert gone not in _chunk_ids(con)
    assert counts["indexed"] == 0 and [r.id for r in runs] == [r.id for r in fresh if r.id != gone]
    assert runs == read_runs(con, cache=False)


def test_chunks_of_other_code_are_not_read_and_go_at_the_next_write(con) -> None:
    fresh = read_runs(con, cache=False)
    con.execute("INSERT INTO mine_cache VALUES ('other-code', 99, ?, ?, now())",
                [[r.id for r in fresh], zlib.compress(pickle.dumps([_Boom()]))])
    runs, counts = _read(con)
    assert counts["cached"] == 0 and counts["indexed"] == len(fresh) and runs == fresh
    codes = {c for (c,) in con.execute("SELECT DISTINCT code FROM mine_cache").fetchall()}
    assert codes == {index_code_key()}


def test_a_read_only_connection_uses_the_cache_and_writes_nothing(con) -> None:
    fresh = read_runs(con)
    path = con.execute("SELECT path FROM duckdb_databases() WHERE NOT internal").fetchone()[0]
    con.execute("DELETE FROM mine_cache WHERE chunk = (SELECT max(chunk) FROM mine_cache)")
    left = _chunk_ids(con)
    con.close()
    ro = duckdb.connect(path, read_only=True)
    try:
        runs, counts = _read(ro)
        assert counts["cached"] == len(left) and counts["indexed"] == len(fresh) - len(left)
        assert counts["kept"] == 0 and runs == fresh
        assert _chunk_ids(ro) == left
    finally:
        ro.close()


def test_many_small_chunks_are_rewritten_as_few(con, monkeypatch) -> None:
    monkeypatch.setattr(_mine_cache, "CHUNK_RUNS", 16)
    monkeypatch.setattr(_mine_cache, "MAX_CHUNKS", 6)
    fresh = read_runs(con, cache=False)
    ids = [r.id for r in fresh]
    for n in (10, 20, 30, 40, 50, 60, 70):          # seven harvests of ten runs each
        _read(con, ids=ids[:n])
    assert con.execute("SELECT count(*) FROM mine_cache").fetchone()[0] <= 6
    runs, counts = _read(con)
    assert runs == fresh and counts["cached"] == 70
    assert _chunk_ids(con) == sorted(ids)


def test_the_code_key_covers_every_module_that_builds_a_run() -> None:
    """Each module in INDEX_MODULES imports no other part of skillforge.analyze, so a change
    to any code a cached run depends on changes the key."""
    import importlib

    listed = set(INDEX_MODULES)
    for name in INDEX_MODULES:
        tree = ast.parse(Path(importlib.import_module(name).__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for m in mods:
                if m.startswith("skillforge.analyze"):
                    assert m in listed, f"{name} imports {m}, which the key does not cover"
