"""What a distill needs to know whether an earlier run's analysis still holds.

Digests of tables (row count plus two order-free 64-bit aggregates of DuckDB's ``hash`` of
every row) and the ``distill_reuse`` rows that completed distills leave (migration 0007). A
digest changes when any row is added, removed or has any of the listed columns changed;
columns that only say when or by which run a row was written are left out, so rewriting a
row with the same content keeps it. Used by ``skillforge._distill_reuse``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

__all__ = ["find_reuse", "inputs_digest", "lessons_digest", "save_reuse"]

# table -> the columns whose content the distill reads (everything but write times and run ids)
_INPUT_TABLES = {
    "trajectories": ("id, format, source_file, source_line, source_record, task_id, task, "
                     "agent, model, attempt, success, reward, outcome_detail, n_steps, "
                     "input_tokens, output_tokens, cost, started_at, ended_at, meta"),
    "steps": "trajectory_id, idx, role, kind, text, tool_name, tool_args, call_id, is_error, "
             "ts, tokens",
    "signals": "trajectory_id, score, kinds, segments",
    "signal_evidence": "trajectory_id, segment, kind, step_index, weight, quote",
}
_LESSON_TABLES = {
    "lessons": ("id, kind, polarity, title, description, content, capability, support, "
                "analyst, analyzer_version, confidence, meta"),
    "lesson_evidence": "lesson_id, trajectory_id, step_index, quote",
    "analyzed": "trajectory_id, analyzer, analyzer_version",
}


def _digest(con: duckdb.DuckDBPyConnection, tables: dict[str, str]) -> dict[str, str]:
    parts = ", ".join(
        f"(SELECT [count(*)::HUGEINT, coalesce(bit_xor(h), 0)::HUGEINT, "
        f"coalesce(sum(h::HUGEINT), 0)] FROM (SELECT hash({cols}) AS h FROM {name}))"
        for name, cols in tables.items())
    row = con.execute(f"SELECT {parts}").fetchone() or ()
    return {name: ":".join(str(x) for x in v) for name, v in zip(tables, row, strict=True)}


def inputs_digest(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], int]:
    """Digests of what the analysis reads (trajectories, steps, outcome signals), and how many
    trajectories the store holds."""
    d = _digest(con, _INPUT_TABLES)
    return d, int(d["trajectories"].split(":")[0])


def lessons_digest(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Digests of what a distill writes to the store and a later one reads back: the lessons,
    their evidence, and which analyzer has seen which trajectory."""
    return _digest(con, _LESSON_TABLES)


def save_reuse(con: duckdb.DuckDBPyConnection, run_id: str, inputs_key: str, state_key: str,
               report: dict[str, Any]) -> None:
    """Record that completed distill ``run_id`` had these keys and this report (one
    transaction: the row is there whole or not at all)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM distill_reuse WHERE run_id = ?", [run_id])
        con.execute("INSERT INTO distill_reuse VALUES (?, ?, ?, ?, ?)",
                    [run_id, inputs_key, state_key, json.dumps(report), datetime.now(UTC)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def find_reuse(con: duckdb.DuckDBPyConnection, inputs_key: str,
               state_key: str) -> tuple[str, dict[str, Any]] | None:
    """The newest completed distill with both keys: its run id and stored report, or None.

    Only a run whose run record was saved as finished counts (``runs.ended_at`` set).
    """
    row = con.execute(
        "SELECT d.run_id, d.report FROM distill_reuse d JOIN runs r ON r.id = d.run_id "
        "WHERE d.inputs_key = ? AND d.state_key = ? AND r.kind = 'distill' "
        "AND r.ended_at IS NOT NULL ORDER BY d.created_at DESC LIMIT 1",
        [inputs_key, state_key]).fetchone()
    return (row[0], json.loads(row[1])) if row else None
