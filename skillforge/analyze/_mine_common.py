"""Shared pieces of the miner's patterns: settings, evidence collection, lesson assembly."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from pydantic import BaseModel

from skillforge.analyze._mine_index import Run
from skillforge.analyze._miner_version import MINER_VERSION as MINER_VERSION  # kept apart
from skillforge.analyze.model import Evidence, Lesson, LessonKind, Polarity

ANALYST = "miner"


class MinerSettings(BaseModel):
    """Thresholds of the offline miner. Defaults are tuned on the tau-bench airline runs."""

    min_support: int = 3               # distinct trajectories behind a lesson
    max_evidence: int = 5              # citations kept per lesson (support counts them all)
    workflow_min_share: float = 0.5    # share of a family's successful runs a workflow covers
    workflow_max_len: int = 4          # tools in a workflow, the action included
    precondition_min_share: float = 0.9  # share of successful calls preceded by the lookup
    confirm_min_share: float = 0.8     # share of successful calls preceded by a user yes
    task_max_p: float = 0.1            # contrasts between attempts of the same task
    family_max_p: float = 0.05         # contrasts between runs that call the same action tool
    min_lift: float = 2.0              # over-representation needed for a contrast or pitfall
    success_min_share: float = 0.5     # a success habit must be done by this share of successes
    pitfall_max_p: float = 0.05        # argument shapes vs the tool's error rate
    recovery_min_support: int = 2      # runs that recovered from the same error
    loop_min_support: int = 3          # runs that repeated the same call without progress
    policy_max_p: float = 0.05         # screen for policy candidates (held-out gate decides)
    # which pattern families run (None: all): workflow, precondition, contrast, argument,
    # errors, loop, policy; the held-out gate re-mines only those its candidates need
    patterns: frozenset[str] | None = None


class Cite(NamedTuple):
    """A citation candidate: a step of a run and a quote from its text."""

    run_id: str
    step: int
    quote: str


def evidence(cites: Iterable[Cite], limit: int) -> list[Evidence]:
    """Up to ``limit`` citations, deduplicated, in the order given, skipping empty quotes."""
    out: list[Evidence] = []
    seen: set[tuple[str, int]] = set()
    for c in cites:
        if not c.quote.strip() or (c.run_id, c.step) in seen:
            continue
        seen.add((c.run_id, c.step))
        out.append(Evidence(trajectory_id=c.run_id, step_index=c.step, quote=c.quote))
        if len(out) >= limit:
            break
    return out


def lesson(
    *, kind: LessonKind, polarity: Polarity, title: str, description: str, content: str,
    capability: str, cites: Iterable[Cite], support: int, settings: MinerSettings,
    confidence: float | None, meta: dict[str, Any],
) -> Lesson | None:
    """Assemble a miner lesson; None when no citation could be made."""
    ev = evidence(cites, settings.max_evidence)
    if not ev:
        return None
    return Lesson(
        kind=kind, polarity=polarity, title=title, description=description, content=content,
        capability=capability, evidence=ev, support=support, analyst=ANALYST,
        analyzer_version=MINER_VERSION,
        confidence=None if confidence is None else round(max(0.0, min(1.0, confidence)), 4),
        meta={"pattern": meta.pop("pattern", kind), **meta},
    ).with_id()


def one_per_run(items: Iterable[Any], run_of: Any = lambda x: x[0].id) -> list[Any]:
    """The first item of each run, in the order given (to cite different runs first)."""
    seen: set[str] = set()
    out = []
    for it in items:
        rid = run_of(it)
        if rid not in seen:
            seen.add(rid)
            out.append(it)
    return out


def labeled(runs: Iterable[Run]) -> list[Run]:
    """Runs whose outcome is known."""
    return [r for r in runs if r.success is not None]


def n_tasks(runs: Iterable[Run]) -> int:
    """Distinct task ids among runs (runs without a task id count one each)."""
    return len({r.task_id if r.task_id is not None else f"run:{r.id}" for r in runs})


def seq_text(tools: Iterable[str]) -> str:
    """``a, then b, then c`` for a sentence."""
    items = list(tools)
    return ", then ".join(items)


def round_p(p: float) -> float:
    """A p-value rounded for storage (three significant digits)."""
    return float(f"{p:.3g}")
