"""The offline evidence miner: lessons from trajectories with no model and no network.

Patterns (each in its own private module):

- workflows: frequent ordered tool sequences of the successful runs of a task family;
- preconditions: a lookup of the same target, or the user's yes, before an action tool;
- contrasts: behaviours over-represented in failed runs of the same task or action tool;
- argument pitfalls: argument shapes that make a tool fail;
- error -> recovery: how runs fixed a tool error, and errors that were seldom fixed;
- loops: identical calls repeated with an identical result.

Deterministic: the same trajectories give the same lessons in the same order. Every lesson
cites steps whose text contains its quote, and its capability comes from the vocabulary of
the tools and task families seen (``skillforge.analyze.vocab``).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from skillforge._perf import fewer_gc_passes
from skillforge.analyze._mine_common import ANALYST, MINER_VERSION, MinerSettings
from skillforge.analyze._mine_contrast import mine_arg_pitfalls, mine_contrasts
from skillforge.analyze._mine_errors import mine_errors, mine_loops
from skillforge.analyze._mine_flows import mine_preconditions, mine_workflows
from skillforge.analyze._mine_index import Run, index_run
from skillforge.analyze._mine_policy import mine_policy
from skillforge.analyze.model import Lesson
from skillforge.analyze.vocab import Vocabulary, build_vocabulary, families_for, kebab
from skillforge.traces.model import Trajectory

KIND_ORDER = {"workflow": 0, "rule": 1, "recovery": 2, "pitfall": 3, "fact": 4, "preference": 5}

__all__ = [
    "MINER_VERSION",
    "FamilyStats",
    "MineReport",
    "MinerSettings",
    "MinerStats",
    "collect_stats",
    "fact_claims",
    "mine",
    "mine_store",
    "miner_context",
]


@dataclass
class FamilyStats:
    """Counts for one task family: runs, outcomes, the tools used and the errors met."""

    name: str
    runs: int = 0
    success: int = 0
    failure: int = 0
    tools: Counter[str] = field(default_factory=Counter)    # runs that called each tool
    errors: Counter[str] = field(default_factory=Counter)   # "tool: masked error" -> runs

    def to_dict(self, top: int = 8) -> dict[str, Any]:
        """JSON-ready form with the ``top`` tools and errors."""
        def best(c: Counter[str]) -> dict[str, int]:
            return dict(sorted(c.items(), key=lambda x: (-x[1], x[0]))[:top])
        return {"family": self.name, "runs": self.runs, "success": self.success,
                "failure": self.failure, "tools": best(self.tools), "errors": best(self.errors)}


@dataclass
class MinerStats:
    """What the miner found: family counts and its lessons. Feeds the LLM analysts' context."""

    families: dict[str, FamilyStats] = field(default_factory=dict)
    lessons: list[Lesson] = field(default_factory=list)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    trajectories: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (families, vocabulary, lesson titles by capability)."""
        by_cap: dict[str, list[str]] = defaultdict(list)
        for les in self.lessons:
            by_cap[les.capability].append(les.title)
        return {"trajectories": self.trajectories,
                "families": {k: v.to_dict() for k, v in sorted(self.families.items())},
                "vocabulary": self.vocabulary.to_dict(), "lessons": dict(sorted(by_cap.items()))}

    @classmethod
    def from_store(cls, con: Any) -> MinerStats:
        """Family counts recomputed from the store, with the miner lessons it holds."""
        from skillforge.store.lessons import load_lessons

        stats = cls(vocabulary=build_vocabulary(con))
        rows = con.execute(
            "SELECT t.id, t.success, list(s.tool_name ORDER BY s.idx) FILTER "
            "(s.kind = 'tool_call' AND s.tool_name IS NOT NULL), "
            "list(s.tool_name || ': ' || left(s.text, 160) ORDER BY s.idx) FILTER (s.is_error) "
            "FROM trajectories t LEFT JOIN steps s ON s.trajectory_id = t.id "
            "GROUP BY t.id, t.success ORDER BY t.id").fetchall()
        from skillforge.analyze._mine_index import error_signature
        for _tid, success, tools, errs in rows:
            tools = [t for t in (tools or []) if t]
            errs = sorted({e.split(": ", 1)[0] + ": " + error_signature(e.split(": ", 1)[-1])
                           for e in (errs or []) if e})
            stats._count(success, tools, errs)
        stats.lessons = sorted(load_lessons(con, where="analyst = ?", params=[ANALYST]),
                               key=_sort_key)
        return stats

    def _count(self, success: bool | None, tools: list[str], errors: list[str]) -> None:
        self.trajectories += 1
        for fam in families_for(tools):
            fs = self.families.setdefault(fam, FamilyStats(fam))
            fs.runs += 1
            fs.success += success is True
            fs.failure += success is False
            fs.tools.update(set(tools))
            fs.errors.update(set(errors))

    def add_run(self, run: Run) -> None:
        """Count one indexed run into its families."""
        self._count(run.success, [c.tool for c in run.calls],
                    sorted({f"{c.tool}: {c.obs_sig}" for c in run.calls if c.obs_error}))


def _sort_key(les: Lesson) -> tuple:
    return (KIND_ORDER.get(les.kind, 9), les.capability, -les.support, les.title, les.id)


def _scratchpad_tools(runs: list[Run]) -> set[str]:
    """Tools that always answered with nothing (a "think" tool): no news about the world."""
    said: dict[str, bool] = {}
    for r in runs:
        for c in r.calls:
            if c.obs_step is not None and c.shell is None:  # `rm`, `git add` say nothing
                said[c.tool] = said.get(c.tool, False) or not c.obs_empty
    return {t for t, v in said.items() if not v}


def _without(runs: list[Run], tools: set[str]) -> list[Run]:
    """The runs without calls of ``tools`` (new runs where a call goes, the rest as is)."""
    if not tools:
        return runs
    out = []
    for r in runs:
        if not any(c.tool in tools for c in r.calls):
            out.append(r)
            continue
        calls = [replace(c, pos=i) for i, c in enumerate(
            c for c in r.calls if c.tool not in tools)]
        out.append(Run(r.id, r.task_id, r.success, r.families, calls, r.intent, r.words,
                       r.final, r.objects, r.signal))
    return out


def _drop_calls(runs: list[Run], tools: set[str]) -> None:
    """:func:`_without`, in place (for runs nothing else holds yet)."""
    if not tools:
        return
    for r in runs:
        if any(c.tool in tools for c in r.calls):
            r.calls = [c for c in r.calls if c.tool not in tools]
            for i, c in enumerate(r.calls):
                c.pos = i


def _count_runs(stats: MinerStats, runs: Iterable[Run]) -> None:
    for r in runs:
        stats.add_run(r)
        stats.vocabulary.add_tools(c.tool for c in r.calls)
        stats.vocabulary.families.update(r.families)


def _patterns(runs: list[Run], settings: MinerSettings, voc: Vocabulary) -> list[Lesson]:
    """Every pattern's lessons over ``runs`` (scratchpad calls removed), sorted."""
    by_family: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        for fam in r.families:
            by_family[fam].append(r)
    lessons: list[Lesson] = []
    want = settings.patterns

    def on(name: str) -> bool:
        return want is None or name in want

    if on("workflow"):
        lessons += mine_workflows(by_family, settings, voc)
    if on("precondition"):
        lessons += mine_preconditions(runs, settings, voc)
    if on("contrast"):
        lessons += mine_contrasts(runs, by_family, settings, voc)
    if on("argument"):
        lessons += mine_arg_pitfalls(runs, settings, voc)
    if on("errors"):
        lessons += mine_errors(runs, settings, voc)
    if on("loop"):
        lessons += mine_loops(runs, settings, voc)
    if on("policy"):
        lessons += mine_policy(runs, settings, voc)
    unique: dict[str, Lesson] = {}
    for les in lessons:
        if les.capability in voc:
            unique.setdefault(les.id, les)
    return sorted(unique.values(), key=_sort_key)


