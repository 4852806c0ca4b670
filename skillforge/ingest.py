"""Stage one: read trace files and folders into the store, normalized and redacted."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from skillforge._ingest_batch import Batch
from skillforge._ingest_outcomes import IngestOutcomes, OutcomeSummary
from skillforge._ingest_seen import SeenFiles
from skillforge._perf import fewer_gc_passes
from skillforge.errors import UsageError
from skillforge.progress import progress
from skillforge.settings import Settings
from skillforge.store import RunRecord, connect, home_lock, save_run
from skillforge.traces import (
    BUILTIN_SIDECAR_SUFFIXES,
    Problem,
    ReadContext,
    unloaded_sidecar_names,
)

if TYPE_CHECKING:  # what reads a file loads when there is one to read (see ingest_into)
    from skillforge._native_parallel import ParallelIngest
    from skillforge._native_sql import NativeSQL
    from skillforge.traces import Trajectory
    from skillforge.traces.redact import Redactor

BATCH_STEPS = 50_000
# Files with these endings are expected to hold traces: if they cannot be read, that is a
# problem to report. Other files (README.md, SOURCE.txt, images) that hold no recognisable
# trace are listed as ignored and do not make the run partial.
TRACE_SUFFIXES = {".json", ".jsonl", ".ndjson", ".eval", ".traj"}
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", ".skillforge"}


@dataclass
class IngestReport:
    """What an ingest did: counts, formats, problems, and the ids it read."""

    run_id: str
    files: int = 0
    files_ok: int = 0
    sidecars: int = 0
    trajectories: int = 0
    added: int = 0
    duplicates: int = 0
    steps: int = 0
    redactions: dict[str, int] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    trajectory_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    outcomes: OutcomeSummary = field(default_factory=OutcomeSummary)

    @property
    def exit_code(self) -> int:
        """0 when everything was ingested, 2 when something was skipped."""
        return 2 if self.problems else 0

    def summary(self) -> str:
        """A few plain lines for the terminal."""
        red = sum(self.redactions.values())
        lines = [
            f"read {self.trajectories} trajectories ({self.steps} steps) from {self.files_ok} "
            f"of {self.files} files in {self.seconds:.1f}s: {self.added} new"
            + (f", {self.duplicates} already in the store" if self.duplicates else ""),
        ]
        if self.ignored_files:
            lines.append(
                f"ignored {len(self.ignored_files)} files that are not traces: "
                + ", ".join(Path(f).name for f in self.ignored_files[:5])
                + (" ..." if len(self.ignored_files) > 5 else "")
            )
        if self.formats:
            lines.append(
                "formats: " + ", ".join(f"{k} {v}" for k, v in sorted(self.formats.items()))
            )
        lines.extend(self.outcomes.lines(self.trajectories))
        if red:
            lines.append(
                f"redacted {red} secrets: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.redactions.items()))
            )
        if self.problems:
            lines.append(
                f"skipped {len(self.problems)} unreadable inputs "
                f"({len(self.skipped_files)} whole files):"
            )
            lines.extend(f"  {p}" for p in self.problems[:50])
            if len(self.problems) > 50:
                lines.append(f"  ... and {len(self.problems) - 50} more (see `--json`)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "files": self.files,
            "files_ok": self.files_ok,
            "trajectories": self.trajectories,
            "added": self.added,
            "duplicates": self.duplicates,
            "steps": self.steps,
            "redactions": self.redactions,
            "formats": self.formats,
            "skipped_files": self.skipped_files,
            "ignored_files": self.ignored_files,
            "problems": [
                {"file": p.file, "line": p.line, "reason": p.reason} for p in self.problems
            ],
            "seconds": round(self.seconds, 3),
            "outcomes": self.outcomes.to_dict(),
        }


def iter_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Files under the given paths, recursively, in a stable order; hidden tool dirs skipped."""
    for p in paths:
        if p.is_file():
            yield p
        elif p.is_dir():
            for sub in sorted(p.rglob("*")):
                rel = sub.relative_to(p).parts
                if any(part in SKIP_DIRS for part in rel) or sub.name.startswith("."):
                    continue
                if sub.is_file():
                    yield sub


def _sidecar_formats() -> dict[str, list[Any]]:
    from skillforge.traces import formats

    names: dict[str, list[Any]] = {}
    for fmt in formats().values():
        for name in getattr(fmt, "sidecar_names", ()):
            names.setdefault(name, []).append(fmt)
    return names


