"""What the verifier reads from the store, once per run: per-run token counts and cited steps.

:class:`VerifyData` holds, for every trajectory behind the skills being scored (and every
failed attempt of their tasks), the token counts of its execution, plan and observation
text and its error signatures (see :mod:`skillforge.verify.texts`), plus the cited steps
themselves. Sums over a task family are computed once and shared by every skill of that
family, so scoring many skills costs about one pass over the runs behind them.

The runs *behind a skill* are the trajectories its statements cite, plus every run of the
skill's task family when its capability is a task family (``cancel-reservation``: every run
that called ``cancel_reservation``). The family is included because the miner's statements
are statistics over the whole family and cite only a few examples of it.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from skillforge._perf import fewer_gc_passes
from skillforge.consolidate import StoreView, load_view
from skillforge.package.model import SkillPackage
from skillforge.verify.pdi import jaccard, psi_counts, token_counts
from skillforge.verify.texts import error_signature, intent_sentences, is_plan_tool, step_class

__all__ = ["CitedStep", "RunTexts", "VerifyData"]

_BATCH = 2000


@dataclass(slots=True)
class RunTexts:
    """One trajectory as the verifier sees it."""

    id: str
    task: str | None            # task key: task_id, else the task text; None: no grouping
    order: tuple[Any, ...]      # sort key of attempts of the same task
    success: bool | None
    exec: Counter[str] = field(default_factory=Counter)
    plan: Counter[str] = field(default_factory=Counter)
    obs: Counter[str] = field(default_factory=Counter)
    errors: frozenset[str] = frozenset()
    loaded: bool = False


@dataclass(slots=True)
class CitedStep:
    """A step some statement cites (None in ``VerifyData.steps`` when it does not exist)."""

    trajectory_id: str
    index: int
    role: str
    kind: str
    tool_name: str | None
    text: str
    success: bool | None


def _shared_tokens(counts: Counter[str]) -> Counter[str]:
    """The same counts in the same order, each token one string shared by every run (most of
    a run's counts are words every run uses: one copy each, not one per run)."""
    return Counter({sys.intern(w): n for w, n in counts.items()})


def _task_key(task_id: str | None, task: str | None) -> str | None:
    if task_id:
        return f"id:{task_id}"
    if task and task.strip():
        return "task:" + " ".join(task.split())[:500]
    return None


class VerifyData:
    """Token counts of the runs behind a set of skills, and the steps they cite."""

    def __init__(self) -> None:
        self.runs: dict[str, RunTexts] = {}
        self.steps: dict[tuple[str, int], CitedStep] = {}
        self.families: dict[str, list[str]] = {}       # family -> trajectory ids (sorted)
        self.tasks: dict[str, list[str]] = {}          # task key -> ids in attempt order
        self.view: StoreView | None = None
        self._agg: dict[tuple[str, str], Counter[str]] = {}
        self._oss: dict[str, list[float]] = {}

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, packages: Iterable[SkillPackage], *,
             view: StoreView | None = None) -> VerifyData:
        """Read what scoring ``packages`` needs from the store (one pass over their runs)."""
        pkgs = list(packages)
        data = cls()
        data.view = view or load_view(con)
        with fewer_gc_passes():
            data._load_meta(con)
            for tid, fams in data.view.trajectory_families.items():
                if tid in data.runs:
                    for f in fams:
                        data.families.setdefault(f, []).append(tid)
            for ids in data.families.values():
                ids.sort()
            cited = {(e.trajectory_id, e.step_index) for p in pkgs for s in p.statements
                     for e in s.evidence}
            need: set[str] = set()
            for p in pkgs:
                need |= data.behind(p)
            tasks = {data.runs[t].task for t in need if t in data.runs}
            for key in tasks:
                if key is not None:
                    need.update(t for t in data.tasks.get(key, ())
                                if data.runs[t].success is False)
            data._load_texts(con, sorted(need))
            data._load_steps(con, cited)
        return data

    def _load_meta(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute(
            "SELECT id, task_id, task, attempt, started_at, source_file, source_line, success "
            "FROM trajectories").fetchall()
        for tid, task_id, task, attempt, started, file, line, success in rows:
            order = (attempt is None, attempt or 0, started is None,
                     started.isoformat() if started is not None else "",
                     sys.intern(file or ""), line or 0, tid)
            r = RunTexts(tid, _task_key(task_id, task), order, success)
            self.runs[tid] = r
            if r.task is not None:
                self.tasks.setdefault(r.task, []).append(tid)
        for ids in self.tasks.values():
            ids.sort(key=lambda t: self.runs[t].order)

    def _load_texts(self, con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _BATCH):
            chunk = list(ids[start:start + _BATCH])
            rows = con.execute(
                "SELECT trajectory_id, role, kind, tool_name, text, is_error FROM steps "
                "WHERE trajectory_id IN (SELECT unnest(?::VARCHAR[])) "
                "ORDER BY trajectory_id, idx", [chunk]).fetchall()
            cur: str | None = None
            ex: list[str] = []
            pl: list[str] = []
            ob: list[str] = []
            errs: set[str] = set()
            for tid, role, kind, tool, text, is_err in rows:
                if tid != cur:
                    if cur is not None:
                        self._set_texts(cur, ex, pl, ob, errs)
                    cur, ex, pl, ob, errs = tid, [], [], [], set()
                text = text or ""
                cls = step_class(role, kind, tool)
                if cls == "exec":
                    ex.append(text)
                    if kind in ("observation", "error") or role == "tool":
                        ob.append(text)
                        if is_err or kind == "error":
                            errs.add(error_signature(text, tool))
                elif cls == "plan":
                    if kind in ("thought", "tool_call"):
                        pl.append(text)
                    else:
                        pl.extend(intent_sentences(text))
            if cur is not None:
                self._set_texts(cur, ex, pl, ob, errs)
            for tid in chunk:
                r = self.runs.get(tid)
                if r is not None:
                    r.loaded = True

    def _set_texts(self, tid: str, ex: list[str], pl: list[str], ob: list[str],
                   errs: set[str]) -> None:
        r = self.runs.get(tid)
        if r is None:
            return
        r.exec = _shared_tokens(token_counts("\n".join(ex)))
        r.plan = _shared_tokens(token_counts("\n".join(pl)))
        r.obs = _shared_tokens(token_counts("\n".join(ob)))
        r.errors = frozenset(errs)

    def _load_steps(self, con: duckdb.DuckDBPyConnection, keys: set[tuple[str, int]]) -> None:
        if not keys:
            return
        ordered = sorted(keys)
        rows = con.execute(
            "SELECT s.trajectory_id, s.idx, s.role, s.kind, s.tool_name, s.text, t.success "
            "FROM steps s JOIN trajectories t ON t.id = s.trajectory_id "
            "JOIN (SELECT unnest(?::VARCHAR[]) AS tid, unnest(?::INTEGER[]) AS idx) k "
            "ON k.tid = s.trajectory_id AND k.idx = s.idx",
            [[k[0] for k in ordered], [k[1] for k in ordered]]).fetchall()
        for tid, idx, role, kind, tool, text, success in rows:
            self.steps[(tid, idx)] = CitedStep(tid, idx, role, kind, tool, text or "", success)

    # -- the runs behind a skill ----------------------------------------------------------

    def family_of(self, pkg: SkillPackage) -> str | None:
        """The task family whose runs stand behind ``pkg`` (None: only the cited runs)."""
        cap = pkg.capability or pkg.name
        return cap if cap in self.families else None

    def cited(self, pkg: SkillPackage) -> set[str]:
        """Trajectories cited by the package's statements that exist in the store."""
        return {e.trajectory_id for s in pkg.statements for e in s.evidence
                if e.trajectory_id in self.runs}

    def behind(self, pkg: SkillPackage) -> set[str]:
        """The runs behind ``pkg``: its cited trajectories and its task family's runs."""
        fam = self.family_of(pkg)
        return self.cited(pkg) | (set(self.families[fam]) if fam else set())

    def successful_behind(self, pkg: SkillPackage) -> list[str]:
        """The successful runs behind ``pkg``, sorted."""
        return sorted(t for t in self.behind(pkg) if self.runs[t].success is True)

    def aggregate(self, pkg: SkillPackage, what: str) -> Counter[str]:
        """Summed ``exec`` or ``plan`` token counts of the successful runs behind ``pkg``."""
        fam = self.family_of(pkg)
        total: Counter[str] = Counter()
        members: set[str] = set()
        if fam is not None:
            key = (fam, what)
            if key not in self._agg:
                agg: Counter[str] = Counter()
                for t in self.families[fam]:
                    r = self.runs[t]
                    if r.success is True:
                        agg.update(getattr(r, what))
                self._agg[key] = agg
            total.update(self._agg[key])
            members = set(self.families[fam])
        for t in sorted(self.cited(pkg) - members):
            r = self.runs[t]
            if r.success is True:
                total.update(getattr(r, what))
        return total

    def tasks_behind(self, pkg: SkillPackage) -> list[str]:
        """Task keys of the runs behind ``pkg``, sorted."""
        return sorted({k for t in self.behind(pkg) if (k := self.runs[t].task) is not None})

    def failed_attempts(self, task: str) -> list[RunTexts]:
        """The failed attempts of a task, in attempt order."""
        return [self.runs[t] for t in self.tasks.get(task, ()) if self.runs[t].success is False]

    def oss_pairs(self, task: str) -> list[float]:
        """φ_oss values of consecutive failed attempts of one task (cached)."""
        if task not in self._oss:
            failed = self.failed_attempts(task)
            self._oss[task] = [
                0.5 * psi_counts(a.obs, b.obs) + 0.5 * jaccard(a.errors, b.errors)
                for a, b in zip(failed, failed[1:], strict=False)]
        return self._oss[task]

    def step(self, trajectory_id: str, index: int) -> CitedStep | None:
        """A cited step, or None when the store has no such step."""
        return self.steps.get((trajectory_id, index))

    def is_plan_step(self, st: CitedStep) -> bool:
        """Whether a cited step is the agent's own plan text (see ``texts.step_class``)."""
        return step_class(st.role, st.kind, st.tool_name) == "plan"

    def is_exec_step(self, st: CitedStep) -> bool:
        """Whether a cited step is a tool call (not a plan tool), observation or error."""
        return step_class(st.role, st.kind, st.tool_name) == "exec" and not is_plan_tool(
            st.tool_name)