def _mine_runs(runs: list[Run], settings: MinerSettings) -> MinerStats:
    stats = MinerStats()
    _count_runs(stats, runs)
    stats.lessons = _patterns(_without(runs, _scratchpad_tools(runs)), settings,
                              stats.vocabulary)
    return stats


def collect_stats(trajectories: Iterable[Trajectory | Run], *,
                  settings: MinerSettings | None = None) -> MinerStats:
    """Mine the trajectories and return the statistics together with the lessons."""
    with fewer_gc_passes():
        runs: dict[str, Run] = {}
        for t in trajectories:  # a trajectory id is a content hash: a repeat adds nothing
            if t.id not in runs:
                runs[t.id] = t if isinstance(t, Run) else index_run(t)
        return _mine_runs(sorted(runs.values(), key=lambda r: r.id),
                          settings or MinerSettings())


def mine(trajectories: Iterable[Trajectory], *,
         settings: MinerSettings | None = None) -> list[Lesson]:
    """Lessons the offline miner finds in ``trajectories`` (same input, same lessons, same order).

    Each lesson has ``analyst="miner"``, evidence quotes that occur in the cited steps, and a
    capability from the vocabulary of the tools and task families in the input.
    """
    return collect_stats(trajectories, settings=settings).lessons


@dataclass
class MineReport:
    """What ``mine_store`` did: counts, timing, and the statistics behind the lessons."""

    trajectories: int
    lessons: int
    by_kind: dict[str, int]
    seconds: float
    stats: MinerStats
    runs: list[Run] = field(default_factory=list, repr=False)  # as mined (held-out gate)
    signal_labelled: int = 0   # unlabeled runs judged by a strong outcome signal
    indexed: int = 0           # runs read from their steps (the others from the miner's cache)

    def summary(self) -> str:
        """One plain line for the terminal."""
        kinds = ", ".join(f"{k} {v}" for k, v in self.by_kind.items())
        cached = self.trajectories - self.indexed
        return (f"mined {self.trajectories} trajectories in {self.seconds:.1f}s"
                + (f" ({cached} indexed before, from the store's cache)" if cached > 0 else "")
                + f": {self.lessons} lessons" + (f" ({kinds})" if kinds else ""))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"trajectories": self.trajectories, "lessons": self.lessons,
                "by_kind": self.by_kind, "seconds": round(self.seconds, 3),
                "indexed": self.indexed}


