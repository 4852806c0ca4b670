"""The counts ``traces stats`` shows, without opening DuckDB while the store is unchanged.

The first reader after a change computes the counts with DuckDB (``skillforge.store.stats``)
and keeps them in ``store.stats.json`` beside the store file, stamped with that file's
identity: inode, size, and modification and status-change times in nanoseconds. A later
reader takes them only when the stamp is the same and the store has no write-ahead log, so
any write to the store since (every DuckDB write changes the file or leaves a WAL; a file
put in its place has another inode or status-change time) sends it back to DuckDB.
Nothing that writes the store has to remember to clear the cache.

Counts are kept only when they are safe to key this way: no writer held the home while they
were read (a reader then sees the snapshot, not the live file), the stamp was the same
before and after the read, and the file's times were at least ``SETTLE_S`` seconds old
(times have a coarse clock tick, so a write in the same tick as the stamp could leave it
unchanged; a write after the counts were taken is later than that).

This module imports no DuckDB and no pydantic: a cache hit costs a ``stat`` and a small JSON
read.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["SETTLE_S", "STATS_FILE", "cached_stats", "store_stats"]

STATS_FILE = "store.stats.json"
SETTLE_S = 2.0
_VERSION = 1


def _stamp(db: Path) -> list[int] | None:
    """The store file's identity, or None when it is missing or has a write-ahead log."""
    try:
        st = os.stat(db)
    except OSError:
        return None
    if os.path.exists(f"{db}.wal"):
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def cached_stats(db: Path) -> dict[str, Any] | None:
    """The kept counts when the store file is as it was when they were taken, else None."""
    stamp = _stamp(db)
    if stamp is None:
        return None
    try:
        doc = json.loads((db.parent / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("version") != _VERSION or doc.get("stamp") != stamp:
        return None
    stats = doc.get("stats")
    return stats if isinstance(stats, dict) else None


def _keep(db: Path, stamp: list[int], stats: dict[str, Any]) -> None:
    import tempfile

    doc = {"version": _VERSION, "stamp": stamp, "stats": stats}
    try:
        fd, tmp = tempfile.mkstemp(prefix=".stats-", suffix=".tmp", dir=db.parent)
    except OSError:  # a home this user may read but not write: no cache, same answer
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
        os.replace(tmp, db.parent / STATS_FILE)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def store_stats(db: Path | str) -> dict[str, Any]:
    """The ``traces stats`` counts of the store at ``db``: kept ones while the store is
    unchanged, else read with DuckDB (and kept when that is safe, see the module docstring)."""
    db = Path(db)
    hit = cached_stats(db)
    if hit is not None:
        return hit
    from skillforge.store._db import connect, writer_active
    from skillforge.store.trajectories import stats

    before = _stamp(db)
    idle = not writer_active(db.parent)
    con = connect(db, read_only=True)
    try:
        st = stats(con)
    finally:
        con.close()
    if (before is not None and idle and _stamp(db) == before
            and time.time_ns() - max(before[2], before[3]) >= SETTLE_S * 1e9):
        _keep(db, before, st)
    return st
