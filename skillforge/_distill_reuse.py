"""The distill pipeline's reuse check: an earlier run's analysis, when nothing it rests on moved.

On unchanged input the pipeline is a fixed point: mining the same trajectories gives the same
lessons, the held-out gate keeps the same ones, consolidating them onto the packages the
earlier run committed gives those packages again, and nothing is committed
(``tests/test_distill.py``). So a distill whose inputs and settings are an earlier completed
run's, and that finds the library and the store's lessons as that run left them, takes that
run's analysis instead of computing it again: no mining, no held-out gate, no consolidation,
no PDI, no commit. Its report is rebuilt from what the earlier run stored, with this run's
own ingest counts and problems, and says "reused analysis of run <id> (inputs and settings
unchanged)".

Two keys decide, both SHA-256 of canonical JSON:

- the inputs key, computed right after ingest: digests of the trajectories, their steps and
  outcome signals as stored (``skillforge.store.reuse``: any added, removed or changed row,
  label or signal changes it); every option that changes what is written (library, input
  paths, ``--llm`` and the LLM settings that shape requests, ``--base`` as parsed,
  ``--labels`` with the file's bytes, ``--min-support``, ``--pdi-threshold``, ``--strict``,
  ``--folds``, ``--from``, redaction); and the code (skillforge's version, the miner's
  ``MINER_VERSION``, a hash of every file of the installed package, and the Python, DuckDB
  and pydantic versions). ``--concurrency``, ``--wait`` and the progress display change no
  content and are left out.
- the state key: what a run itself writes and the next one reads back. The library's git refs
  and HEAD, its interrupted-commit marker and the size and time of every working-tree file,
  and digests of the store's lessons, their evidence and the analyzers' marks. Taken at the
  end of a completed run (what it left) and at the reuse check (what is there now).

Crash safety: the ``distill_reuse`` row (migration 0007) is written as the run's last stage,
after its skills are committed and its run record saved, in one transaction; a run that
stops before that leaves no row, and one that stopped after changing the library or the
lessons leaves a state no row has, so the next run does the whole pipeline. A run with failed
LLM analyses or a held-back skill leaves no row either (a retry may do better).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from skillforge._distill_run import DistillRun
from skillforge.report import CitedStep, SkillOutcome
from skillforge.store import save_run
from skillforge.store.outcomes import claim_outcomes
from skillforge.store.reuse import find_reuse, inputs_digest, lessons_digest, save_reuse

__all__ = ["REUSE_NOTE", "ReuseCheck", "inputs_key", "remember_stage", "reuse_stage",
           "state_key"]

REUSE_NOTE = "reused analysis of run {run_id} (inputs and settings unchanged)"
KEY_SCHEMA = 1  # bump when what goes into a key changes
# report fields the analysis fills (the rest are this run's: ids, times, ingest problems)
_STORED = {"skills", "skipped_skills", "heldout_gate", "rejected_lessons", "conflicts",
           "user_conflicts", "cited", "hints", "counts"}
# LLM settings that change what is asked or how much of it (not how hard to try)
_LLM_CONTENT = {"model", "base_url", "max_input_tokens", "max_output_tokens", "token_budget"}
_PENDING = "skillforge-pending"  # skillforge.package.library's interrupted-commit marker


class ReuseCheck:
    """The reuse stage's result: the keys of this run, and the run it reused, if any."""

    def __init__(self, inputs_key: str, trajectories: int, notes_from: int) -> None:
        self.inputs_key = inputs_key
        self.trajectories = trajectories
        self.notes_from = notes_from  # report notes before this index are ingest's
        self.reused_from: str | None = None


def _sha(obj: Any) -> str:
    raw = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


