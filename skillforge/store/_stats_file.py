"""The file of kept ``traces stats`` counts: its stamp, reading, writing, dropping, and the
writers' side (``keep_after_write``). See ``skillforge.store.stats_cache`` for the rules.

Imports neither DuckDB (until a writer counts), the trajectory model, nor the store's
connection module, which calls :func:`forget` and :func:`keep_after_write`.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

__all__ = ["STATS_FILE", "cached_stats", "forget", "keep", "keep_after_write", "stamp", "stats"]

STATS_FILE = "store.stats.json"
_VERSION = 1


def stats(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts for ``traces stats``: trajectories, steps, outcomes, formats, tool calls."""
    n, succ, fail, unl = con.execute(
        "SELECT count(*), count(*) FILTER (success), count(*) FILTER (success = FALSE), "
        "count(*) FILTER (success IS NULL) FROM trajectories").fetchone() or (0, 0, 0, 0)
    steps = (con.execute("SELECT count(*) FROM steps").fetchone() or (0,))[0]
    formats = dict(con.execute(
        "SELECT format, count(*) FROM trajectories GROUP BY format ORDER BY 2 DESC, 1").fetchall())
    tools = dict(con.execute(
        "SELECT tool_name, count(*) FROM steps WHERE kind = 'tool_call' AND tool_name IS NOT NULL "
        "GROUP BY tool_name ORDER BY 2 DESC, 1").fetchall())
    errors = (con.execute(
        "SELECT count(*) FROM steps WHERE is_error").fetchone() or (0,))[0]
    return {"trajectories": n, "steps": steps, "success": succ, "failure": fail,
            "unlabeled": unl, "error_steps": errors, "formats": formats, "tools": tools}


def stamp(db: Path) -> list[int] | None:
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
    now = stamp(db)
    if now is None:
        return None
    try:
        doc = json.loads((db.parent / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("version") != _VERSION or doc.get("stamp") != now:
        return None
    stats = doc.get("stats")
    return stats if isinstance(stats, dict) else None


def keep(db: Path, at: list[int], stats: dict[str, Any]) -> bool:
    """Write ``stats`` stamped ``at`` beside the store (atomic rename); False if it could not."""
    import tempfile

    doc = {"version": _VERSION, "stamp": at, "stats": stats}
    try:
        fd, tmp = tempfile.mkstemp(prefix=".stats-", suffix=".tmp", dir=db.parent)
    except OSError:  # a home this user may read but not write: no cache, same answer
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
        os.replace(tmp, db.parent / STATS_FILE)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


def forget(db: Path) -> None:
    """Drop the counts kept for the store at ``db``: every writer does so on opening it."""
    with contextlib.suppress(OSError):
        (db.parent / STATS_FILE).unlink()


def keep_after_write(db: Path) -> bool:
    """Count the store at ``db`` and keep the counts; True when they are kept (or already were).

    Called by the holder of the home's lock once its own connections are closed. The stamp is
    taken while a read-only connection is open, when no other process can open the file for
    writing (and the next that does calls :func:`forget`); a file with a WAL, another
    connection of this process still open, a file another process holds, or any other error
    leaves no counts, and the writer carries on.
    """
    try:
        if cached_stats(db) is not None:
            return True
        if not db.exists():
            return False
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        try:
            at = stamp(db)
            if at is None:
                return False
            st = stats(con)
            if stamp(db) != at:
                return False
            return keep(db, at, st)
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - counting is an extra; the write it follows stands
        return False
