"""Stage two: analyze what the store holds. The miner first, then the LLM analysts.

``analyze`` mines every trajectory offline (no model), then, when an LLM is configured
(``--llm`` or settings), runs the success and failure analysts over the labeled trajectories
that this model's analysts have not analyzed yet, as a LangGraph fan-out. Finished
trajectories are written and marked as they complete, and answers are cached in the store,
so a killed run resumes where it stopped without repeating finished calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb

from skillforge.analyze._remote import analyze_sharded
from skillforge.analyze._sink import LessonSink
from skillforge.analyze.fanout import fan_out
from skillforge.analyze.faults import llm_fault_lines
from skillforge.analyze.llm_analysts import (
    ANALYZER_VERSION,
    DroppedLesson,
    LLMAnalyst,
    analyzer_name,
)
from skillforge.analyze.miner import MinerStats, fact_claims, mine_store, miner_context
from skillforge.analyze.vocab import build_vocabulary
from skillforge.errors import LLMError, UsageError
from skillforge.executors import Executor
from skillforge.llm.cache import ResponseCache
from skillforge.llm.client import LLMClient
from skillforge.llm.spec import parse_llm_spec
from skillforge.progress import Progress, progress
from skillforge.settings import Settings
from skillforge.store import (
    RunRecord,
    connect,
    home_lock,
    iter_trajectories,
    save_run,
    unanalyzed_ids,
)
from skillforge.traces.model import Trajectory

__all__ = ["AnalyzeReport", "analyze", "analyze_llm_into"]

LOAD_BATCH = 64  # trajectories read from the store at a time, as the fan-out reaches them


class _Loader:
    """Reads trajectories in batches, in a worker thread, just before the fan-out needs them.

    Only batches with unfinished trajectories stay in memory, and the first calls go out
    after one small batch is read rather than after the whole selection.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, lock: threading.Lock, ids: list[str]):
        self.con, self.lock, self.ids = con, lock, ids
        self.pos = {tid: i for i, tid in enumerate(ids)}
        self.batches: dict[int, asyncio.Task[dict[str, Trajectory]]] = {}
        self.left: dict[int, int] = {}

    def read(self, batch: list[str]) -> dict[str, Trajectory]:
        """The trajectories ``batch`` names, by id (read under the store's lock)."""
        with self.lock:
            return {t.id: t for t in iter_trajectories(self.con, ids=batch)}

    async def get(self, tid: str) -> Trajectory:
        """The trajectory ``tid`` (its batch is read on first use)."""
        b = self.pos[tid] // LOAD_BATCH
        if b not in self.batches:
            chunk = self.ids[b * LOAD_BATCH:(b + 1) * LOAD_BATCH]
            self.batches[b] = asyncio.ensure_future(asyncio.to_thread(self.read, chunk))
            self.left[b] = len(chunk)
        got = await self.batches[b]
        return got[tid]

    def done(self, tid: str) -> None:
        """Forget a finished trajectory's batch once all of it is finished."""
        b = self.pos[tid] // LOAD_BATCH
        self.left[b] -= 1
        if self.left[b] == 0:
            self.batches.pop(b, None)


@dataclass
class AnalyzeReport:
    """What an analyze run did: the miner's counts, then the LLM analysts'."""

    run_id: str
    miner: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    selected: int = 0
    unlabeled: int = 0
    already: int = 0
    analyzed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    lessons: int = 0
    dropped: list[DroppedLesson] = field(default_factory=list)
    windowed: int = 0
    repaired: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    llm_seconds: float = 0.0

    @property
    def calls(self) -> int:
        """LLM calls made (cache hits not counted)."""
        return int(self.usage.get("calls", 0))

    @property
    def exit_code(self) -> int:
        """0 when every selected trajectory was analyzed, 2 when some failed."""
        return 2 if self.failed else 0

    def summary(self) -> str:
        """A few plain lines for the terminal."""
        lines = []
        if self.miner:
            lines.append(f"miner: {self.miner.get('lessons', 0)} lessons from "
                         f"{self.miner.get('trajectories', 0)} trajectories")
        if self.model is None:
            lines.append("LLM analysts: off (pass --llm MODEL[@BASE_URL] to run them)")
        else:
            u = self.usage
            lines.append(
                f"LLM analysts ({self.model}): analyzed {self.analyzed} of {self.selected} "
                f"trajectories in {self.llm_seconds:.1f}s, {self.lessons} lessons"
                + (f"; {self.already} done before" if self.already else "")
                + (f"; {self.unlabeled} unlabeled skipped" if self.unlabeled else ""))
            lines.append(
                f"calls {u.get('calls', 0)}, cache hits {u.get('cache_hits', 0)}, retries "
                f"{u.get('retries', 0)}, repairs {u.get('repairs', 0)}, tokens "
                f"{u.get('input_tokens', 0)} in / {u.get('output_tokens', 0)} out"
                + (f", {self.windowed} windowed" if self.windowed else ""))
            if self.dropped:
                lines.append(f"dropped {len(self.dropped)} lessons:")
                lines += [f"  {d.trajectory_id[:12]} {d.title[:50]!r}: {d.reason}"
                          for d in self.dropped[:20]]
                if len(self.dropped) > 20:
                    lines.append(f"  ... and {len(self.dropped) - 20} more (see `--json`)")
            if self.failed:
                lines.append(f"failed {len(self.failed)} trajectories (a re-run retries them):")
                lines += [f"  {f['trajectory_id'][:12]}: {f['error']}" for f in self.failed[:20]]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run_id": self.run_id, "miner": self.miner, "model": self.model,
                "selected": self.selected, "unlabeled": self.unlabeled, "already": self.already,
                "analyzed": self.analyzed, "failed": self.failed, "lessons": self.lessons,
                "dropped": [d.to_dict() for d in self.dropped], "windowed": self.windowed,
                "repaired": self.repaired, "usage": self.usage,
                "seconds": round(self.seconds, 3), "llm_seconds": round(self.llm_seconds, 3)}