@cache
def _code_digest() -> str:
    """Hash of every file of the installed skillforge package (the code this process runs):
    each file's path relative to the package and the SHA-256 of its bytes, in path order,
    bytecode caches left out."""
    root = Path(__file__).resolve().parent  # this module sits at the package's top
    files: list[tuple[str, ...]] = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = Path(dirpath).relative_to(root).parts
        files += [(*rel, n) for n in names if n != "__pycache__"
                  and os.path.splitext(n)[1] != ".pyc" and os.path.isfile(os.path.join(dirpath, n))]
    h = hashlib.sha256()
    for parts in sorted(files):  # the order of the paths' parts, as sorting Paths gives
        h.update("/".join(parts).encode() + b"\0")
        with open(os.path.join(root, *parts), "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import duckdb
    import pydantic

    from skillforge._version import __version__
    from skillforge.analyze import MINER_VERSION

    return {"skillforge": __version__, "miner": MINER_VERSION,
            "code": _code_digest(), "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pydantic": pydantic.VERSION}


def _file_digest(path: Path | str | None) -> dict[str, str] | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError:  # ingest reported it; a later readable file changes the key
        return {"path": str(p), "sha256": ""}
    return {"path": str(p.resolve()), "sha256": hashlib.sha256(data).hexdigest()}


def inputs_key(r: DistillRun) -> tuple[str, int]:
    """The key of this run's inputs and settings, and the number of trajectories in the store."""
    tables, n = inputs_digest(r.con)
    o = r.opts
    key = {
        "schema": KEY_SCHEMA,
        "versions": _versions(),
        "store": tables,
        "paths": [str(Path(p).expanduser().resolve()) for p in r.paths],
        "library": str(r.lib_path.expanduser().resolve()),
        "llm": o.llm,
        "llm_settings": r.settings.llm.model_dump(mode="json", include=_LLM_CONTENT),
        "redact": r.settings.redact,
        "base": o.base.model_dump(mode="json") if o.base is not None else None,
        "labels": _file_digest(o.labels),
        "min_support": o.min_support,
        "pdi_threshold": o.pdi_threshold,
        "strict": o.strict,
        "folds": o.folds,
        "sources": list(o.sources or []),
    }
    return _sha(key), n


def _files(root: Path, skip: set[str]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every file under ``root``, not descending into ``skip``."""
    out = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for n in sorted(names):
            p = Path(dirpath, n)
            try:
                st = p.lstat()
            except OSError:
                continue
            out.append((p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    return out


def _refs(git_dir: Path) -> dict[str, str]:
    """HEAD, every loose ref and the packed refs, as their files say (what git reads)."""
    out = {}
    for name in ("HEAD", "packed-refs"):
        f = git_dir / name
        if f.is_file():
            out[name] = f.read_text(encoding="utf-8", errors="replace")
    refs = git_dir / "refs"
    for rel, _, _ in _files(refs, set()) if refs.is_dir() else []:
        out[f"refs/{rel}"] = (refs / rel).read_text(encoding="utf-8", errors="replace")
    return out


def _library_state(lib: Path) -> dict[str, Any] | None:
    """The library as the next distill would start from it (None: it cannot be read).

    Its refs (every version is a tag, HEAD the branch commits go to), the interrupted-commit
    marker, and the size and time of every file of the working tree: a commit, a rollback, a
    correction, a hand edit or a half-finished write all change it.
    """
    git_dir = lib / ".git"
    if not git_dir.is_dir():
        return {"git": False, "exists": lib.exists()}
    try:
        return {"git": True, "refs": _refs(git_dir), "pending": (git_dir / _PENDING).exists(),
                "files": _files(lib, {".git"})}
    except OSError:
        return None


def state_key(r: DistillRun) -> str | None:
    """The key of the library and the store's lessons as they are now (None: unknown)."""
    lib = _library_state(r.lib_path.expanduser())
    if lib is None:
        return None
    return _sha({"schema": KEY_SCHEMA, "library": lib, "lessons": lessons_digest(r.con)})


def _ingest_counts(r: DistillRun, n_traj: int) -> dict[str, Any]:
    """This run's own ingest counts (what ``record_stage`` puts first in a run's counts)."""
    ing = r.ing
    return {"files_read": ing.files_ok, "files_skipped": len(ing.skipped_files),
            "trajectories_read": ing.trajectories, "trajectories_new": ing.added,
            "trajectories_in_store": n_traj, "secrets_redacted": sum(ing.redactions.values()),
            **ing.outcomes.counts()}


def _rebuild(r: DistillRun, prev: str, stored: dict[str, Any], n_traj: int) -> None:
    """Fill the report and save the run record from an earlier run's stored analysis."""
    report, run = r.report, r.run
    skills = []
    for s in stored["skills"]:
        s = {**s, "diff": "", "reported": []}
        if s["status"] != "rejected":  # committed then, and the library still holds it
            s["status"] = "unchanged"
        skills.append(SkillOutcome.model_validate(s))
    report.skills = skills
    report.skipped_skills = stored["skipped_skills"]
    report.heldout_gate = stored["heldout_gate"]
    report.rejected_lessons = stored["rejected_lessons"]
    report.conflicts = stored["conflicts"]
    report.user_conflicts = stored["user_conflicts"]
    report.hints = stored["hints"]
    report.reused_from = prev
    report.notes += [REUSE_NOTE.format(run_id=prev), *stored["notes"]]
    report.cited = {k: CitedStep.model_validate(v) for k, v in stored["cited"].items()}
    reported = claim_outcomes(r.con, r.lib_path,
                              [s.name for s in skills if s.status != "rejected"], run.id)
    for s in skills:
        s.reported = reported.get(s.name, [])
    counts = dict(stored["counts"])
    counts.update(_ingest_counts(r, n_traj))
    counts["skills_changed"] = 0
    counts["outcomes_reported"] = sum(len(v) for v in reported.values())
    report.counts = counts
    report.seconds = time.perf_counter() - r.t0
    run.config["reused"] = prev
    run.counts = counts
    run.timings = {**r.timings, "total": report.seconds}
    run.errors = report.problems[:1000]
    run.outputs = {"skills": {s.name: s.version for s in skills}, "reused": prev}
    run.status = "partial" if report.problems else "ok"
    run.ended_at = datetime.now(UTC)
    save_run(r.con, run)


def reuse_stage(r: DistillRun) -> None:
    """Compute this run's inputs key; when an earlier completed run had it and left the
    library and lessons as they are now, take its analysis and finish the run here."""
    key, n = inputs_key(r)
    chk = ReuseCheck(key, n, len(r.report.notes))
    r.reuse = chk
    if not r.opts.reuse:
        return
    now = state_key(r)
    found = find_reuse(r.con, key, now) if now is not None else None
    if found is None:
        return
    prev, stored = found
    _rebuild(r, prev, stored, n)
    chk.reused_from = prev
    r.finished = True


def remember_stage(r: DistillRun) -> None:
    """Store this completed run's keys and analysis for a later run to reuse (not for a run
    with failed LLM analyses or held-back skills: a retry may do better)."""
    chk = r.reuse
    if chk is None or r.llm_errors:
        return
    state = state_key(r)
    if state is None:
        return
    from skillforge.traces.redact import Redactor

    report = r.report
    data = report.model_dump(mode="json", include=_STORED)
    for s in data["skills"]:
        s.pop("reported", None)
    data["notes"] = Redactor().value(report.notes[chk.notes_from:])
    save_reuse(r.con, r.run.id, chk.inputs_key, state, data)
