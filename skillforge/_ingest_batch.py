"""The trajectories an ingest has read and not yet written, in the order it read them.

Two kinds wait together: Trajectory objects (from the format readers and the Python path of
skillforge JSONL) and rows DuckDB staged for native lines (``_native_sql``). A flush writes
them as ``store.write_trajectories`` writes a list: the first copy of an id in the batch
wins, an id already stored is a duplicate that may fill in an unknown outcome, the rest is
inserted in reading order. A batch of objects only goes through ``write_trajectories``
itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from skillforge._native_sql import Unit
    from skillforge.traces import Trajectory

_TRAJ_COLS = ("id, format, source_file, source_line, source_record, task_id, task, agent, "
              "model, attempt, success, reward, outcome_detail, n_steps, input_tokens, "
              "output_tokens, cost, started_at, ended_at, meta, ingest_run, ingested_at")
_STEP_COLS = "trajectory_id, idx, role, kind, text, tool_name, tool_args, call_id, is_error, " \
             "ts, tokens"


@dataclass
class Batch:
    """What waits to be written; ``steps`` counts the steps of everything in it."""

    con: duckdb.DuckDBPyConnection
    run_id: str
    steps: int = 0
    objects: list[tuple[int, Trajectory]] = field(default_factory=list)
    rows: list[tuple[int, str, Unit]] = field(default_factory=list)  # seq, id, unit
    last_seq: int = -1  # the highest sequence number ever flushed

    def add(self, seq: int, t: Trajectory) -> None:
        """A Trajectory object, ``seq`` its place in the reading order."""
        self.objects.append((seq, t))
        self.steps += len(t.steps)

    def add_row(self, unit: Unit, seq: int, traj_id: str, steps: int) -> None:
        """A row staged in ``unit``'s table."""
        self.rows.append((seq, traj_id, unit))
        self.steps += steps

    def flush(self) -> tuple[int, int]:
        """Write what waits; ``(added, already stored or earlier in the batch)``."""
        if not self.rows and not self.objects:
            return 0, 0
        self.last_seq = max(self.last_seq, *(s for s, _, _ in self.rows),
                            *(s for s, _ in self.objects))
        if not self.rows:
            from skillforge.store import write_trajectories

            got = write_trajectories(self.con, [t for _, t in self.objects], run_id=self.run_id)
        else:
            got = self._flush_mixed()
        self.objects, self.rows, self.steps = [], [], 0
        return got

    def _flush_mixed(self) -> tuple[int, int]:
        """``write_trajectories`` over objects and staged rows together, in reading order."""
        import pyarrow as pa

        from skillforge.store.trajectories import arrow_batch

        con = self.con
        first: dict[str, tuple[int, Unit | None, Trajectory | None]] = {}
        for seq, tid, unit, obj in sorted(
                [(s, i, u, None) for s, i, u in self.rows]
                + [(s, t.id, None, t) for s, t in self.objects], key=lambda e: e[0]):
            first.setdefault(tid, (seq, unit, obj))
        existing = {r[0] for r in con.execute(
            "SELECT id FROM trajectories WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [list(first)]).fetchall()}
        relabel = [(t.outcome.success, t.outcome.reward, t.outcome.detail, i)
                   for i, (_, _, t) in first.items()
                   if i in existing and t is not None and t.outcome.success is not None]
        if relabel:
            con.executemany("UPDATE trajectories SET success = ?, reward = ?, "
                            "outcome_detail = ? WHERE id = ? AND success IS NULL", relabel)
        units: dict[int, tuple[Unit, list[int], list[int]]] = {}  # unit: (new, relabel) seqs
        new_objs: list[tuple[int, Trajectory]] = []
        for i, (seq, unit, obj) in first.items():
            if unit is not None:
                _, new, old = units.setdefault(unit.number, (unit, [], []))
                (old if i in existing else new).append(seq)
            elif obj is not None and i not in existing:
                new_objs.append((seq, obj))
        now = datetime.now(UTC)
        traj_parts: list[str] = []
        step_parts: list[str] = []
        params: list[object] = []
        registered: list[str] = []
        try:
            for unit, new, old in units.values():
                if old:
                    con.execute(
                        f"UPDATE trajectories SET success = u.success, reward = u.reward, "
                        f"outcome_detail = u.outcome_detail FROM {unit.table} u "
                        "WHERE u.seq IN (SELECT unnest(?::BIGINT[])) AND trajectories.id = u.id "
                        "AND trajectories.success IS NULL AND u.success IS NOT NULL", [old])
                if not new:
                    continue
                name = f"_sf_keep_{unit.number}"
                con.register(name, pa.table({"seq": pa.array(new, pa.int64())}))
                registered.append(name)
                traj_parts.append(
                    "SELECT u.seq, u.id, 'skillforge', u.path, u.lineno, u.source_record, "
                    "u.task_id, u.task, u.agent, u.model, u.attempt, u.success, u.reward, "
                    "u.outcome_detail, u.n_steps, u.input_tokens, u.output_tokens, u.cost, "
                    "u.started_at, u.ended_at, u.meta, ?::VARCHAR, ?::TIMESTAMPTZ "
                    f"FROM {unit.table} u JOIN {name} USING (seq)")
                params += [self.run_id, now]
                step_parts.append(
                    "SELECT seq, trajectory_id, idx::INTEGER, s.role, s.kind, s.text, "
                    "s.tool_name, s.tool_args, s.call_id, s.is_error, "
                    "TRY_CAST(s.timestamp AS TIMESTAMPTZ), s.tokens::INTEGER FROM ("
                    "SELECT seq, id AS trajectory_id, unnest(range(len(steps))) AS idx, "
                    f"unnest(steps) AS s FROM {unit.table} JOIN {name} USING (seq))")
            if new_objs:
                ttab, stab = arrow_batch([t for _, t in new_objs], self.run_id)
                ttab = ttab.add_column(0, "seq", pa.array([s for s, _ in new_objs], pa.int64()))
                stab = stab.add_column(0, "seq", pa.array(
                    [s for s, t in new_objs for _ in t.steps], pa.int64()))
                con.register("_sf_py_t", ttab)
                con.register("_sf_py_s", stab)
                registered += ["_sf_py_t", "_sf_py_s"]
                traj_parts.append(f"SELECT seq, {_TRAJ_COLS} FROM _sf_py_t")
                step_parts.append(f"SELECT seq, {_STEP_COLS} FROM _sf_py_s")
            added = sum(len(new) for _, new, _ in units.values()) + len(new_objs)
            if added:
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute("INSERT INTO trajectories SELECT * EXCLUDE (seq) FROM ("
                                + " UNION ALL ".join(traj_parts) + ") AS t(seq, "
                                f"{_TRAJ_COLS}) ORDER BY seq", params)
                    con.execute("INSERT INTO steps SELECT * EXCLUDE (seq) FROM ("
                                + " UNION ALL ".join(step_parts) + ") AS s(seq, "
                                f"{_STEP_COLS}) ORDER BY seq, idx")
                    con.execute("COMMIT")
                except Exception:
                    con.execute("ROLLBACK")
                    raise
        finally:
            for name in registered:
                con.unregister(name)
        return added, len(self.rows) + len(self.objects) - added