SIGNAL_MIN = 0.5   # |score| an outcome signal needs to stand in for a missing label


def use_signals(con: Any, runs: list[Run]) -> int:
    """Give unlabeled runs the outcome their session's signal points to, when it is strong.

    Signals (``skillforge.store.load_signals``: user corrections, rejected tool uses, tests
    run and their result, a confirmed success) weigh less than verified labels: a run with
    a label keeps it, and only a signal of magnitude ``SIGNAL_MIN`` or more counts (weaker
    ones leave the run unlabeled). Such runs are marked ``signal``. Returns how many.
    """
    unlabeled = [r for r in runs if r.success is None]
    if not unlabeled:
        return 0
    import duckdb

    from skillforge.store import load_signals

    try:
        signals = load_signals(con, [r.id for r in unlabeled])
    except duckdb.CatalogException:  # a store without the signals table: no signals
        return 0
    n = 0
    for r in unlabeled:
        sig = signals.get(r.id)
        if sig is not None and abs(sig.score) >= SIGNAL_MIN:
            r.success, r.signal = sig.score > 0, True
            n += 1
    return n


def mine_store(con: Any, *, run_id: str | None = None,
               settings: MinerSettings | None = None) -> MineReport:
    """Mine every trajectory in the store and replace the miner's lessons there.

    The steps are streamed from the store in Arrow batches and each trajectory is reduced
    to a compact run as it goes by (``_mine_read``): no ``Trajectory`` is built and no step
    text is kept, so memory grows only with the runs' features. Runs indexed before by the
    same code come from the store's miner cache (``_mine_cache``): a grown folder reads and
    indexes only its new runs (``MineReport.indexed``). The quotes the lessons cite
    are read back from the store at the end, in one query. The lessons are written with
    ``replace_analyst="miner"`` (so a re-run replaces the previous miner lessons) and every
    trajectory is marked as analyzed by the miner at ``MINER_VERSION``. ``MineReport.runs``
    are the runs as the patterns saw them (scratchpad calls removed), for the held-out gate.
    """
    from skillforge.analyze._mine_read import read_runs, resolve_quotes
    from skillforge.store.lessons import mark_analyzed, write_lessons

    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    with fewer_gc_passes():
        runs = read_runs(con, counts=counts)
        signalled = use_signals(con, runs)
        stats = MinerStats()
        _count_runs(stats, runs)
        _drop_calls(runs, _scratchpad_tools(runs))  # the runs as the patterns see them
        lessons = _patterns(runs, settings or MinerSettings(), stats.vocabulary)
    store_voc = build_vocabulary(con)
    stats.vocabulary = store_voc
    stats.lessons = [les for les in lessons if les.capability in store_voc]
    resolve_quotes(con, stats.lessons)
    write_lessons(con, stats.lessons, run_id=run_id, replace_analyst=ANALYST)
    mark_analyzed(con, [r.id for r in runs], ANALYST, MINER_VERSION)
    kinds: Counter[str] = Counter(les.kind for les in stats.lessons)
    by_kind = dict(sorted(kinds.items(), key=lambda x: KIND_ORDER.get(x[0], 9)))
    return MineReport(trajectories=len(runs), lessons=len(stats.lessons), by_kind=by_kind,
                      seconds=time.perf_counter() - t0, stats=stats, runs=runs,
                      signal_labelled=signalled, indexed=counts.get("indexed", len(runs)))


