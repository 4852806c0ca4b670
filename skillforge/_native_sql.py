"""skillforge JSONL read by DuckDB's JSON functions: no Python object per step for most lines.

DuckDB takes a unit of lines (several small files together, or a large file cut at line ends,
about ``UNIT_BYTES``), decides for each line whether pydantic reads it exactly as DuckDB did,
and for those lines builds the content JSON byte for byte as ``Trajectory.content_json`` does,
hashes it into the id and runs the secret pre-check's patterns over it (RE2). The rows stay in
an in-memory staging database until :class:`~skillforge._ingest_batch.Batch` inserts them with
SQL; the next unit is staged on a second connection while this one's rows are written.

The test for "pydantic reads it as DuckDB did" is that the line is, byte for byte, the line
``traces.native.dump_line`` writes for the values DuckDB read (every skillforge writer uses
it: ``traces export``, the runners, the trainer). Such a line holds no duplicate or unknown
key, no blank space, no null, no value of another JSON type than its field's, no escape or
number spelled another way; on top of that the values must be what the model allows (roles,
kinds, a timestamp of the form ``2024-05-20T10:00:00[.ffffff](Z|+hh:mm)``, numbers in the
store's range, at least one step). Every other line takes the Python path
(``traces.native.parse_line``, the pre-check, the redactor: what every line took before), so
bad lines give the same problems and odd ones the same rows. Then:

* tool arguments or meta DuckDB may not spell as pydantic-core does (floats, nested
  objects, control characters): Python re-serializes them with pydantic-core and keeps the
  line only when the text is the same (and not nested deeper than pydantic reads);
* a line whose content, or its file name and meta, the pre-check's patterns match: the
  pre-check itself (``traces.blob_may_hold``) decides on the same bytes; a line it says may
  hold a secret goes to the detectors (``redact.holds_secret``) and, when they find one, to
  the Python path, which redacts it as before.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import queue
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pydantic_core

from skillforge._native_statement import unit_sql

if TYPE_CHECKING:
    from skillforge._ingest_outcomes import IngestOutcomes

ENABLED = True  # False: every line takes the Python path (what tests compare against)

UNIT_BYTES = 8 << 20
STAGE = "_sf_stage"  # the in-memory database the units are staged in
AHEAD = 2  # units staged ahead, each by a thread of its own, while ingest writes one
BATCH_ROWS = 256  # lines per Arrow record batch: DuckDB reads batches on all its threads
MAX_VALUE_DEPTH = 190  # tool arguments / meta nested deeper go the Python way (pydantic: ~200)
@dataclass
class Piece:
    """Lines ``[start, end)`` (bytes) of one file, the first of them numbered ``first_line``."""

    path: Path
    file_no: int
    start: int
    end: int
    first_line: int


@dataclass
class Line:
    """One line of a file as the fast path left it. A ``fast`` line is staged in DuckDB
    (``id``, ``steps``; ``labelled``: its outcome is known); ``check``: the pre-check says
    it may hold a secret, so the detectors must find none in it before it is kept;
    ``needs_object``: ingest's bookkeeping needs the Trajectory (unlabeled, or meta naming a
    session or a report). A line not ``fast`` takes the Python path (``raw``)."""

    lineno: int
    raw: bytes
    fast: bool = False
    id: str = ""
    steps: int = 0
    labelled: bool = False
    check: bool = False
    needs_object: bool = False


@dataclass
class Unit:
    """One DuckDB pass over pieces of files; its table holds the staged rows."""

    number: int
    pieces: list[Piece]
    table: str = ""
    lines: dict[int, list[Line]] = field(default_factory=dict)  # by file_no
    open_files: set[int] = field(default_factory=set)
    last_seq: int = -1
    parsed: bool = False  # its lines are judged (``table``: "" when DuckDB could not read it)
    dropped: bool = False


def fast_native(path: Path, extras: IngestOutcomes, root: Path | None) -> bool:
    """Whether a file goes the fast way: skillforge JSONL that ``traces.read_path`` hands to
    the native reader as it is, with no label to apply to its runs and in no Harbor trial
    folder (``extras.plain_file``), and whose name the pre-check passes (the name is stored
    with each run, redacted when it may hold a secret)."""
    if not ENABLED:
        return False
    from skillforge.traces import blob_may_hold, detect, probe

    pr = probe(path)
    if pr.container in ("unreadable", "empty", "binary") or pr.error or (
            pr.encoding and pr.encoding != "utf-8"):
        return False
    fmt = detect(pr)
    return (fmt is not None and fmt.name == "skillforge" and extras.plain_file(path, root)
            and not blob_may_hold(str(path).encode()))


def seq_of(file_no: int, position: int) -> int:
    """The order of a trajectory in the ingest: its file, then its line (or record)."""
    return (file_no << 32) | position


def plan_units(files: Sequence[tuple[int, Path]], unit_bytes: int | None = None) -> list[Unit]:
    """Pieces of about ``unit_bytes`` (``UNIT_BYTES``) in file order: small files share a
    unit, a large file is cut after a newline into several."""
    unit_bytes = unit_bytes or UNIT_BYTES
    units: list[Unit] = []
    cur: list[Piece] = []
    size = 0
    for file_no, path in files:
        total = path.stat().st_size
        start, line = 0, 1
        with path.open("rb") as fh:
            while start < total:
                end = total
                if start + max(unit_bytes - size, 1) < total:
                    fh.seek(start + max(unit_bytes - size, 1))
                    fh.readline()
                    end = fh.tell()
                fh.seek(start)
                n_lines = fh.read(end - start).count(b"\n")
                cur.append(Piece(path, file_no, start, end, line))
                size += end - start
                start, line = end, line + n_lines
                if size >= unit_bytes:
                    units.append(Unit(len(units), cur))
                    cur, size = [], 0
    if cur:
        units.append(Unit(len(units), cur))
    return units


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class NativeSQL:
    """The fast path over the native files of one ingest, unit by unit, in file order.

    Units are staged in an in-memory database attached to the store's connection
    (``STAGE``), so that other connections, each in a thread of its own, stage the next
    ``AHEAD`` units while ingest writes the rows of this one: DuckDB reads a unit on one core
    (its few thousand wide rows make a single task), so writing and staging keep every core
    busy (staging is most of the work: 2 staging threads on 2 cores, 0.84 - 0.86x DuckDB's
    ``read_json`` time on 108 MB, against 0.70x with one)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, files: Sequence[tuple[int, Path]],
                 unit_bytes: int | None = None):
        from concurrent.futures import ThreadPoolExecutor

        from skillforge.traces import precheck_sql

        self.con = con
        self.units = plan_units(files, unit_bytes)
        self.unit_of: dict[int, list[Unit]] = {}
        for u in self.units:
            for p in u.pieces:
                self.unit_of.setdefault(p.file_no, [])
                if u not in self.unit_of[p.file_no]:
                    self.unit_of[p.file_no].append(u)
                u.open_files.add(p.file_no)
        self.sql = unit_sql("{table}", precheck_sql, checked_json=False)
        self.sql_checked = unit_sql("{table}", precheck_sql, checked_json=True)
        names = {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()")
                 .fetchall()}
        self.attached = STAGE not in names
        if self.attached:
            con.execute(f"ATTACH ':memory:' AS {STAGE}")
        ahead = len(self.units) > 1 and _cores() >= 2
        # The threads here (one writing a unit, ``AHEAD`` staging the next ones) each run
        # their statement on a core; DuckDB's worker threads on top of them only contend for
        # the same cores (2 cores: 25 - 30% more CPU for no gain in time), so it gets the
        # cores left over, and its setting is given back by ``close``.
        self.threads: int | None = None
        want = max(1, _cores() - 2)
        row = con.execute("SELECT current_setting('threads')").fetchall()[0]
        if row is not None and int(row[0]) > want:
            self.threads = int(row[0])
            con.execute(f"SET threads = {want}")
        self.ahead = min(AHEAD, len(self.units) - 1) if ahead else 0
        self.pool = ThreadPoolExecutor(max_workers=self.ahead) if self.ahead else None
        self.cursors: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        self._all_cursors = [con.cursor() for _ in range(self.ahead)]
        for c in self._all_cursors:
            self.cursors.put(c)
        self.pending: dict[int, Future[None]] = {}

    def lines(self, file_no: int) -> Iterator[tuple[Unit, Line]]:
        """Every line of a file (blank ones too), in order, with the unit that staged it."""
        for u in self.unit_of.get(file_no, []):
            if self.pool is not None:  # the next units are staged while this one is used
                for nxt in self.units[u.number + 1:u.number + 1 + self.ahead]:
                    if not nxt.parsed and nxt.number not in self.pending:
                        self.pending[nxt.number] = self.pool.submit(self._staged, nxt)
            self._ready(u)
            yield from ((u, ln) for ln in u.lines.pop(file_no, []))
            u.open_files.discard(file_no)

    def _staged(self, u: Unit) -> None:
        cur = self.cursors.get()  # a connection of its own for each thread at work
        try:
            self._parse(u, cur)
        finally:
            self.cursors.put(cur)

    def _ready(self, u: Unit) -> None:
        job = self.pending.pop(u.number, None)
        if job is not None:
            job.result()
        elif not u.parsed:
            self._parse(u, self.con)

    def release(self, flushed_seq: int) -> None:
        """Drop the tables of units whose files are read and whose rows are all written."""
        for u in self.units:
            if u.table and not u.dropped and not u.open_files and u.last_seq <= flushed_seq \
                    and u.number not in self.pending:
                self.con.execute(f"DROP TABLE IF EXISTS {u.table}")
                u.dropped = True

    def close(self) -> None:
        """Wait for a unit being staged, drop every table still held, detach the stage."""
        for job in self.pending.values():
            job.exception()  # finished, failed or not: its table goes too
        self.pending.clear()
        if self.pool is not None:
            self.pool.shutdown()
        for c in self._all_cursors:
            c.close()
        for u in self.units:
            if u.table and not u.dropped:
                self.con.execute(f"DROP TABLE IF EXISTS {u.table}")
                u.dropped = True
        if self.attached:
            self.con.execute(f"DETACH {STAGE}")
        if self.threads is not None:
            self.con.execute(f"SET threads = {self.threads}")
            self.threads = None

    def _parse(self, u: Unit, con: duckdb.DuckDBPyConnection) -> None:
        """Stage the unit's lines in its table (``con``: this thread's connection)."""
        import pyarrow as pa

        batches: list[pa.RecordBatch] = []
        for p in u.pieces:
            with p.path.open("rb") as fh:
                fh.seek(p.start)
                data = fh.read(p.end - p.start)
            raw = data.split(b"\n")
            if raw and raw[-1] == b"":
                raw.pop()
            # each line as iterating the file gives it: with its newline (pydantic's error
            # messages count lines and columns in it)
            lines = [Line(p.first_line + k, r + b"\n") for k, r in enumerate(raw)]
            if raw and not data.endswith(b"\n"):
                lines[-1].raw = raw[-1]
            u.lines.setdefault(p.file_no, []).extend(lines)
            if lines:
                u.last_seq = seq_of(p.file_no, lines[-1].lineno)
            try:
                data.decode("utf-8")
                sendable = [(ln, 0) for ln in lines]
                arr = _string_array(pa, raw, data)
            except UnicodeDecodeError:  # only the lines that are UTF-8 go to DuckDB
                sendable = []
                for ln in lines:
                    try:
                        ln.raw.decode("utf-8")
                        sendable.append((ln, 0))
                    except UnicodeDecodeError:
                        continue
                arr = pa.array([ln.raw for ln, _ in sendable], pa.binary()).cast(pa.string())
            nos = pa.array([seq_of(p.file_no, ln.lineno) for ln, _ in sendable], pa.int64())
            linenos = pa.array([ln.lineno for ln, _ in sendable], pa.int32())
            fnos = pa.array([p.file_no] * len(sendable), pa.int32())
            for a in range(0, len(sendable), BATCH_ROWS):
                batches.append(pa.record_batch(
                    [nos[a:a + BATCH_ROWS], fnos[a:a + BATCH_ROWS],
                     linenos[a:a + BATCH_ROWS], arr[a:a + BATCH_ROWS]],
                    names=["seq", "file_no", "lineno", "raw"]))
        schema = pa.schema([("seq", pa.int64()), ("file_no", pa.int32()),
                            ("lineno", pa.int32()), ("raw", pa.string())])
        lines_tab = pa.Table.from_batches(batches, schema=schema)
        paths = {p.file_no: str(p.path) for p in u.pieces}
        files_tab = pa.table({"file_no": pa.array(list(paths), pa.int32()),
                              "path": pa.array(list(paths.values()), pa.string())})
        table = f"{STAGE}.unit_{u.number}"
        con.register("_sf_lines", lines_tab)
        con.register("_sf_files", files_tab)
        try:
            try:
                con.execute(self.sql.replace("{table}", table))
            except duckdb.Error:  # a line that is not JSON: leave such lines out first
                con.execute(self.sql_checked.replace("{table}", table))
        except duckdb.Error:  # DuckDB cannot read the unit: all its lines go the Python way
            u.parsed = True
            return
        finally:
            con.unregister("_sf_lines")
            con.unregister("_sf_files")
        u.table = table
        u.parsed = True
        check = self._verify(u, con)
        by_seq = {seq_of(fno, ln.lineno): ln for fno, lns in u.lines.items() for ln in lns}
        for seq, i, steps, labelled, needs in con.execute(
                f"SELECT seq, id, n_steps, success IS NOT NULL, meta_keys FROM {u.table} "
                "WHERE fast").fetchall():
            ln = by_seq[seq]
            ln.fast, ln.id, ln.steps, ln.labelled = True, i, steps, labelled
            ln.check = seq in check
            ln.needs_object = needs or not labelled or ln.check

    def _verify(self, u: Unit, con: duckdb.DuckDBPyConnection) -> set[int]:
        """Python's verdict on the lines the SQL could not settle: values pydantic-core may
        spell differently (a line is left to the Python path unless they are spelled the
        same), and lines the pre-check's patterns match (the pre-check decides; the lines
        that may hold a secret are returned: the detectors look at them)."""
        from skillforge.traces import blob_may_hold

        rejected: list[int] = []
        fixed: list[tuple[int, str]] = []
        check: set[int] = set()
        rows = con.execute(
            f"SELECT seq, content, path, meta, list_transform(steps, lambda s: s.tool_args) "
            f"FROM {u.table} WHERE verify").fetchall()
        for seq, content, path, meta, args in rows:
            if not all(a is None or _canonical(a) for a in args) or (
                    meta is not None and not _canonical(meta)):
                rejected.append(seq)
                continue
            blob = content.encode()
            if "\\u00" in content:  # DuckDB's upper-case escapes: pydantic-core's spelling
                canon = pydantic_core.to_json(pydantic_core.from_json(blob))
                if canon != blob:
                    blob = canon
                    fixed.append((seq, hashlib.sha256(blob).hexdigest()[:32]))
            extra = path.encode() + (meta.encode() if meta is not None else b"")
            if blob_may_hold(blob) or (meta is not None and blob_may_hold(extra)):
                check.add(seq)
        if rejected:
            con.execute(f"UPDATE {u.table} SET fast = false "
                        "WHERE seq IN (SELECT unnest(?::BIGINT[]))", [rejected])
        if fixed:
            con.execute(
                f"UPDATE {u.table} AS u SET id = f.id FROM (SELECT unnest(?::BIGINT[]) AS seq, "
                "unnest(?::VARCHAR[]) AS id) f WHERE u.seq = f.seq",
                [[s for s, _ in fixed], [i for _, i in fixed]])
        return check


def _string_array(pa: Any, raw: list[bytes], data: bytes) -> Any:
    """The lines of ``data`` as an Arrow string array over its own buffer (no copy); each
    but the last keeps its newline, which JSON reads as blank space."""
    offs = array("i", [0])
    offs.extend(itertools.accumulate(len(r) + 1 for r in raw))
    offs[-1] = min(offs[-1], len(data))
    return pa.StringArray.from_buffers(len(raw), pa.py_buffer(offs), pa.py_buffer(data))


def _canonical(text: str) -> bool:
    """Whether pydantic-core reads this JSON object and writes it back as the same text,
    and it is shallow enough for pydantic to read inside a trajectory line."""
    if text.count("[") + text.count("{") > MAX_VALUE_DEPTH and _depth(text) > MAX_VALUE_DEPTH:
        return False
    try:
        return bool(pydantic_core.to_json(pydantic_core.from_json(text)) == text.encode())
    except ValueError:
        return False


def _depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped)."""
    import re

    depth = best = 0
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', "", text):
        if ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best
