"""Runs straight from the store: the steps table streamed in Arrow batches, each trajectory
reduced to a compact ``Run`` as soon as its last step has gone by.

No ``Trajectory`` or ``Step`` object is built and no step text outlives its batch: what a
run keeps is its index (``_mine_index``), with the quotes its lessons will cite left lazy.
:func:`resolve_quotes` fills those in from the store, one query for all the lessons.

The steps are read in the order they were stored (DuckDB preserves insertion order), where a
trajectory's steps sit together in step order; a trajectory whose steps are found apart is
read again by itself, sorted, so the result never depends on the storage order. Runs come
back in id order, as ``iter_trajectories`` gives them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import duckdb

from skillforge.analyze._mine_index import (
    LAZY_QUOTES,
    Pool,
    Run,
    StepRow,
    in_step_order,
    index_steps,
    quote_of,
)

__all__ = ["read_runs", "resolve_quotes"]

BATCH_ROWS = 32_768     # steps per Arrow batch (the only step texts held at a time)
_ID_CHUNK = 2_000       # ids per query when a few trajectories are read by themselves
_STEP_COLS = "trajectory_id, idx, role, kind, text, tool_name, tool_args, call_id, is_error"


def _in_ids(ids: Sequence[str] | None) -> tuple[str, list[Any]]:
    if ids is None:
        return "", []
    return " WHERE trajectory_id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]


def _rows(tids: Iterable[Any], *cols: list[Any]) -> Iterator[tuple[str, StepRow]]:
    for tid, idx, role, kind, text, tool, targs, cid, err in zip(tids, *cols, strict=True):
        yield tid, (idx, role, kind, text or "", tool, targs or None, cid, bool(err))


def _step_groups(con: duckdb.DuckDBPyConnection, ids: Sequence[str] | None
                 ) -> Iterator[tuple[str, list[StepRow]]]:
    """(trajectory id, its steps in step order), once per trajectory that has steps. A
    trajectory met in two places is given again, whole, at the end (the later one wins)."""
    where, params = _in_ids(ids)
    rel = con.sql(f"SELECT {_STEP_COLS} FROM steps{where}", params=params or None)
    reader = rel.to_arrow_reader(BATCH_ROWS)  # streamed: one batch of rows at a time
    done: set[str] = set()
    apart: set[str] = set()
    cur: str | None = None
    rows: list[StepRow] = []
    for batch in reader:
        cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        for tid, row in _rows(*cols):
            if tid != cur:
                if cur is not None and cur not in apart:
                    yield cur, rows if in_step_order(rows) else sorted(rows, key=lambda r: r[0])
                    done.add(cur)
                cur, rows = tid, []
                if tid in done:
                    apart.add(tid)
            if tid not in apart:
                rows.append(row)
    if cur is not None and cur not in apart:
        yield cur, rows if in_step_order(rows) else sorted(rows, key=lambda r: r[0])
    todo = sorted(apart)
    for start in range(0, len(todo), _ID_CHUNK):
        where, params = _in_ids(todo[start:start + _ID_CHUNK])
        tbl = con.sql(f"SELECT {_STEP_COLS} FROM steps{where} ORDER BY trajectory_id, idx",
                      params=params).to_arrow_table()
        grouped: dict[str, list[StepRow]] = {}
        for tid, row in _rows(*(tbl.column(i).to_pylist() for i in range(tbl.num_columns))):
            grouped.setdefault(tid, []).append(row)
        yield from grouped.items()


def read_runs(con: duckdb.DuckDBPyConnection, *, ids: Iterable[str] | None = None,
              pool: Pool | None = None, cache: bool = True,
              counts: dict[str, int] | None = None) -> list[Run]:
    """Every trajectory in the store (or those in ``ids``) as a compact run, in id order.

    With ``cache`` (the default), runs indexed before by the same code are taken from the
    store's ``mine_cache`` and only the others are read and indexed, then kept there when
    the connection may write (``_mine_cache``); the runs are the same either way.
    ``counts``, when given, is filled with ``indexed`` (runs read from their steps),
    ``cached`` (taken from the cache), ``kept`` (written to it) and ``dropped`` (chunks
    that did not read back).

    Quotes are lazy: lessons mined from these runs need :func:`resolve_quotes` before their
    evidence is shown or written."""
    from skillforge.analyze._mine_cache import MineCache

    id_list = sorted(set(ids)) if ids is not None else None
    where = " WHERE id IN (SELECT unnest(?::VARCHAR[]))" if id_list is not None else ""
    meta: dict[str, tuple[str | None, bool | None, bool]] = {
        tid: (task_id, success, bool(has_task)) for tid, task_id, success, has_task in
        con.execute(f"SELECT id, task_id, success, coalesce(task, '') <> '' FROM trajectories"
                    f"{where}", [id_list] if id_list is not None else []).fetchall()}
    pool = pool if pool is not None else Pool()
    kept = MineCache.open(con) if cache else None
    cached = kept.load(set(meta)) if kept is not None and kept.chunks else {}
    for tid, run in cached.items():  # what may change for an id comes from the store
        task_id, run.success = meta[tid][0], meta[tid][1]
        run.task_id = pool(task_id) if task_id is not None else None
    if cached:
        todo = sorted(set(meta) - cached.keys())
        runs = _index(con, meta, todo, pool) if todo else {}
    else:
        runs = _index(con, meta, id_list, pool)
    if kept is not None and kept.write:
        live = set(meta) if id_list is None else None
        if live is None:  # a subset was asked for: which ids are in the store at all
            live = {r[0] for r in con.execute("SELECT id FROM trajectories").fetchall()}
        kept.save(runs.values(), live, cached)
    if counts is not None:
        counts.update(indexed=len(runs), cached=len(cached),
                      kept=kept.stored if kept is not None else 0,
                      dropped=kept.dropped if kept is not None else 0)
    runs.update(cached)
    return [runs[t] for t in sorted(runs)]


def _index(con: duckdb.DuckDBPyConnection,
           meta: dict[str, tuple[str | None, bool | None, bool]],
           id_list: list[str] | None, pool: Pool) -> dict[str, Run]:
    """Read and index the trajectories of ``id_list`` (None: all of ``meta``) from their steps."""
    runs: dict[str, Run] = {}
    later: set[str] = set()   # no user message: the request is the task text, read below
    for tid, rows in _step_groups(con, id_list):
        m = meta.get(tid)
        if m is None:
            continue
        if m[2] and not any(r[1] == "user" and r[3].strip() for r in rows):
            later.add(tid)
            runs.pop(tid, None)
            continue
        later.discard(tid)
        runs[tid] = index_steps(tid, m[0], m[1], None, rows, pool=pool, lazy=True)
    wanted = meta.keys() if id_list is None else id_list
    later |= {tid for tid in wanted if tid not in runs}   # trajectories without steps
    if later:
        todo = sorted(later)
        tasks: dict[str, str] = {}
        for start in range(0, len(todo), _ID_CHUNK):
            tasks.update(con.execute(
                "SELECT id, task FROM trajectories WHERE id IN (SELECT unnest(?::VARCHAR[])) "
                "AND coalesce(task, '') <> ''", [todo[start:start + _ID_CHUNK]]).fetchall())
        got: dict[str, list[StepRow]] = dict(_step_groups(con, todo))
        for tid in todo:
            m = meta[tid]
            runs[tid] = index_steps(tid, m[0], m[1], tasks.get(tid), got.get(tid, []),
                                    pool=pool, lazy=True)
    return runs


def resolve_quotes(con: duckdb.DuckDBPyConnection, lessons: Iterable[Any]) -> int:
    """Fill in the lazy quotes of the lessons' evidence from the cited steps' text (one
    query); returns how many were filled in."""
    lessons = list(lessons)
    want = sorted({(e.trajectory_id, e.step_index) for les in lessons for e in les.evidence
                   if e.quote in LAZY_QUOTES})
    if not want:
        return 0
    text: dict[tuple[str, int], str] = {}
    for start in range(0, len(want), 50_000):
        part = want[start:start + 50_000]
        rows = con.execute(
            "SELECT s.trajectory_id, s.idx, s.text FROM steps s JOIN (SELECT "
            "unnest(?::VARCHAR[]) AS t, unnest(?::INTEGER[]) AS i) w "
            "ON s.trajectory_id = w.t AND s.idx = w.i",
            [[t for t, _ in part], [i for _, i in part]]).fetchall()
        text.update(((t, i), x or "") for t, i, x in rows)
    n = 0
    for les in lessons:
        for e in les.evidence:
            if e.quote in LAZY_QUOTES:
                e.quote = quote_of(text.get((e.trajectory_id, e.step_index), ""),
                                   LAZY_QUOTES[e.quote])
                n += 1
    return n
