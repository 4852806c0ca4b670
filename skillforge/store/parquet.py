"""The store's trajectories and steps as Hive-partitioned Parquet (``traces export --parquet``).

Layout of an export folder::

    skillforge-export.json                       the manifest, written last
    trajectories/source_format=F/bucket=B/*.parquet
    steps/source_format=F/bucket=B/*.parquet

Both tables are partitioned the same way: by the input format the run was read from and by a
hash bucket of the trajectory id (``md5``, so a run lands in the same bucket on every machine
and every DuckDB version), so one partition pair holds whole trajectories. The files keep the
store's columns as they are (``steps`` with its ``trajectory_id``); the partition columns come
back from the paths when read with ``hive_partitioning``::

    SELECT format, count(*) FROM read_parquet('EXPORT/trajectories/**/*.parquet',
                                              hive_partitioning = true) GROUP BY 1

``skillforge ingest EXPORT`` reads an export back (``skillforge.traces.parquet_export``): the
manifest is what makes the folder an input, so a half-written export (no manifest yet) is
not one. Signals and labels beside the runs are not exported: outcomes are the
``success``/``reward`` columns, and ingest computes the signals again from the steps.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from skillforge.errors import UsageError

__all__ = ["BUCKETS", "EXPORT_KIND", "MANIFEST", "ExportReport", "bucket_sql",
           "export_parquet"]

MANIFEST = "skillforge-export.json"
EXPORT_KIND = "parquet-v1"   # the manifest's ``skillforge_export`` value
BUCKETS = 16
PARTITION_BY = ("source_format", "bucket")


def bucket_sql(column: str, buckets: int) -> str:
    """SQL for the hash bucket of a trajectory id column (0 .. buckets - 1)."""
    return f"(('0x' || left(md5({column}), 8))::UBIGINT % {int(buckets)})"


@dataclass
class ExportReport:
    """What an export wrote."""

    path: str
    trajectories: int
    steps: int
    partitions: int
    files: int
    bytes: int
    seconds: float

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"wrote {self.trajectories} trajectories ({self.steps} steps) to {self.path}: "
                f"{self.partitions} partitions, {self.files} Parquet files, "
                f"{self.bytes / 1e6:.1f} MB in {self.seconds:.1f}s")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(vars(self))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("skillforge")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def export_parquet(con: duckdb.DuckDBPyConnection, out: Path | str, *,
                   buckets: int = BUCKETS) -> ExportReport:
    """Write the store's trajectories and steps under ``out`` (a new or empty folder)."""
    if buckets < 1:
        raise UsageError("--buckets must be at least 1")
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder",
                         hint="export into a new folder (an export is never merged in place)")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    opts = (f"FORMAT PARQUET, PARTITION_BY ({', '.join(PARTITION_BY)}), COMPRESSION zstd, "
            "FILENAME_PATTERN 'data_{i}', OVERWRITE_OR_IGNORE")
    n_traj = (con.execute("SELECT count(*) FROM trajectories").fetchone() or (0,))[0]
    n_steps = (con.execute("SELECT count(*) FROM steps").fetchone() or (0,))[0]
    # paths are quoted as SQL literals: COPY ... TO takes no parameters
    traj_dir = str(out / "trajectories").replace("'", "''")
    steps_dir = str(out / "steps").replace("'", "''")
    con.execute(
        f"COPY (SELECT *, format AS source_format, {bucket_sql('id', buckets)} AS bucket "
        f"FROM trajectories ORDER BY id) TO '{traj_dir}' ({opts})")
    con.execute(
        f"COPY (SELECT s.*, t.format AS source_format, "
        f"{bucket_sql('s.trajectory_id', buckets)} AS bucket FROM steps s "
        f"JOIN trajectories t ON t.id = s.trajectory_id ORDER BY s.trajectory_id, s.idx) "
        f"TO '{steps_dir}' ({opts})")
    files = sorted(out.rglob("*.parquet"))
    partitions = len({f.parent for f in files if f.is_relative_to(out / "trajectories")})
    manifest = {
        "skillforge_export": EXPORT_KIND, "skillforge": _version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "partition_by": list(PARTITION_BY), "buckets": buckets,
        "tables": {"trajectories": {"rows": n_traj, "path": "trajectories"},
                   "steps": {"rows": n_steps, "path": "steps"}},
        "read_with": "read_parquet('trajectories/**/*.parquet', hive_partitioning = true)",
    }
    # written last: a folder without it is an unfinished export, and ingest skips it
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ExportReport(path=str(out), trajectories=n_traj, steps=n_steps,
                        partitions=partitions, files=len(files),
                        bytes=sum(f.stat().st_size for f in files),
                        seconds=time.perf_counter() - t0)
