"""What consolidation needs to know about the store: task families per run and their stats."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import duckdb

from skillforge.analyze.vocab import READ_ONLY_FAMILY, build_vocabulary, families_for

_WORD = re.compile(r"\b[a-z]{4,}\b")
_TASK_STOP = frozenset("""
the and for you your with this that have has had are was were will would could should can
please want need like just also but not from into about what when where which who how then
than them they their there here hi hello thanks thank okay yes sure help me my i'm i've it's
let know get got one two make sure able would like today some want wants wanted them
your yours they their going been being very much many more most other others any each
does doing done would could should might must shall will also just only even still well
""".split())


@dataclass
class FamilyStats:
    """Runs of one task family (or tool): outcomes, tools, and words typical of its tasks."""

    name: str
    runs: int = 0
    success: int = 0
    failure: int = 0
    tools: Counter[str] = field(default_factory=Counter)
    keywords: list[str] = field(default_factory=list)


@dataclass
class StoreView:
    """Per-trajectory families and per-family stats, read once from the store."""

    families: set[str]
    trajectory_families: dict[str, tuple[str, ...]]
    stats: dict[str, FamilyStats]
    tools: dict[str, str]  # tool name -> capability

    def families_of(self, trajectory_id: str) -> tuple[str, ...]:
        """The task families of one trajectory (``read-only`` when it changed nothing)."""
        return self.trajectory_families.get(trajectory_id, (READ_ONLY_FAMILY,))


def _add_words(into: dict[str, set[str]], words: set[str], task_key: str) -> None:
    for w in words:
        into.setdefault(w, set()).add(task_key)


def load_view(con: duckdb.DuckDBPyConnection) -> StoreView:
    """Read families, outcomes, tool usage and task keywords for every trajectory."""
    voc = build_vocabulary(con)
    rows = con.execute(
        "SELECT t.id, t.success, t.task, coalesce(t.task_id, t.id), list(s.tool_name ORDER BY "
        "s.idx) FILTER (s.kind = 'tool_call' AND s.tool_name IS NOT NULL) "
        "FROM trajectories t LEFT JOIN steps s ON s.trajectory_id = t.id "
        "GROUP BY t.id, t.success, t.task, t.task_id ORDER BY t.id").fetchall()
    traj_fams: dict[str, tuple[str, ...]] = {}
    stats: dict[str, FamilyStats] = {}
    # keywords count tasks, not runs: a word of one task tried 4 times (a customer's name,
    # a city) is not a word that requests of the family use
    words_by: dict[str, dict[str, set[str]]] = {}
    tasks_by: dict[str, set[str]] = {}
    doc_freq: dict[str, set[str]] = {}
    for tid, success, task, task_key, tools in rows:
        tools = tools or []
        fams = families_for(tools)
        traj_fams[tid] = fams
        task_words = set(_WORD.findall((task or "").lower())) - _TASK_STOP
        for w in task_words:
            doc_freq.setdefault(w, set()).add(task_key)
        for f in fams:
            st = stats.setdefault(f, FamilyStats(f))
            st.runs += 1
            st.success += success is True
            st.failure += success is False
            st.tools.update(set(tools))
            _add_words(words_by.setdefault(f, {}), task_words, task_key)
            tasks_by.setdefault(f, set()).add(task_key)
        for tool in set(tools):  # tool-level capabilities get stats too
            cap = voc.for_tool(tool)
            if cap in fams:
                continue
            st = stats.setdefault(cap, FamilyStats(cap))
            st.runs += 1
            st.success += success is True
            st.failure += success is False
            st.tools.update(set(tools))
            _add_words(words_by.setdefault(cap, {}), task_words, task_key)
            tasks_by.setdefault(cap, set()).add(task_key)
    n = max(1, len({k for ks in doc_freq.values() for k in ks}))
    for name, st in stats.items():
        words = words_by.get(name, {})
        n_tasks = len(tasks_by.get(name, ())) or 1
        scored = sorted(
            ((len(ts) / n_tasks) * math.log((n + 1) / (len(doc_freq[w]) + 1)), w)
            for w, ts in words.items() if len(ts) >= max(2, n_tasks // 10))
        st.keywords = [w for _, w in sorted(scored, key=lambda x: (-x[0], x[1]))[:8]]
    return StoreView(families=set(voc.families), trajectory_families=traj_fams, stats=stats,
                     tools=dict(voc.tools))
