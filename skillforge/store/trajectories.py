"""Reading and writing trajectories and steps. Writes are bulk, through Arrow tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import duckdb
import pydantic_core

from skillforge.traces.model import Outcome, Source, Step, Trajectory, Usage

if TYPE_CHECKING:  # Arrow loads when rows are written, not for reads like ``traces stats``
    import pyarrow as pa


@cache
def _schemas() -> tuple[pa.Schema, pa.Schema]:
    """The Arrow schemas of the trajectories and steps tables."""
    import pyarrow as pa

    return _traj_schema(pa), _step_schema(pa)


def _traj_schema(pa: Any) -> pa.Schema:
    return pa.schema([
        ("id", pa.string()), ("format", pa.string()), ("source_file", pa.string()),
        ("source_line", pa.int32()), ("source_record", pa.string()), ("task_id", pa.string()),
        ("task", pa.string()), ("agent", pa.string()), ("model", pa.string()),
        ("attempt", pa.int32()), ("success", pa.bool_()), ("reward", pa.float64()),
        ("outcome_detail", pa.string()), ("n_steps", pa.int32()), ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()), ("cost", pa.float64()),
        ("started_at", pa.timestamp("us", tz="UTC")), ("ended_at", pa.timestamp("us", tz="UTC")),
        ("meta", pa.string()), ("ingest_run", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ])


def _step_schema(pa: Any) -> pa.Schema:
    return pa.schema([
        ("trajectory_id", pa.string()), ("idx", pa.int32()), ("role", pa.string()),
        ("kind", pa.string()), ("text", pa.string()), ("tool_name", pa.string()),
        ("tool_args", pa.string()), ("call_id", pa.string()), ("is_error", pa.bool_()),
        ("ts", pa.timestamp("us", tz="UTC")), ("tokens", pa.int32()),
    ])


def _dump(v: Any) -> str | None:
    """JSON text of a value (pydantic-core's encoder: several times faster than json.dumps)."""
    return None if v is None else pydantic_core.to_json(v, fallback=str).decode()


def arrow_batch(new: Sequence[Trajectory], run_id: str | None) -> tuple[pa.Table, pa.Table]:
    """The ``trajectories`` and ``steps`` rows of finalized trajectories, as Arrow tables."""
    now = datetime.now(UTC)
    tcols: dict[str, list[Any]] = {
        "id": [t.id for t in new],
        "format": [t.source.format for t in new],
        "source_file": [t.source.file for t in new],
        "source_line": [t.source.line for t in new],
        "source_record": [t.source.record for t in new],
        "task_id": [t.task_id for t in new],
        "task": [t.task for t in new],
        "agent": [t.agent for t in new],
        "model": [t.model for t in new],
        "attempt": [t.attempt for t in new],
        "success": [t.outcome.success for t in new],
        "reward": [t.outcome.reward for t in new],
        "outcome_detail": [t.outcome.detail for t in new],
        "n_steps": [len(t.steps) for t in new],
        "input_tokens": [t.usage.input_tokens for t in new],
        "output_tokens": [t.usage.output_tokens for t in new],
        "cost": [t.usage.cost for t in new],
        "started_at": [t.started_at for t in new],
        "ended_at": [t.ended_at for t in new],
        "meta": [_dump(t.meta) if t.meta else None for t in new],
        "ingest_run": [run_id] * len(new),
        "ingested_at": [now] * len(new),
    }
    steps = [s for t in new for s in t.steps]
    scols: dict[str, list[Any]] = {
        "trajectory_id": [t.id for t in new for _ in t.steps],
        "idx": [s.index for s in steps],
        "role": [s.role for s in steps],
        "kind": [s.kind for s in steps],
        "text": [s.text for s in steps],
        "tool_name": [s.tool_name for s in steps],
        "tool_args": [None if s.tool_args is None else _dump(s.tool_args) for s in steps],
        "call_id": [s.call_id for s in steps],
        "is_error": [s.is_error for s in steps],
        "ts": [s.timestamp for s in steps],
        "tokens": [s.tokens for s in steps],
    }
    import pyarrow as pa

    traj_schema, step_schema = _schemas()
    return pa.table(tcols, schema=traj_schema), pa.table(scols, schema=step_schema)


def write_trajectories(
    con: duckdb.DuckDBPyConnection, trajs: Sequence[Trajectory], *, run_id: str | None = None,
) -> tuple[int, int]:
    """Insert trajectories not yet in the store; return ``(added, already_present)``.

    Trajectories already present whose stored outcome is unknown take the new outcome.
    """
    if not trajs:
        return 0, 0
    unique: dict[str, Trajectory] = {}
    for t in trajs:
        unique.setdefault(t.id, t)
    ids = list(unique)
    existing = {
        r[0] for r in con.execute(
            "SELECT id FROM trajectories WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
        ).fetchall()
    }
    new = [t for i, t in unique.items() if i not in existing]
    relabel = [(t.outcome.success, t.outcome.reward, t.outcome.detail, i)
               for i, t in unique.items() if i in existing and t.outcome.success is not None]
    if relabel:
        con.executemany(
            "UPDATE trajectories SET success = ?, reward = ?, outcome_detail = ? "
            "WHERE id = ? AND success IS NULL", relabel)
    if new:
        insert_arrow(con, *arrow_batch(new, run_id))
    return len(new), len(trajs) - len(new)


def insert_arrow(con: duckdb.DuckDBPyConnection, ttab: pa.Table, stab: pa.Table) -> None:
    """Insert ``trajectories`` and ``steps`` rows (from :func:`arrow_batch`) in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:  # DuckDB reads the local Arrow tables ``ttab`` and ``stab`` by name
        con.execute("INSERT INTO trajectories SELECT * FROM ttab")
        con.execute("INSERT INTO steps SELECT * FROM stab")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


_TRAJ_COLS = ("id, format, source_file, source_line, source_record, task_id, task, agent, "
              "model, attempt, success, reward, outcome_detail, input_tokens, output_tokens, "
              "cost, started_at, ended_at, meta")


def _json_value(v: Any) -> Any:
    """A JSON column's value: its text parsed (DuckDB and Parquet give text), else as is."""
    return json.loads(v) if isinstance(v, str) and v else (v or None)


def _traj_from_row(r: Sequence[Any], steps: list[Step]) -> Trajectory:
    return Trajectory(
        id=r[0], source=Source(format=r[1], file=r[2], line=r[3], record=r[4]), task_id=r[5],
        task=r[6] or "", agent=r[7], model=r[8], attempt=r[9],
        outcome=Outcome(success=r[10], reward=r[11], detail=r[12] or ""),
        usage=Usage(input_tokens=r[13], output_tokens=r[14], cost=r[15]),
        started_at=r[16], ended_at=r[17], meta=_json_value(r[18]) or {}, steps=steps,
    )


def _step_from_row(r: Sequence[Any]) -> Step:
    return Step(index=r[0], role=r[1], kind=r[2], text=r[3] or "", tool_name=r[4],
                tool_args=_json_value(r[5]), call_id=r[6], is_error=bool(r[7]),
                timestamp=r[8], tokens=r[9])


def get_trajectory(con: duckdb.DuckDBPyConnection, traj_id: str) -> Trajectory | None:
    """One trajectory with its steps; ``traj_id`` may be a unique prefix."""
    rows = con.execute(
        f"SELECT {_TRAJ_COLS} FROM trajectories WHERE id LIKE ? || '%' LIMIT 2", [traj_id]
    ).fetchall()
    if len(rows) != 1:
        return None
    steps = [_step_from_row(r) for r in con.execute(
        "SELECT idx, role, kind, text, tool_name, tool_args, call_id, is_error, ts, tokens "
        "FROM steps WHERE trajectory_id = ? ORDER BY idx", [rows[0][0]]).fetchall()]
    return _traj_from_row(rows[0], steps)


def iter_trajectories(
    con: duckdb.DuckDBPyConnection, *, ids: Iterable[str] | None = None, where: str = "TRUE",
    params: Sequence[Any] = (), batch: int = 2000,
) -> Iterator[Trajectory]:
    """Stream trajectories (with steps) in id order, ``batch`` at a time."""
    id_list = sorted(set(ids)) if ids is not None else None
    if id_list is None:
        all_ids = [r[0] for r in con.execute(
            f"SELECT id FROM trajectories WHERE {where} ORDER BY id", list(params)).fetchall()]
    else:
        all_ids = id_list
    for start in range(0, len(all_ids), batch):
        chunk = all_ids[start:start + batch]
        rows = con.execute(
            f"SELECT {_TRAJ_COLS} FROM trajectories WHERE id IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY id", [chunk]).fetchall()
        steps: dict[str, list[Step]] = {}
        for r in con.execute(
            "SELECT trajectory_id, idx, role, kind, text, tool_name, tool_args, call_id, "
            "is_error, ts, tokens FROM steps WHERE trajectory_id IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY trajectory_id, idx", [chunk]).fetchall():
            steps.setdefault(r[0], []).append(_step_from_row(r[1:]))
        for r in rows:
            yield _traj_from_row(r, steps.get(r[0], []))


def list_trajectories(
    con: duckdb.DuckDBPyConnection, *, limit: int = 50, outcome: str | None = None,
    fmt: str | None = None,
) -> list[dict[str, Any]]:
    """Summary rows for ``traces list``."""
    clauses, params = [], []
    if outcome == "success":
        clauses.append("success")
    elif outcome == "failure":
        clauses.append("success = FALSE")
    elif outcome == "unlabeled":
        clauses.append("success IS NULL")
    if fmt:
        clauses.append("format = ?")
        params.append(fmt)
    where = " AND ".join(clauses) or "TRUE"
    cur = con.execute(
        f"SELECT id, format, task_id, success, reward, n_steps, left(task, 70), source_file "
        f"FROM trajectories WHERE {where} ORDER BY source_file, source_line, id LIMIT ?",
        [*params, limit])
    keys = ["id", "format", "task_id", "success", "reward", "steps", "task", "file"]
    return [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]