def is_sidecar(path: Path, sidecars: dict[str, list[Any]]) -> bool:
    """True when a format reads this file as a sidecar of its traces.

    A format that names the file in ``sidecar_names`` and also has ``is_sidecar(path)``
    claims it only when that check says the content is its sidecar; otherwise the file is
    ingested like any other.
    """
    for fmt in sidecars.get(path.name, ()):
        check = getattr(fmt, "is_sidecar", None)
        if check is None or check(path):
            return True
    return False


class _Sidecars:
    """:func:`is_sidecar` over the formats, which load (every reader, and the plugins) only
    for a file that may be a sidecar (see ``traces.unloaded_sidecar_names``): a folder of
    unchanged JSONL is told apart without them."""

    def __init__(self) -> None:
        self._formats: dict[str, list[Any]] | None = None
        self._unloaded = unloaded_sidecar_names()

    def __call__(self, path: Path) -> bool:
        if self._formats is None:
            if self._unloaded is not None and path.name not in self._unloaded \
                    and path.suffix.lower() not in BUILTIN_SIDECAR_SUFFIXES:
                return False
            self._formats = _sidecar_formats()
        return is_sidecar(path, self._formats)


def _root_of(path: Path, roots: Sequence[Path]) -> Path | None:
    return next((r for r in roots if r == path or r in path.parents), None)


def is_ignorable(path: Path) -> bool:
    """True for a file that is neither named nor shaped like a trace (docs, images, notes)."""
    if path.suffix.lower() in TRACE_SUFFIXES:
        return False
    from skillforge.traces import detect, probe

    pr = probe(path)
    return pr.container in ("text", "binary", "empty") or (
        pr.container == "json" and detect(pr) is None and path.suffix.lower() != ""
    )


def _is_native(path: Path) -> bool:
    from skillforge.traces import detect, probe

    fmt = detect(probe(path))
    return fmt is not None and fmt.name == "skillforge"


def _holds_secret(t: Trajectory) -> bool:
    from skillforge.traces.redact import holds_secret

    return holds_secret(t)


def ingest_native_files(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], *,
                        redact: bool, labels: dict[str, Any],
                        run_id: str) -> dict[str, ParallelIngest]:
    """``_native_parallel.ingest_native_files``, imported (with Arrow) when a run of files
    goes to the workers, not by an ingest that has none."""
    from skillforge._native_parallel import ingest_native_files as run

    return run(con, paths, redact=redact, labels=labels, run_id=run_id)


def read_file(path: Path, ctx: ReadContext) -> tuple[str | None, Iterator[Trajectory]]:
    """Detect a file's format and return ``(format name, trajectories)``; None when unknown."""
    from skillforge.traces._read import read_path

    return read_path(path, ctx)


def ingest(
    paths: Sequence[Path | str],
    *,
    settings: Settings,
    labels: Path | str | None = None,
    redact: bool | None = None,
    show_progress: bool | None = None,
) -> IngestReport:
    """Read every trace file under ``paths`` into the store; bad input is reported, not fatal."""
    with home_lock(settings.home, what="ingest"):
        con = connect(settings.db_path)
        try:
            return ingest_into(
                con,
                paths,
                settings=settings,
                labels=labels,
                redact=redact,
                show_progress=show_progress,
            )
        finally:
            con.close()