def _public_url(url: str | None) -> str | None:
    if not url:
        return url
    p = urlsplit(url)
    host = p.hostname or ""
    netloc = host + (f":{p.port}" if p.port else "")
    return urlunsplit((p.scheme, netloc, p.path, "", ""))


def _select(con: duckdb.DuckDBPyConnection, analyzer: str, *, redo: bool,
            limit: int | None, report: AnalyzeReport) -> list[str]:
    labeled = {r[0] for r in con.execute(
        "SELECT id FROM trajectories WHERE success IS NOT NULL").fetchall()}
    total = (con.execute("SELECT count(*) FROM trajectories").fetchone() or (0,))[0]
    report.unlabeled = total - len(labeled)
    todo = sorted(labeled) if redo else [
        i for i in unanalyzed_ids(con, analyzer, ANALYZER_VERSION) if i in labeled]
    report.already = len(labeled) - len(todo)
    return todo[:limit] if limit is not None else todo


async def _run_llm(con: duckdb.DuckDBPyConnection, lock: threading.Lock, client: LLMClient,
                   ids: list[str], *, concurrency: int, context_for: Callable[[Trajectory], str],
                   sink: LessonSink, bar: Progress, report: AnalyzeReport,
                   facts: dict[str, dict[str, Any]] | None = None,
                   executor: Executor | None = None) -> None:
    analyst = LLMAnalyst(client, build_vocabulary(con), context_for=context_for, facts=facts)
    loader = _Loader(con, lock, ids)

    async def job(tid: str) -> Any:
        try:
            return await analyst.analyze(await loader.get(tid))
        finally:
            loader.done(tid)

    async def done(tid: str, outcome: Any) -> None:
        report.dropped.extend(outcome.dropped)
        report.windowed += outcome.windowed
        report.repaired += outcome.repaired
        bar.advance(1)
        await sink.add(tid, outcome.lessons)

    def failed(tid: str, err: LLMError) -> None:
        report.failed.append({"trajectory_id": tid, "error": str(err),
                              "kind": type(err).__name__})
        bar.advance(1)

    try:
        # Twice as many trajectories as calls in flight: while calls wait on the network,
        # the next prompts are built, so a freed slot is used at once. The client's semaphore
        # keeps calls in flight at ``concurrency``.
        if executor is not None and executor.remote:  # shards on the executor's workers
            await analyze_sharded(executor, analyst, ids, read=loader.read,
                                  concurrency=concurrency, on_result=done, on_error=failed)
        else:
            await fan_out(ids, job, concurrency=2 * concurrency, on_result=done,
                          on_error=failed)
    finally:
        try:
            sink.flush()  # synchronous: it must happen even while the run is being cancelled
        finally:
            await client.aclose()


