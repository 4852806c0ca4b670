"""A Parquet export of a skillforge store (``traces export --parquet``), read back by ingest.

The export's manifest (``skillforge-export.json``) is the file this format claims; it reads
the Hive-partitioned ``trajectories`` and ``steps`` Parquet files beside it with DuckDB, one
partition at a time and a batch of trajectories at a time, so memory stays flat however
large the export. Trajectories come back as they were stored (their source, outcome, meta
and steps), so ingest gives them the same ids; a partition whose files cannot be read, or a
trajectory whose steps are not all there, is reported and the rest is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skillforge.traces._io import Probe
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces.model import Step, Trajectory

EXPORT_KIND = "parquet-v1"   # skillforge.store.parquet writes it
MANIFEST = "skillforge-export.json"
BATCH = 500                  # trajectories read at a time
# the data files' names (skillforge.store.parquet writes FILENAME_PATTERN 'data_{i}'): ingest
# asks ``is_sidecar`` about them, so they count as the manifest's, not as ignored files
DATA_FILES = frozenset(f"data_{i}.parquet" for i in range(256))

_TRAJ = ("id", "format", "source_file", "source_line", "source_record", "task_id", "task",
         "agent", "model", "attempt", "success", "reward", "outcome_detail", "input_tokens",
         "output_tokens", "cost", "started_at", "ended_at", "meta", "n_steps")
_STEP = ("trajectory_id", "idx", "role", "kind", "text", "tool_name", "tool_args", "call_id",
         "is_error", "ts", "tokens")


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


@register_format
class ParquetExportFormat:
    """Reader for a folder written by ``skillforge traces export --parquet``."""

    name = "skillforge-parquet"
    description = ("a skillforge store exported as Hive-partitioned Parquet (read through "
                   "its manifest)")
    example = "skillforge traces export --parquet EXPORT/  (then: skillforge ingest EXPORT/)"
    container = "json"
    keys = ("skillforge_export", "tables", "partition_by")
    needs = f"an object with \"skillforge_export\": \"{EXPORT_KIND}\""
    sidecar_names = DATA_FILES

    def is_sidecar(self, path: Path) -> bool:
        """True for a data file of an export (TABLE/source_format=F/bucket=B/data_N.parquet)."""
        up = path.parents
        return len(up) > 3 and (up[3] / MANIFEST).is_file()

    def sniff(self, probe: Probe) -> float:
        """Claim the export's manifest."""
        first = probe.first
        if isinstance(first, dict) and first.get("skillforge_export") == EXPORT_KIND:
            return 1.0
        return 0.0

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Every trajectory of the export, partition by partition, in id order within one."""
        import duckdb

        root = probe.path.parent
        manifest = probe.first
        tables = manifest.get("tables") or {}
        traj_dir = root / str((tables.get("trajectories") or {}).get("path", "trajectories"))
        steps_dir = root / str((tables.get("steps") or {}).get("path", "steps"))
        parts = sorted({f.parent for f in traj_dir.rglob("*.parquet")})
        if not parts and (tables.get("trajectories") or {}).get("rows"):
            ctx.problem(probe.path, f"no Parquet files under {traj_dir}: the export is "
                        "incomplete")
            return
        con = duckdb.connect(":memory:")
        try:
            for part in parts:
                yield from self._partition(con, probe.path, part,
                                           steps_dir / part.relative_to(traj_dir), ctx)
        finally:
            con.close()

    def _partition(self, con: Any, manifest: Path, part: Path, steps: Path,
                   ctx: ReadContext) -> Iterator[Trajectory]:
        import duckdb

        # the store's own row readers: an export holds the store's columns, in its order
        from skillforge.store.trajectories import _step_from_row, _traj_from_row

        try:
            ids = [r[0] for r in con.execute(
                f"SELECT id FROM read_parquet('{_sql_path(part)}/*.parquet') ORDER BY id"
            ).fetchall()]
            has_steps = any(steps.glob("*.parquet"))
        except duckdb.Error as exc:
            ctx.problem(manifest, f"cannot read partition {part}: {str(exc)[:200]}")
            return
        t_src = f"read_parquet('{_sql_path(part)}/*.parquet')"
        s_src = f"read_parquet('{_sql_path(steps)}/*.parquet')" if has_steps else None
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            try:
                rows = con.execute(
                    f"SELECT {', '.join(_TRAJ)} FROM {t_src} WHERE id >= ? AND id <= ? "
                    "ORDER BY id", [chunk[0], chunk[-1]]).fetchall()
                by_traj: dict[str, list[Step]] = {}
                if s_src is not None:
                    for r in con.execute(
                            f"SELECT {', '.join(_STEP)} FROM {s_src} WHERE trajectory_id >= ? "
                            "AND trajectory_id <= ? ORDER BY trajectory_id, idx",
                            [chunk[0], chunk[-1]]).fetchall():
                        by_traj.setdefault(r[0], []).append(_step_from_row(r[1:]))
            except duckdb.Error as exc:
                ctx.problem(manifest, f"cannot read partition {part}: {str(exc)[:200]}")
                return
            for r in rows:
                got = by_traj.get(r[0], [])
                if len(got) != (r[19] or 0):
                    ctx.problem(manifest, f"trajectory {r[0]} in {part}: {len(got)} of its "
                                f"{r[19]} steps are in the export; skipped")
                    continue
                yield _traj_from_row(r, got)
