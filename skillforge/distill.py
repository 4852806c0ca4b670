"""The main job, as a short pipeline: ingest -> mine -> analyze -> consolidate -> gate ->
write -> report.

Each stage is one function in its stage's module and works on one :class:`DistillRun`
(``skillforge._distill_run``): what the stages before it left there is its input.

- ingest (``skillforge._ingest_stage``): trace folders, and the hosts' own session folders
  with ``sources``, into the store;
- reuse (``skillforge._distill_reuse``): when an earlier completed run had the same inputs and
  settings and left the library and lessons as they are, its analysis, and the run ends here;
- mine and analyze (``skillforge.analyze.stage``): the offline miner, the LLM analysts when a
  model is configured, then the held-out gate on the lessons;
- consolidate (``skillforge.consolidate.stage``): one package per capability;
- gate (``skillforge.verify.stage``): evidence checks and PDI;
- write (``skillforge.package.stage``): one library version per skill that passed;
- report (``skillforge.report.stage``): the run record, then the Markdown and HTML report;
- remember (``skillforge._distill_reuse``): the run's keys and analysis, for a later run.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

from skillforge._distill_run import DistillOptions, DistillReport, DistillRun
from skillforge.errors import UsageError
from skillforge.executors import open_executor
from skillforge.progress import progress
from skillforge.settings import Settings
from skillforge.store import RunRecord, connect, home_lock

__all__ = ["PIPELINE", "DistillReport", "distill"]

# verify.gate.DEFAULT_PDI_THRESHOLD, written out so that a distill that reuses an earlier
# run's analysis never imports the verify package (tests/test_startup.py keeps them equal)
DEFAULT_PDI_THRESHOLD = -1.5


def _stage(module: str, name: str) -> Callable[[DistillRun], None]:
    """A stage that imports its module when it first runs: a run that ends early (the reuse
    stage took an earlier run's analysis) loads none of the stages after it."""

    def run(r: DistillRun) -> None:
        getattr(importlib.import_module(module), name)(r)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"``{module}.{name}``, imported on first use."
    return run


# The pipeline, in order: (name, stage, whether it shows its own progress bar). A stage
# reads what the ones before it left on the DistillRun; timings are kept per stage. A stage
# that completes the run (reuse, when it takes an earlier run's analysis) ends it there.
PIPELINE: tuple[tuple[str, Callable[[DistillRun], None], bool], ...] = (
    ("ingest", _stage("skillforge._ingest_stage", "ingest_stage"), True),
    ("reuse", _stage("skillforge._distill_reuse", "reuse_stage"), False),
    ("mine", _stage("skillforge.analyze.stage", "mine_stage"), False),
    ("analyze", _stage("skillforge.analyze.stage", "analyze_stage"), True),
    ("consolidate", _stage("skillforge.consolidate.stage", "consolidate_stage"), False),
    ("gate", _stage("skillforge.verify.stage", "gate_stage"), False),
    ("write", _stage("skillforge.package.stage", "write_stage"), False),
    ("record", _stage("skillforge.report.stage", "record_stage"), False),
    ("remember", _stage("skillforge._distill_reuse", "remember_stage"), False),
)
# the run record's timing keys before the stages had names of their own
_TIMING_GROUPS = {"ingest": ("ingest",), "analyze": ("mine", "analyze"),
                  "consolidate": ("consolidate",), "verify": ("gate",)}


def distill(
    paths: Sequence[Path | str],
    *,
    settings: Settings,
    out: Path | str | None = None,
    llm: str | None = None,
    base: Path | str | None = None,
    labels: Path | str | None = None,
    min_support: int = 3,
    concurrency: int = 8,
    show_progress: bool | None = None,
    wait_s: float = 60.0,
    pdi_threshold: float = DEFAULT_PDI_THRESHOLD,
    strict: bool = False,
    sources: Sequence[str] | None = None,
    folds: int = 5,
    reuse: bool = True,
    executor: str = "local",
    ray_address: str | None = None,
) -> DistillReport:
    """Distill trace folders into the skill library; return the run report.

    The stages (``PIPELINE``): ingest (``skillforge._ingest_stage``), mine and analyze
    (``skillforge.analyze.stage``: the offline miner, the LLM analysts when a model is set,
    then the held-out gate on the lessons), consolidate (``skillforge.consolidate.stage``),
    gate (``skillforge.verify.stage``), write (``skillforge.package.stage``), then the
    record and report (``skillforge.report.stage``). Each stage that has no progress bar of
    its own shows a spinner on a terminal (``skillforge.progress``).

    ``sources``: agent hosts (``claude-code``, ``codex``, ...) whose own session folders are
    harvested first (``skillforge.harvest``: only sessions new or grown since the last time).

    Between consolidation and commit the evidence gate runs (``skillforge.verify.gate``):
    statements without valid evidence are removed, every skill is scored (PDI), a skill
    below ``pdi_threshold`` gets a second pass, and one still below it is committed
    flagged as low-PDI, or not at all with ``strict``.

    When an earlier completed run had the same inputs and settings (the trajectories in the
    store with their outcomes and signals, every option above that changes content, the code)
    and the library and the store's lessons are as it left them, its analysis is reused:
    nothing is mined, gated or committed again, and the report says so
    (``skillforge._distill_reuse``). ``reuse=False`` runs the whole pipeline regardless.

    ``executor``: where the held-out gate's fold miners and the LLM analysts' calls run
    (``skillforge.executors``): ``local`` (this process) or ``ray`` (Ray tasks on the cluster
    at ``ray_address``, ``RAY_ADDRESS``, or a local Ray instance); the lessons are the same.
    Ray is connected to before anything is read, so a missing or unreachable cluster fails
    the run with nothing changed.

    The whole run holds the home's lock: a second distill on the same home waits up to
    ``wait_s`` seconds, then fails with BusyError; the store and library stay intact.
    """
    opts = DistillOptions(llm=llm, labels=labels, min_support=min_support,
                          concurrency=concurrency, show_progress=show_progress,
                          pdi_threshold=pdi_threshold, strict=strict, sources=sources,
                          folds=folds, reuse=reuse, executor=executor,
                          ray_address=ray_address)
    lib_path = Path(out).expanduser() if out else settings.library_path
    run, report = _start(paths, settings, lib_path, opts, base)  # checks the options
    if base:
        from skillforge.package.parse import parse

        opts.base = parse(Path(base))
    t0 = time.perf_counter()
    with closing(open_executor(executor, address=ray_address)) as ex, \
            home_lock(settings.home, what="distill", wait_s=wait_s):
        con = connect(settings.db_path)
        try:
            r = DistillRun(paths=paths, settings=settings, con=con, run=run, report=report,
                           lib_path=lib_path, opts=opts, t0=t0, executor=ex)
            _run_pipeline(r)
        finally:
            con.close()
    from skillforge.report.stage import report_stage

    return report_stage(r)


def _start(paths: Sequence[Path | str], settings: Settings, lib_path: Path,
           opts: DistillOptions, base: Path | str | None) -> tuple[RunRecord, DistillReport]:
    """Check the options; the run record and the (empty) report of a new distill."""
    if opts.min_support < 1:
        raise UsageError("--min-support must be at least 1")
    if opts.folds == 1 or opts.folds < 0:
        raise UsageError(f"--folds {opts.folds}: give 2 or more folds, or 0 to turn the "
                         "held-out gate off", hint="the default, 5, holds out a fifth of the "
                         "tasks at a time")
    model = opts.llm or settings.llm.model
    run = RunRecord(kind="distill", config={
        "paths": [str(p) for p in paths], "out": str(lib_path), "llm": model,
        "base": str(base) if base else None, "min_support": opts.min_support,
        "pdi_threshold": opts.pdi_threshold, "strict": opts.strict, "folds": opts.folds,
        "executor": opts.executor})
    report = DistillReport(run_id=run.id, started_at=run.started_at.isoformat(timespec="seconds"),
                           inputs=[str(p) for p in paths], library=str(lib_path), llm=model)
    return run, report


def _run_pipeline(r: DistillRun) -> None:
    for name, stage, own_bar in PIPELINE:
        t = time.perf_counter()
        if own_bar:
            stage(r)
        else:
            with progress(name, None, enabled=r.opts.show_progress):
                stage(r)
        r.timings[name] = time.perf_counter() - t
        if r.finished:
            break
    for key, names in _TIMING_GROUPS.items():
        r.timings[key] = sum(r.timings.get(n, 0.0) for n in names)
