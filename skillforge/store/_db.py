"""Opening the store: one DuckDB file under the home, migrated on open, guarded by a lock.

Concurrency. DuckDB lets one process open a file read-write and then no other process may
open it at all, not even read-only. So:

* writers (ingest, analyze, distill, verify...) hold the home's lock (:func:`home_lock`) for
  their whole run, and :func:`connect` retries a locked file with backoff for up to
  ``WRITER_WAIT_S`` (a reader holds the file only for the few milliseconds of its query);
* every writer, when it takes and when it releases the home's lock, publishes a **read
  snapshot**: a copy of the closed store file at ``.snapshot/store.duckdb`` (copied only
  when the store changed since the last one; atomic rename, so a reader never sees half);
* readers (``connect(read_only=True)``: skills, traces and lessons commands, the MCP server)
  read the live file when no writer holds the home, and the snapshot while one does; they
  also fall back to it, or retry with backoff for up to ``READER_WAIT_S``, when the live
  file is locked. A reader therefore never fails because a distill is running: it sees the
  store as it was when that distill started;
* the counts ``traces stats`` shows are kept beside the store (``stats_cache``): every
  read-write :func:`connect` deletes them before anything is written, and the holder of the
  home's lock counts the store again when it lets the lock go, so the next ``traces stats``
  needs no DuckDB.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import duckdb

from skillforge.errors import BusyError, StoreError
from skillforge.store._migrations import MIGRATIONS
from skillforge.store._stats_file import forget, keep_after_write


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return their names."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)"
    )
    done = {r[0] for r in con.execute("SELECT name FROM migrations").fetchall()}
    known = {name for name, _ in MIGRATIONS}
    unknown = done - known
    if unknown:
        raise StoreError(
            f"store was migrated by a newer skillforge ({', '.join(sorted(unknown))})",
            hint="upgrade skillforge, or point SKILLFORGE_HOME at another folder",
        )
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO migrations VALUES (?, ?)", [name, datetime.now(UTC)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


STORE_FILE = "store.duckdb"  # Settings.db_path's name under the home
WRITER_WAIT_S = 30.0
READER_WAIT_S = 60.0
SNAPSHOT_DIR = ".snapshot"


def snapshot_path(path: Path) -> Path:
    """Where the read snapshot of the store file ``path`` lives."""
    return path.parent / SNAPSHOT_DIR / path.name


def writer_active(home: Path) -> bool:
    """True when some process holds the home's lock (probed without waiting for it)."""
    lock = home / ".lock"
    if not lock.exists():
        return False
    with lock.open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=read_only)


def connect(path: Path | str, *, read_only: bool = False,
            wait_s: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating when needed) the DuckDB store at ``path``.

    ``read_only`` connections read the snapshot while a writer holds the home (see the
    module docstring); both kinds retry a locked file with backoff for up to ``wait_s``
    seconds (default ``READER_WAIT_S`` / ``WRITER_WAIT_S``), then raise BusyError.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError("no store yet", where=str(path),
                         hint="run `skillforge ingest PATH` or `skillforge distill PATH` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    snap = snapshot_path(path)
    if read_only and snap.exists() and writer_active(path.parent):
        try:
            return _open(snap, True)
        except duckdb.Error:
            pass  # a damaged snapshot: read the live file below
    limit = (READER_WAIT_S if read_only else WRITER_WAIT_S) if wait_s is None else wait_s
    deadline = time.monotonic() + limit
    delay = 0.02
    while True:
        try:
            con = _open(path, read_only)
            break
        except duckdb.IOException as exc:
            if read_only and snap.exists():
                try:
                    return _open(snap, True)
                except duckdb.Error:
                    pass
            if time.monotonic() + delay > deadline:
                raise BusyError(f"cannot open the store: {exc}", where=str(path),
                                hint="another skillforge process is using this home; "
                                     "wait for it to finish") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    if not read_only:
        forget(path)  # this process holds the file now; the kept counts go before any write
        migrate(con)
    return con


def publish_snapshot(path: Path) -> Path | None:
    """Copy the (closed) store file to its read snapshot when it changed; return the copy.

    Called by the holder of the home's lock when no connection of its own is open, so the
    file is consistent. Skipped when the snapshot already matches the file's size and time.
    """
    if not path.exists():
        return None
    snap = snapshot_path(path)
    st = path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    meta = snap.with_suffix(".json")
    wal = path.with_name(path.name + ".wal")
    if not wal.exists() and snap.exists() and meta.exists():
        try:
            if json.loads(meta.read_text(encoding="utf-8")) == stamp:
                return snap
        except (OSError, ValueError):
            pass
    snap.parent.mkdir(exist_ok=True)
    tmp = snap.with_name(f".{snap.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(path, tmp)
        tmp_wal = tmp.with_name(tmp.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, tmp_wal)
        os.replace(tmp, snap)
        if wal.exists():
            os.replace(tmp_wal, snap.with_name(snap.name + ".wal"))
        else:
            snap.with_name(snap.name + ".wal").unlink(missing_ok=True)
        meta.write_text(json.dumps(stamp), encoding="utf-8")
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return snap


@contextmanager
def home_lock(home: Path, *, wait_s: float = 30.0, what: str = "skillforge") -> Iterator[None]:
    """Hold the home's exclusive lock; wait up to ``wait_s`` then fail with BusyError."""
    home.mkdir(parents=True, exist_ok=True)
    lock_path = home / ".lock"
    fh: IO[str] = lock_path.open("a+")
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "another process"
                    raise BusyError(
                        f"{what}: the home is busy ({holder})", where=str(home),
                        hint="wait for the other run to finish, or use another SKILLFORGE_HOME",
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} running {what} since {datetime.now(UTC):%H:%M:%S}Z")
        fh.flush()
        publish_snapshot(home / STORE_FILE)  # what readers see while this run writes
        yield
        publish_snapshot(home / STORE_FILE)  # the run's connections are closed by now
        keep_after_write(home / STORE_FILE)  # the counts of what it wrote, for `traces stats`
    finally:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        finally:
            fh.close()