def ingest_into(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path | str],
    *,
    settings: Settings,
    labels: Path | str | None = None,
    redact: bool | None = None,
    show_progress: bool | None = None,
) -> IngestReport:
    """:func:`ingest` on an open store connection (the caller holds the home lock)."""
    roots = [Path(p).expanduser() for p in paths]
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    label_map: dict[str, Any] = {}
    if labels:
        from skillforge.traces import load_labels

        label_map = load_labels(Path(labels))
    do_redact = settings.redact if redact is None else redact
    made: list[Redactor] = []  # made when first needed: the detectors take a while to load

    def redactor() -> Redactor:
        if not made:
            from skillforge.traces.redact import Redactor

            made.append(Redactor())
        return made[0]

    if not do_redact:
        from skillforge.traces.redact import warn_unredacted

        warn_unredacted(str(settings.db_path))
    run = RunRecord(
        kind="ingest",
        config={
            "paths": [str(p) for p in roots],
            "labels": str(labels) if labels else None,
            "redact": do_redact,
        },
    )
    report = IngestReport(run_id=run.id)
    t0 = time.perf_counter()
    files = list(iter_files(roots))
    sidecar = _Sidecars()
    extras = IngestOutcomes(files, label_map, roots)
    # files unchanged since an earlier ingest are not parsed again (not with labels to apply)
    seen = SeenFiles.load(con, redact=do_redact,
                          enabled=not labels and not extras.index.files)
    with fewer_gc_passes():
        batch = Batch(con, run.id)
        fast: NativeSQL | None = None

        def flush() -> None:
            added, dup = batch.flush()
            report.added += added
            report.duplicates += dup
            if fast is not None:
                fast.release(batch.last_seq)

        def take(t: Trajectory, root: Path | None, seq: int) -> None:
            """One trajectory a reader gave: redacted, finalized, labelled, batched."""
            from skillforge.traces.redact import prepare_for_store

            content, fixed_id = prepare_for_store(t, t.content_json(), redactor(),
                                                  redact=do_redact)
            t.finalize(content)
            if fixed_id:
                t.id = fixed_id  # the id its redacted copy has: no duplicate rows
            extras.label(t, root)
            extras.note(t, root)
            batch.add(seq, t)
            count(t.id, len(t.steps), t.source.format)
            if batch.steps >= BATCH_STEPS:
                flush()

        def count(traj_id: str, steps: int, fmt_name: str) -> None:
            report.steps += steps
            report.trajectory_ids.append(traj_id)
            report.formats[fmt_name] = report.formats.get(fmt_name, 0) + 1

        total_bytes = sum(f.stat().st_size for f in files) or 1
        unchanged = {str(f): w for f in files if (w := seen.unchanged(f)) is not None}
        candidates = [f for f in files if not (sidecar(f) or extras.is_label_file(f)
                                               or is_ignorable(f) or str(f) in unchanged)]
        fast_files: dict[str, int] = {}
        par_first: dict[str, list[Path]] = {}
        if candidates:  # what reads files: the loop below reaches it for candidates only, so
            # a folder whose files are all unchanged (or sidecars, label files, not traces)
            # loads none of it (nor Arrow, nor the trajectory model)
            from skillforge._native_parallel import parallel_groups
            from skillforge._native_sql import NativeSQL, fast_native, seq_of
            from skillforge.traces import Trajectory, rendering_key
            from skillforge.traces.native import parse_line

            # skillforge JSONL goes through DuckDB's JSON reader when nothing but the file's
            # own outcome labels it (see _native_sql), units staged ahead by threads
            wanted = set(candidates)
            fast_files = {str(f): n for n, f in enumerate(files) if f in wanted
                          and fast_native(f, extras, _root_of(f, roots))}
            if fast_files:
                fast = NativeSQL(con, [(n, Path(f)) for f, n in fast_files.items()])
            # workers when the total work is worth it: one large native file, or many small
            par_first = {str(g[0]): g for g in parallel_groups(
                candidates, lambda f: str(f) not in fast_files and _is_native(f))}
        par_done: dict[str, ParallelIngest] = {}
        try:
            with progress("ingest", total_bytes, enabled=show_progress) as bar:
                for file_no, f in enumerate(files):
                    size = f.stat().st_size
                    if sidecar(f) or extras.is_label_file(f):
                        report.sidecars += 1
                        bar.advance(size)
                        continue
                    if is_ignorable(f):
                        report.ignored_files.append(str(f))
                        bar.advance(size)
                        continue
                    report.files += 1
                    before = len(report.problems)
                    ctx = ReadContext(
                        report=report.problems.append, labels=label_map,
                        root=_root_of(f, roots)
                    )
                    bar.describe(f"ingest {f.name[:40]}")
                    was = unchanged.get(str(f))
                    if was is not None:  # what parsing it again would report: all duplicates
                        report.duplicates += len(was.ids)
                        report.steps += was.steps
                        report.trajectory_ids += was.ids
                        report.files_ok += 1
                        if was.format:
                            report.formats[was.format] = (
                                report.formats.get(was.format, 0) + len(was.ids))
                        bar.advance(size)
                        continue
                    if str(f) in par_first:  # the first of a run of native files worth workers
                        flush()  # keep the store in file order
                        par_done.update(ingest_native_files(
                            con, par_first[str(f)], redact=do_redact, labels=label_map,
                            run_id=run.id))
                    par = par_done.pop(str(f), None)
                    if par is not None:
                        report.problems += [Problem(str(f), why, line)
                                            for line, why in par.problems]
                        report.added += par.added
                        report.duplicates += par.duplicates
                        report.steps += par.steps
                        report.trajectory_ids += par.ids
                        for kind, c in par.redactions.items():
                            redactor().counts[kind] = redactor().counts.get(kind, 0) + c
                        if par.trajectories and not par.problems:
                            seen.remember(f, par.ids, par.steps, "skillforge")
                        if par.trajectories:
                            report.files_ok += 1
                            report.formats["skillforge"] = (
                                report.formats.get("skillforge", 0) + par.trajectories)
                        else:
                            report.skipped_files.append(str(f))
                        bar.advance(size)
                        continue
                    n_file = 0
                    file_ids: list[str] = []
                    file_steps = 0
                    file_formats: set[str] = set()
                    plain = True  # no run of it joins a group of renderings across files
                    if fast is not None and str(f) in fast_files:
                        name: str | None = "skillforge"
                        trajs: Iterator[Trajectory] = iter(())
                        for unit, ln in fast.lines(file_no):
                            seq = seq_of(file_no, ln.lineno)
                            obj: Trajectory | None = None
                            if ln.fast and ln.needs_object:  # bookkeeping or detectors
                                got = parse_line(ln.raw, str(f), ln.lineno)
                                if isinstance(got, Trajectory) and got.finalize().id == ln.id \
                                        and not (ln.check and _holds_secret(got)):
                                    obj = got
                                else:  # a secret, or not what the SQL read: the Python path
                                    ln.fast = False
                            if ln.fast:
                                if obj is not None:
                                    extras.label(obj, ctx.root)
                                    extras.note(obj, ctx.root)
                                    plain = plain and rendering_key(obj, ctx.root) is None
                                else:
                                    extras.labelled_in_file(ln.id)
                                batch.add_row(unit, seq, ln.id, ln.steps)
                                count(ln.id, ln.steps, "skillforge")
                                if batch.steps >= BATCH_STEPS:
                                    flush()
                                traj_id, n_steps = ln.id, ln.steps
                            else:
                                if not ln.raw.strip():
                                    continue
                                got = parse_line(ln.raw, str(f), ln.lineno)
                                if isinstance(got, str):
                                    ctx.problem(f, got, ln.lineno)
                                    continue
                                if not got.steps:  # as traces.read_path reports it
                                    ctx.problem(f, f"{got.source.record or 'record'} holds no "
                                                "usable steps (fields of the wrong types?)",
                                                ln.lineno)
                                    continue
                                take(got, ctx.root, seq)
                                plain = plain and rendering_key(got, ctx.root) is None
                                traj_id, n_steps = got.id, len(got.steps)
                            file_ids.append(traj_id)
                            file_steps += n_steps
                            file_formats.add("skillforge")
                            n_file += 1
                    else:
                        name, trajs = read_file(f, ctx)
                    for t in trajs:
                        take(t, ctx.root, seq_of(file_no, n_file + 1))
                        file_ids.append(t.id)
                        file_steps += len(t.steps)
                        file_formats.add(t.source.format)
                        plain = plain and rendering_key(t, ctx.root) is None
                        n_file += 1
                    if name and n_file and plain and len(report.problems) == before:
                        seen.remember(f, file_ids, file_steps,
                                      next(iter(file_formats)) if len(file_formats) == 1
                                      else None)
                    if name and n_file:
                        report.files_ok += 1
                    elif name and len(report.problems) == before:
                        report.problems.append(Problem(str(f), "no trajectories in file"))
                    if n_file == 0:
                        report.skipped_files.append(str(f))
                    bar.advance(size)
            flush()
        finally:
            if fast is not None:
                fast.close()
        extras.finish(con, report, run.id)
        seen.save(con, run.id)
        report.trajectories = len(report.trajectory_ids)
        report.redactions = dict(made[0].counts) if made else {}
        report.seconds = time.perf_counter() - t0
        run.status = "partial" if report.problems else "ok"
        run.counts = {
            k: v
            for k, v in report.to_dict().items()
            if k in ("files", "files_ok", "trajectories", "added", "duplicates", "steps")
        }
        run.counts["redactions"] = sum(report.redactions.values())
        run.counts.update(report.outcomes.counts())
        run.errors = [str(p) for p in report.problems[:1000]]
        run.timings = {"total": report.seconds}
        run.ended_at = datetime.now(UTC)
        save_run(con, run)
    return report
