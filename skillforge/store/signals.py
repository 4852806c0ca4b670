"""Graded outcome signals of unlabeled sessions, kept apart from verified labels.

``trajectories.success``/``reward`` hold verified labels only (the file's own outcome, a
verifier's report beside the run, or ``--labels``). What a session itself suggests (a user's
correction, a rejected tool use, tests that passed, a thank-you) is stored here instead, in
``signals`` (one row per trajectory: score in [-1, 1], kinds, per-segment scores) and
``signal_evidence`` (trajectory id, segment, kind, step index, weight, quote). See
``skillforge.traces._signals`` for the kinds and their weights.

Hook for consumers (the miner): ``load_signals(con)`` returns ``{trajectory_id: Signal}``
for every trajectory that has one. A consumer should treat ``signal.score > 0`` as a weak
success and ``< 0`` as a weak failure, below any verified label, and may cite
``signal.evidence`` (each item has ``trajectory_id``, ``step_index`` and ``quote``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from skillforge.traces import Signal

__all__ = ["delete_signals", "load_signals", "write_signals"]


def delete_signals(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> None:
    """Remove the signals of these trajectories (when they got a label, or were folded)."""
    if not ids:
        return
    for table in ("signals", "signal_evidence"):
        con.execute(f"DELETE FROM {table} WHERE trajectory_id IN (SELECT unnest(?::VARCHAR[]))",
                    [list(ids)])


def write_signals(con: duckdb.DuckDBPyConnection, signals: Iterable[Signal], *,
                  run_id: str | None = None) -> int:
    """Store signals, replacing any earlier ones of the same trajectories; return how many."""
    sigs = list({s.trajectory_id: s for s in signals}.values())
    if not sigs:
        return 0
    import pyarrow as pa  # only when there is something to write (an unchanged ingest has not)

    now = datetime.now(UTC)
    sig_tab = pa.table({
        "trajectory_id": [s.trajectory_id for s in sigs],
        "score": [float(s.score) for s in sigs],
        "kinds": [json.dumps(s.kinds) for s in sigs],
        "segments": [json.dumps([{"index": g.index, "start": g.start, "end": g.end,
                                  "score": g.score, "kinds": g.kinds} for g in s.segments])
                     for s in sigs],
        "run_id": pa.array([run_id] * len(sigs), pa.string()),
        "created_at": pa.array([now] * len(sigs), pa.timestamp("us", tz="UTC")),
    })
    ev = [e for s in sigs for e in s.evidence]
    ev_tab = pa.table({
        "trajectory_id": pa.array([e.trajectory_id for e in ev], pa.string()),
        "segment": pa.array([e.segment for e in ev], pa.int32()),
        "kind": pa.array([e.kind for e in ev], pa.string()),
        "step_index": pa.array([e.step_index for e in ev], pa.int32()),
        "weight": pa.array([float(e.weight) for e in ev], pa.float64()),
        "quote": pa.array([e.quote for e in ev], pa.string()),
    })
    con.execute("BEGIN TRANSACTION")
    try:
        delete_signals(con, [s.trajectory_id for s in sigs])
        for name, tab in (("signals", sig_tab), ("signal_evidence", ev_tab)):
            con.register("_sf_rows", tab)
            try:
                con.execute(f"INSERT INTO {name} SELECT * FROM _sf_rows")
            finally:
                con.unregister("_sf_rows")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(sigs)


def load_signals(con: duckdb.DuckDBPyConnection,
                 ids: Sequence[str] | None = None) -> dict[str, Signal]:
    """``{trajectory_id: Signal}`` for the stored signals (of ``ids`` only, when given).

    Each :class:`~skillforge.traces.Signal` has ``score`` in [-1, 1] (negative: the session
    reads as failing, positive: as succeeding), ``kinds`` (e.g. ``user_corrected``,
    ``tool_rejected``, ``interrupted``, ``tests_failed``, ``tool_error_unrecovered``,
    ``tool_errors_recovered``, ``tests_passed``, ``user_confirmed``), ``segments`` (per task
    segment: step range, score, kinds) and ``evidence`` (``trajectory_id``, ``step_index``,
    ``quote``, ``kind``, ``weight``, ``segment``), ordered by step. These are *signals*, not
    verified labels: weigh them below ``trajectories.success``.
    """
    from skillforge.traces import Segment, Signal, SignalEvidence

    where, params = "", []
    if ids is not None:
        where, params = " WHERE trajectory_id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]
    out: dict[str, Signal] = {}
    for tid, score, kinds, segs in con.execute(
            f"SELECT trajectory_id, score, kinds, segments FROM signals{where} "
            "ORDER BY trajectory_id", params).fetchall():
        out[tid] = Signal(trajectory_id=tid, score=float(score), kinds=json.loads(kinds or "[]"),
                          evidence=[], segments=[Segment(**g) for g in json.loads(segs or "[]")])
    for tid, seg, kind, idx, weight, quote in con.execute(
            "SELECT trajectory_id, segment, kind, step_index, weight, quote FROM signal_evidence"
            f"{where} ORDER BY trajectory_id, step_index, kind", params).fetchall():
        if tid in out:
            out[tid].evidence.append(SignalEvidence(
                trajectory_id=tid, step_index=int(idx), quote=quote, kind=kind,
                weight=float(weight), segment=int(seg)))
    return out
