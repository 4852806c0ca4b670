"""The versioned run record: config, counts, usage, timings, errors and outputs of a run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import duckdb
import pydantic_core
from pydantic import BaseModel, Field

RUN_SCHEMA_VERSION = 1


class RunRecord(BaseModel):
    """One pipeline run (ingest, analyze, distill, verify, correct, eval...)."""

    id: str = Field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S-")
                    + uuid.uuid4().hex[:6])
    kind: str
    schema_version: int = RUN_SCHEMA_VERSION
    status: str = "running"
    config: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None


def _texts(v: Any) -> Any:
    """``v`` without the dict entries whose value is a number, a bool or null: what the
    redactor could change (strings, and the keys they sit under) is all kept, so the
    pre-check of this is the pre-check of ``v`` (count names such as ``secrets_redacted``
    would otherwise send every run record to the detectors)."""
    if isinstance(v, dict):
        return {k: _texts(x) for k, x in v.items()
                if not (x is None or isinstance(x, bool | int | float))}
    if isinstance(v, list):
        return [_texts(x) for x in v]
    return v


def save_run(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    """Insert or replace the run's row (secrets in paths, errors and notes redacted)."""
    from skillforge.traces import blob_may_hold

    d = run.model_dump(mode="json")
    if blob_may_hold(pydantic_core.to_json(_texts(d))):  # the detectors only when it may hold one
        from skillforge.traces.redact import Redactor

        d = Redactor().value(d)
    con.execute("DELETE FROM runs WHERE id = ?", [run.id])
    con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run.id, run.kind, run.schema_version, run.status, json.dumps(d["config"]),
         json.dumps(d["counts"]), json.dumps(d["usage"]), json.dumps(d["timings"]),
         json.dumps(d["errors"]), json.dumps(d["outputs"]), run.started_at, run.ended_at])


def load_run(con: duckdb.DuckDBPyConnection, run_id: str) -> RunRecord | None:
    """A stored run by id."""
    r = con.execute("SELECT id, kind, schema_version, status, config, counts, usage, timings, "
                    "errors, outputs, started_at, ended_at FROM runs WHERE id = ?",
                    [run_id]).fetchone()
    if r is None:
        return None
    return RunRecord(id=r[0], kind=r[1], schema_version=r[2], status=r[3],
                     config=json.loads(r[4]), counts=json.loads(r[5]), usage=json.loads(r[6]),
                     timings=json.loads(r[7]), errors=json.loads(r[8]), outputs=json.loads(r[9]),
                     started_at=r[10], ended_at=r[11])