def _run_facts(run: Run) -> list[str]:
    lines: list[str] = []
    keys = Counter(c.key for c in run.calls)
    for c in run.calls:
        flags = []
        if c.obs_error:
            flags.append(f"error: {c.obs_quote}")
        if c.action and not c.confirmed and c.user_step is not None:
            flags.append("no user yes before it")
        if c.unseen:
            flags.append("value not seen before: " + ", ".join(c.unseen))
        if keys[c.key] > 1:
            flags.append("identical call repeated")
        if flags:
            lines.append(f"step {c.step} {c.quote} -> " + "; ".join(flags))
    return lines


def fact_claims(stats: MinerStats) -> dict[str, dict[str, Any]]:
    """The claim behind each numbered miner fact (``F1``...) that ``miner_context`` shows."""
    from skillforge.analyze.claims import claim_of

    out: dict[str, dict[str, Any]] = {}
    for i, les in enumerate(stats.lessons):
        claim = claim_of(les.meta)
        if claim is not None:
            out[f"F{i + 1}"] = claim
    return out


def miner_context(target: Trajectory | str, stats: MinerStats | None = None, *,
                  as_json: bool = False, max_lessons: int = 10) -> str:
    """A compact summary of the miner's statistics for a trajectory or a task family.

    ``target`` is a trajectory (its own flagged calls, plus what the miner knows about its
    families) or a family / capability name such as ``"cancel-reservation"``. ``stats`` comes
    from ``collect_stats`` or ``mine_store(...).stats`` (or ``MinerStats.from_store``); without
    it only the trajectory's own facts are given. Text by default, JSON with ``as_json``.
    """
    run = index_run(target) if isinstance(target, Trajectory) else None
    fams = list(run.families) if run else [kebab(target) if isinstance(target, str) else ""]
    tools = {kebab(c.tool) for c in run.calls} if run else set()
    data: dict[str, Any] = {"families": [], "lessons": [], "run": None}
    if stats is not None:
        data["families"] = [stats.families[f].to_dict(5) for f in fams if f in stats.families]

        def rank(les: Lesson) -> int:
            if les.capability in fams or les.meta.get("family") in fams or les.meta.get(
                    "scope") in fams:
                return 0
            return 1 if les.capability in tools else 2

        fid = {les.id: f"F{i + 1}" for i, les in enumerate(stats.lessons)}
        ranked = sorted((les for les in stats.lessons if rank(les) < 2), key=rank)
        # one of each pattern first (a policy rule, a precondition, a recovery...), then more
        by_pat: dict[tuple[int, str], list[Lesson]] = defaultdict(list)
        for les in ranked:
            by_pat[(rank(les), les.meta.get("pattern", les.kind))].append(les)
        picked = []
        while any(by_pat.values()):
            for key in sorted(by_pat):
                if by_pat[key]:
                    picked.append(by_pat[key].pop(0))
        picked.sort(key=rank)
        data["lessons"] = [{"id": fid[les.id], "kind": les.kind, "capability": les.capability,
                            "support": les.support, "text": les.content}
                           for les in picked[:max_lessons]]
    if run:
        outcome = {True: "success", False: "failure", None: "unknown"}[run.success]
        data["run"] = {"id": run.id, "task_id": run.task_id, "outcome": outcome,
                       "calls": len(run.calls), "flags": _run_facts(run)}
    if as_json:
        return json.dumps(data, ensure_ascii=False, sort_keys=True)
    lines: list[str] = []
    for f in data["families"]:
        used = ", ".join(f"{k} {v}" for k, v in f["tools"].items())
        lines.append(f"family {f['family']}: {f['runs']} runs ({f['success']} succeeded, "
                     f"{f['failure']} failed); tools by runs: {used}")
        for e, n in f["errors"].items():
            lines.append(f"  error in {n} runs: {e}")
    if data["lessons"]:
        lines.append("miner findings:")
        lines += [f"- {x['id']} [{x['kind']}, {x['capability']}, {x['support']} runs] "
                  f"{x['text']}" for x in data["lessons"]]
    if run:
        r = data["run"]
        lines.append(f"this run ({r['outcome']}, task {r['task_id']}, {r['calls']} tool calls):")
        lines += [f"- {x}" for x in r["flags"]] or ["- no errors, repeats or unconfirmed actions"]
    return "\n".join(lines)