def analyze(settings: Settings, *, llm: str | None = None, concurrency: int | None = None,
            limit: int | None = None, redo: bool = False, mine: bool = True,
            show_progress: bool | None = None, client: LLMClient | None = None) -> AnalyzeReport:
    """Mine the store, then run the LLM analysts on what they have not analyzed yet.

    ``llm`` is a spec (``MODEL`` or ``MODEL@BASE_URL``, see ``skillforge.llm.spec``); without
    it the model from settings is used, and with none configured only the miner runs.
    ``concurrency`` bounds calls in flight (default: settings, 8). ``limit`` caps how many
    trajectories the analysts take this run; ``redo`` analyzes every labeled trajectory
    again (cached answers are reused). ``client`` replaces the client built from settings.
    Holds the home's lock and records the run in ``runs``.
    """
    llm_settings = parse_llm_spec(llm, settings.llm) if llm else settings.llm
    model = client.model if client is not None else llm_settings.model
    conc = concurrency or llm_settings.concurrency
    run = RunRecord(kind="analyze", config={
        "model": model, "base_url": _public_url(llm_settings.base_url), "concurrency": conc,
        "limit": limit, "redo": redo, "mine": mine, "analyzer_version": ANALYZER_VERSION,
        "max_input_tokens": llm_settings.max_input_tokens})
    report = AnalyzeReport(run_id=run.id, model=model)
    if client is None and model:
        # Built before any work, so a missing key or a bad fake script fails at once.
        client = LLMClient(llm_settings, concurrency=conc)
    t0 = time.perf_counter()
    with home_lock(settings.home, what="analyze"):
        con = connect(settings.db_path)
        try:
            save_run(con, run)
            if mine:
                report.miner = mine_store(con, run_id=run.id).to_dict()
            if model:
                analyze_llm_into(con, settings, llm=llm, concurrency=conc, limit=limit,
                                 redo=redo, run_id=run.id, show_progress=show_progress,
                                 client=client, report=report)
            report.seconds = time.perf_counter() - t0
            run.status = "partial" if report.failed else "ok"
            run.counts = {k: v for k, v in report.to_dict().items()
                          if k in ("selected", "unlabeled", "already", "analyzed", "lessons",
                                   "windowed", "repaired")}
            run.counts["failed"] = len(report.failed)
            run.counts["dropped"] = len(report.dropped)
            run.counts["miner_lessons"] = report.miner.get("lessons", 0)
            run.usage = report.usage
            run.timings = {"total": report.seconds, "llm": report.llm_seconds,
                           "miner": float(report.miner.get("seconds", 0.0))}
            run.errors = llm_fault_lines(report, limit=1000)
            run.outputs = {"dropped": [d.to_dict() for d in report.dropped[:1000]]}
            run.ended_at = datetime.now(UTC)
            save_run(con, run)
        finally:
            con.close()
    return report


def analyze_llm_into(con: duckdb.DuckDBPyConnection, settings: Settings, *,
                     llm: str | None = None, concurrency: int | None = None,
                     limit: int | None = None, redo: bool = False, run_id: str | None = None,
                     show_progress: bool | None = None, client: LLMClient | None = None,
                     report: AnalyzeReport | None = None,
                     executor: Executor | None = None) -> AnalyzeReport:
    """Run the LLM analysts on an open store (the caller holds the home's lock).

    Used by ``analyze`` and by ``distill``; arguments as for :func:`analyze`. Lessons are
    written with ``run_id``. Raises UsageError when no model is configured. ``executor``
    (``skillforge.executors``): with one whose pieces run elsewhere (Ray), the calls go out
    in shards from its workers (``skillforge.analyze._remote``); the store stays here.
    """
    llm_settings = parse_llm_spec(llm, settings.llm) if llm else settings.llm
    model = client.model if client is not None else llm_settings.model
    if not model:
        raise UsageError("no LLM model configured",
                         hint="pass --llm MODEL[@BASE_URL] or set SKILLFORGE_LLM_MODEL")
    conc = concurrency or llm_settings.concurrency
    report = report or AnalyzeReport(run_id=run_id or "", model=model)
    lock = threading.Lock()
    analyzer = analyzer_name(model)
    ids = _select(con, analyzer, redo=redo, limit=limit, report=report)
    report.selected = len(ids)
    cache = ResponseCache(con, lock)
    if client is None:
        client = LLMClient(llm_settings, cache=cache, concurrency=conc)
    elif client.cache is None or client.cache.con is con:
        client.cache = cache
    sink = LessonSink(con, lock, analyzer=analyzer, version=ANALYZER_VERSION,
                      run_id=run_id or report.run_id or None)
    # Context always comes from the store's state (not from a miner object of this run), so
    # a resumed or --no-mine run builds byte-identical prompts and hits the cache.
    miner_stats = MinerStats.from_store(con)

    def context_for(traj: Trajectory) -> str:
        return miner_context(traj, miner_stats)

    t1 = time.perf_counter()
    try:
        with progress(f"analyze ({model})", len(ids), enabled=show_progress) as bar:
            asyncio.run(_run_llm(con, lock, client, ids, concurrency=conc,
                                 context_for=context_for, sink=sink, bar=bar, report=report,
                                 facts=fact_claims(miner_stats), executor=executor))
    finally:
        report.llm_seconds = time.perf_counter() - t1
        report.analyzed = sink.analyzed
        report.lessons = len(sink.lesson_ids)
        report.usage = client.usage.to_dict()
    return report
