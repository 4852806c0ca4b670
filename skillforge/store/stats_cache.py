"""The counts ``traces stats`` shows, without opening DuckDB while the store is unchanged.

The counts (``skillforge.store.stats``) are kept in ``store.stats.json`` beside the store
file, stamped with that file's identity: inode, size, and modification and status-change
times in nanoseconds. A reader takes them only when the stamp is the same and the store has
no write-ahead log, so any write to the store since (every DuckDB write changes the file or
leaves a WAL; a file put in its place has another inode or status-change time) sends it back
to DuckDB.

Who keeps them:

* **Writers.** Every read-write :func:`~skillforge.store.connect` deletes the kept counts
  (:func:`forget`) once it holds the file, before its first write. When the holder of the
  home's lock lets it go, its connections closed, it counts the store with a read-only
  connection of its own and keeps the counts, stamped while that connection is open
  (:func:`keep_after_write`): DuckDB then lets no other process open the file for writing,
  and the next one that does deletes them first. So the first ``traces stats`` after
  ``ingest`` or ``distill`` needs no DuckDB; a writer that stops half-way leaves no counts.
* **Readers**, when no counts are kept: the first ``traces stats`` reads them with DuckDB and
  keeps them only when that is safe: no writer held the home while they were read (a reader
  then sees the snapshot, not the live file), the stamp was the same before and after the
  read, and the file's times were at least ``SETTLE_S`` seconds old (times have a coarse
  clock tick, so a write by another program in the same tick as the stamp could leave it
  unchanged; a write after the counts were taken is later than that).

Keeping counts never fails a command: when anything goes wrong none are kept.

This module imports no DuckDB and no pydantic: a cache hit costs a ``stat`` and a small JSON
read.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from skillforge.store._stats_file import (
    STATS_FILE,
    cached_stats,
    forget,
    keep,
    keep_after_write,
    stamp,
    stats,
)

__all__ = ["SETTLE_S", "STATS_FILE", "cached_stats", "forget", "keep_after_write", "store_stats"]

SETTLE_S = 2.0


def store_stats(db: Path | str) -> dict[str, Any]:
    """The ``traces stats`` counts of the store at ``db``: kept ones while the store is
    unchanged, else read with DuckDB (and kept when that is safe, see the module docstring)."""
    db = Path(db)
    hit = cached_stats(db)
    if hit is not None:
        return hit
    from skillforge.store._db import connect, writer_active

    before = stamp(db)
    idle = not writer_active(db.parent)
    con = connect(db, read_only=True)
    try:
        st = stats(con)
    finally:
        con.close()
    if (before is not None and idle and stamp(db) == before
            and time.time_ns() - max(before[2], before[3]) >= SETTLE_S * 1e9):
        keep(db, before, st)
    return st
