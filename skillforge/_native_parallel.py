"""Ingest of skillforge JSONL files on several cores.

Whether to start workers is decided by the total work: a run of consecutive native files
(one large file, or many small ones) whose bytes add up to ``MIN_FILE_BYTES`` goes to one
pool. Each file is cut at line boundaries into chunks of about ``CHUNK_BYTES``; worker processes
parse, validate, redact, hash and label each chunk and hand back Arrow tables (cheap to pass
between processes); the parent only drops trajectories already stored and inserts. Memory
stays bounded by the chunks in flight, not by the file. Results come back in file order, so
the store ends up as the single-process path would leave it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from skillforge.store.trajectories import insert_arrow

CHUNK_BYTES = 8 << 20
MIN_FILE_BYTES = 32 << 20  # smaller files are not worth starting workers for


def main_is_import_safe() -> bool:
    """Whether spawned workers may import the program's main module.

    Spawned workers re-import ``__main__``; a script calling ``skillforge.ingest`` at top level
    without an ``if __name__ == "__main__":`` guard would run again in every worker. The
    ``skillforge`` command, ``python -c``, notebooks and guarded scripts are safe; for an
    unguarded script ingest stays in one process.
    """
    if multiprocessing.current_process().name != "MainProcess":
        return False
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path is None:
        return True
    try:
        return "__main__" in Path(path).read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return False


def worth_it(path: Path) -> bool:
    """Whether a file is large enough, and the machine has the cores, for parallel ingest."""
    try:
        big = (os.cpu_count() or 1) >= 2 and path.stat().st_size >= MIN_FILE_BYTES
    except OSError:
        return False
    return big and main_is_import_safe()


def parallel_groups(files: Sequence[Path], native: Callable[[Path], bool]) -> list[list[Path]]:
    """Runs of consecutive native files (``native(f)``) worth ingesting with workers.

    A run qualifies when its files add up to ``MIN_FILE_BYTES`` (one large file, or many
    small ones); the machine needs two cores and an import-safe main module.
    """
    if (os.cpu_count() or 1) < 2 or not main_is_import_safe():
        return []
    try:  # not enough bytes in all: no file needs probing
        if sum(f.stat().st_size for f in files) < MIN_FILE_BYTES:
            return []
    except OSError:
        pass
    groups: list[list[Path]] = []
    run: list[Path] = []
    size = 0

    def close() -> None:
        if run and size >= MIN_FILE_BYTES:
            groups.append(list(run))

    for f in files:
        if native(f):
            try:
                size += f.stat().st_size
            except OSError:
                continue
            run.append(f)
            continue
        close()
        run, size = [], 0
    close()
    return groups


def _chunks(path: Path) -> Iterator[tuple[int, int, int]]:
    """``(start byte, end byte, first line number)`` of each chunk, cut after a newline."""
    size = path.stat().st_size
    start, line = 0, 1
    with path.open("rb") as fh:
        while start < size:
            if start + CHUNK_BYTES < size:
                fh.seek(start + CHUNK_BYTES)
                fh.readline()
                end = fh.tell()
            else:
                end = size
            fh.seek(start)
            n_lines = fh.read(end - start).count(b"\n")
            yield start, end, line
            start, line = end, line + n_lines


@dataclass
class ChunkResult:
    """What a worker made of one chunk."""

    path: str
    trajectories: pa.Table | None
    steps: pa.Table | None
    ids: list[str]
    n_steps: int
    problems: list[tuple[int, str]] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)


def _work(args: tuple[str, int, int, int, bool, dict[str, Any], str]) -> ChunkResult:
    import gc

    from skillforge.store.trajectories import arrow_batch
    from skillforge.traces import Redactor, Trajectory, apply_labels
    from skillforge.traces.native import parse_line
    from skillforge.traces.redact import prepare_for_store

    gc.disable()  # acyclic objects only; the worker exits or takes the next chunk
    path, start, end, first_line, redact, labels, run_id = args
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    redactor = Redactor()
    trajs: list[Trajectory] = []
    problems: list[tuple[int, str]] = []
    parts = data.split(b"\n")
    for k, raw in enumerate(parts):
        if not raw.strip():
            continue
        lineno = first_line + k
        # with its newline, as reading the file line by line gives it (pydantic's messages
        # count lines and columns in it)
        got = parse_line(raw + b"\n" if k < len(parts) - 1 else raw, path, lineno)
        if isinstance(got, str):
            problems.append((lineno, got))
            continue
        t = got
        content, fixed_id = prepare_for_store(t, t.content_json(), redactor, redact=redact)
        t.finalize(content)
        if fixed_id:
            t.id = fixed_id
        apply_labels(t, labels)
        trajs.append(t)
    unique = list({t.id: t for t in reversed(trajs)}.values())[::-1]  # first copy wins
    ttab, stab = arrow_batch(unique, run_id) if unique else (None, None)
    gc.enable()
    return ChunkResult(path, ttab, stab, [t.id for t in trajs], sum(len(t.steps) for t in trajs),
                       problems, dict(redactor.counts))


@dataclass
class ParallelIngest:
    """Totals of a parallel file ingest."""

    trajectories: int = 0
    added: int = 0
    duplicates: int = 0
    steps: int = 0
    ids: list[str] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)


def ingest_native_parallel(
    con: duckdb.DuckDBPyConnection, path: Path, *, redact: bool, labels: dict[str, Any],
    run_id: str, workers: int | None = None,
) -> ParallelIngest:
    """Ingest one skillforge JSONL file with worker processes; see the module docstring."""
    return ingest_native_files(con, [path], redact=redact, labels=labels, run_id=run_id,
                               workers=workers)[str(path)]


def ingest_native_files(
    con: duckdb.DuckDBPyConnection, paths: Sequence[Path], *, redact: bool,
    labels: dict[str, Any], run_id: str, workers: int | None = None,
) -> dict[str, ParallelIngest]:
    """Ingest skillforge JSONL files with one pool of workers; totals per file, in order.

    Chunks of all files go to the pool at once (a small file is one chunk), and results are
    inserted in file order, so the store ends up as reading the files one by one would."""
    outs = {str(p): ParallelIngest() for p in paths}
    seen: set[str] = set()
    jobs = [(str(p), s, e, line, redact, labels, run_id) for p in paths
            for s, e, line in _chunks(p)]
    n = max(2, min(workers or (os.cpu_count() or 2), 8, len(jobs)))
    ctx = multiprocessing.get_context("spawn")  # never fork a process holding DuckDB
    with ctx.Pool(n) as pool:
        for res in pool.imap(_work, jobs):
            out = outs[res.path]
            out.problems += res.problems
            for kind, c in res.redactions.items():
                out.redactions[kind] = out.redactions.get(kind, 0) + c
            out.trajectories += len(res.ids)
            out.steps += res.n_steps
            out.ids += res.ids
            added = 0
            if res.trajectories is not None and res.steps is not None:
                added = _insert(con, res.trajectories, res.steps, seen)
            out.added += added
            out.duplicates += len(res.ids) - added
    return outs


def _insert(con: duckdb.DuckDBPyConnection, ttab: pa.Table, stab: pa.Table,
            seen: set[str]) -> int:
    """Insert the rows of trajectories not stored yet (nor earlier in this file)."""
    import pyarrow.compute as pc  # ~0.15 s to import: only where a worker's rows are written

    ids: list[str] = ttab.column("id").to_pylist()  # unique within a chunk
    stored = {r[0] for r in con.execute(
        "SELECT id FROM trajectories WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    ).fetchall()}
    if stored:  # outcomes fill in where the stored copy has none (labels given later)
        upd = ttab.filter(pc.is_in(ttab.column("id"), pa.array(sorted(stored))))  # noqa: F841
        con.execute("UPDATE trajectories SET success = u.success, reward = u.reward, "
                    "outcome_detail = u.outcome_detail FROM upd u WHERE trajectories.id = u.id "
                    "AND trajectories.success IS NULL AND u.success IS NOT NULL")
    keep = [i for i in ids if i not in stored and i not in seen]
    seen.update(keep)
    if not keep:
        return 0
    karr = pa.array(keep)
    insert_arrow(con, ttab.filter(pc.is_in(ttab.column("id"), karr)),
                 stab.filter(pc.is_in(stab.column("trajectory_id"), karr)))
    return len(keep)
