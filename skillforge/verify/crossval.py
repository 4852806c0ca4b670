"""The held-out gate: a lesson ships only if its effect holds on tasks it was not mined from.

``distill`` runs this between analysis and consolidation. The runs are split into ``k``
folds **by task** (task id; a run without one is its own task), so the attempts of a task
are never on both sides. For each fold the offline miner runs again on the other folds, and
every claim it finds (``skillforge.analyze.claims``) is judged on the held-out fold. Each
run is held out exactly once, so the held-out counts of a claim, pooled over the folds in
which it was mined, are an honest out-of-task estimate of its effect.

A lesson mined from all runs then passes these gates, in order (the first it fails is
recorded as its reason, and the report lists them):

1. **claim**: it makes a checkable claim (miner lessons do; an LLM lesson does when it is
   based on one of the miner's facts);
2. **labels**: the claim applies to labeled runs (a run-level claim needs outcomes; an
   error -> fix claim is judged on the retry that followed the error, which needs none);
3. **discriminative**: in-sample, runs that broke it failed more often than runs that
   followed it (lift above 1, one-sided Fisher p at most ``screen_p``). A rule every run
   follows has no breakers and is not a rule. Workflows are exempt: a workflow is the shared
   path of successful runs and says so;
4. **stable**: the miner found the same claim in at least ``min_fold_share`` of the folds;
5. **held out**: pooled over those folds, the one-sided Fisher exact p-value that breaking
   the claim goes with failure on the *held-out* counts survives Benjamini-Hochberg at
   ``max_q`` over every lesson that reached this gate (the multiple-comparison control:
   held-out counts were not used to pick the candidates, so their p-values are honest),
   and the held-out lift ``P(fail | broke) / P(fail | followed)`` (its Katz estimate, 0.5
   added to each cell when one is empty, which shrinks small tables toward 1) is above 1;
   with ``require_ci`` its 95% interval must lie above 1 as well. **Wrong-way guard**: a
   held-out lift below 1 never ships. Workflows pass the same gate: the path successful
   runs took ships only when runs that left it failed more often on held-out tasks; a path
   that every run, failed ones included, took tells no success from failure and stays out.

   The defaults (``max_q`` 0.2, no interval requirement) were chosen by 5-fold
   cross-validation by task on the tau-bench airline runs (``bench/quality.py``): of the
   settings tried, it shipped the most statements that held on the outer held-out tasks
   with none going the wrong way; requiring the interval as well shipped a third as many.

Passing lessons get ``meta["claim"]``, ``meta["in_sample"]``, ``meta["heldout"]`` (counts,
lift, interval, folds, verdict) and a short held-out clause at the end of their content.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skillforge.analyze._mine_index import Run
from skillforge.analyze._mine_stats import bh_qvalues
from skillforge.analyze.claims import Tally, claim_key, claim_of, patterns_for, tally
from skillforge.analyze.model import Lesson
from skillforge.executors import Executor, LocalExecutor

__all__ = ["CrossvalConfig", "CrossvalReport", "Rejected", "crossval_gate", "fold_tasks",
           "heldout_clause", "judge"]

RUN_FREE_TYPES = frozenset({"recovery"})   # judged per error occurrence, no labels needed


@dataclass
class CrossvalConfig:
    """Knobs of the held-out gate."""

    folds: int = 5
    seed: int = 0
    screen_p: float = 0.05        # in-sample one-sided Fisher p a rule must reach
    max_q: float = 0.2            # Benjamini-Hochberg level over the held-out p-values
    min_fold_share: float = 0.5   # folds in which the miner must find the claim again
    require_ci: bool = False      # also require the held-out Katz interval above 1


@dataclass
class Rejected:
    """A lesson the gate kept out, and why."""

    lesson: Lesson
    gate: str           # claim, labels, discriminative, stable, heldout, wrong-way
    reason: str


@dataclass
class CrossvalReport:
    """What the gate kept and rejected, and how the runs were split."""

    kept: list[Lesson] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    folds: int = 0
    tasks: int = 0
    runs: int = 0
    labeled: int = 0

    def counts(self) -> dict[str, int]:
        """Counters for the run record: kept, and rejected per gate."""
        out = {"heldout_kept": len(self.kept), "heldout_rejected": len(self.rejected)}
        for r in self.rejected:
            out[f"heldout_rejected_{r.gate.replace('-', '_')}"] = out.get(
                f"heldout_rejected_{r.gate.replace('-', '_')}", 0) + 1
        return out

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"held-out gate ({self.folds} folds over {self.tasks} tasks): "
                f"{len(self.kept)} lessons kept, {len(self.rejected)} rejected")


def _task(r: Run) -> str:
    return r.task_id if r.task_id is not None else f"run:{r.id}"


def fold_tasks(runs: Sequence[Run], k: int, seed: int = 0) -> dict[str, int]:
    """Task -> fold, balanced: tasks ordered by a seeded hash, then dealt round-robin."""
    tasks = sorted({_task(r) for r in runs}, key=lambda t: hashlib.blake2b(
        f"{seed}:{t}".encode(), digest_size=8).digest())
    return {t: i % k for i, t in enumerate(tasks)}


def _key(claim: dict[str, Any]) -> str:
    # learned request words may differ between folds; the claim is the same (except where
    # the words are the condition itself)
    if claim.get("type") == "do_asked":
        return claim_key(claim)
    return claim_key({k: v for k, v in claim.items() if k != "intent"})


def _fmt(t: dict[str, Any]) -> str:
    lift, ci = t.get("lift"), t.get("ci")
    if lift is None:
        return "no lift"
    return f"lift {lift:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def heldout_clause(claim: dict[str, Any], h: dict[str, Any]) -> str:
    """One short clause with the held-out figures of a claim."""
    bf, bn = h["break"]
    ff, fn = h["follow"]
    if claim.get("type") in RUN_FREE_TYPES:
        return (f"Held out by task: without this fix the error stayed {bf} of {bn} times, "
                f"with it {ff} of {fn} ({_fmt(h)}).")
    return (f"Held out by task: {bf} of {bn} runs that did otherwise failed, {ff} of {fn} "
            f"that did this ({_fmt(h)}).")


def statement_text(les: Lesson, claim: dict[str, Any]) -> str:
    """The instruction a lesson gives, without its in-sample statistics."""
    t = claim.get("type")
    if t == "workflow":
        seq = list(claim.get("sequence") or []) + ([claim["action"]] if claim.get("action")
                                                   else [])
        steps = ", then ".join(seq)
        return f"Call {steps}: the path the successful runs took."
    if t == "recovery":
        return les.content
    if t == "do_call" and claim.get("scope") == "read-only":
        return (f"When the user only asks (nothing needs to change), still call {claim['do']} "
                "first and answer from what it returns.")
    if t == "do_call" and claim.get("action"):
        return f"Before calling {claim['action']}, call {claim['do']}."
    if t == "no_repeat":
        return (f"Do not repeat an identical {claim['action']} call: it answers the same "
                "again; change the arguments or act on the answer you have.")
    if t == "do_multi":
        return f"Call {claim['do']} for each item involved, not just one."
    return les.description


def judge(lessons: Sequence[Lesson], runs: Sequence[Run],
          mine: Callable[[list[Run], frozenset[str]], list[Lesson]],
          cfg: CrossvalConfig | None = None, *,
          executor: Executor | None = None) -> CrossvalReport:
    """Run the k-fold miner and the gates over ``lessons`` mined from ``runs``.

    ``mine(train_runs, patterns)`` mines a fold's training runs with those pattern families
    (the ones that produced a lesson still in the running). ``executor`` runs the folds'
    miners (``skillforge.executors``; default: one after the other in this process); with
    Ray, ``mine`` and the runs are pickled."""
    cfg = cfg or CrossvalConfig()
    runs = list(runs)
    rep = CrossvalReport(runs=len(runs), labeled=sum(r.success is not None for r in runs))
    folds = fold_tasks(runs, max(1, min(cfg.folds, len({_task(r) for r in runs}))), cfg.seed)
    k = max(folds.values(), default=-1) + 1
    rep.folds, rep.tasks = k, len(folds)
    cands: list[tuple[Lesson, dict[str, Any], Tally]] = []
    for les in lessons:
        claim = claim_of(les.meta)
        if claim is None:
            rep.rejected.append(Rejected(les, "claim", "makes no claim that can be checked on "
                                         "runs (no tool, condition or fact of the miner)"))
            continue
        ins = tally(claim, runs)
        if ins.n == 0:
            rep.rejected.append(Rejected(les, "labels", "applies to no labeled run: outcomes "
                                         "are needed to tell whether it helps"))
            continue
        cands.append((les, claim, ins))
    # the folds re-mine only the pattern families that can still ship something: the
    # in-sample gate does not depend on the folds
    wanted: set[str] = set()
    for _les, claim, ins in cands:
        if not _insample_gate(claim.get("type") == "workflow", ins, cfg)[0]:
            wanted |= patterns_for(claim)
    pooled: dict[str, Tally] = {}
    mined_in: dict[str, int] = {}
    if k >= 2 and wanted:
        # the k fold miners are independent: the executor runs them (here, or on Ray)
        fold_of = [folds[_task(r)] for r in runs]
        per_fold = (executor or LocalExecutor()).map(
            _fold_claims, (mine, runs, fold_of, frozenset(wanted)), range(k))
        for f, claims in enumerate(per_fold):
            test = [r for r, g in zip(runs, fold_of, strict=True) if g == f]
            seen: set[str] = set()
            for claim in claims:
                key = _key(claim)
                if key in seen:
                    continue
                seen.add(key)
                mined_in[key] = mined_in.get(key, 0) + 1
                pooled.setdefault(key, Tally()).add(tally(claim, test))
    need = max(1, math.ceil(cfg.min_fold_share * k)) if k >= 2 else 1
    first: list[tuple[Lesson, dict[str, Any], Tally, str, str]] = []
    for les, claim, ins in cands:
        key = _key(claim)
        gate, reason = _early_gate(claim.get("type") == "workflow", ins, mined_in.get(key, 0),
                                   need, k, cfg)
        first.append((les, claim, ins, gate, reason))
    reach = [(id(x[0]), pooled.get(_key(x[1]), Tally())) for x in first if not x[3]]
    qs = dict(zip([i for i, _ in reach], bh_qvalues([h.p_value() for _, h in reach]),
                  strict=True))
    for les, claim, ins, gate, reason in first:
        key = _key(claim)
        h = pooled.get(key, Tally())
        hd = {**h.to_dict(), "folds": k, "mined_in": mined_in.get(key, 0)}
        if id(les) in qs:
            hd["p"], hd["q"] = float(f"{h.p_value():.3g}"), float(f"{qs[id(les)]:.3g}")
        meta = {"claim": claim, "in_sample": ins.to_dict(), "heldout": hd}
        workflow = claim.get("type") == "workflow"
        if not gate:
            gate, reason = _heldout_gate(workflow, h, qs.get(id(les), 1.0), cfg)
        hd["verdict"] = gate if gate else "passed"
        if gate:
            les.meta.update(meta)
            rep.rejected.append(Rejected(les, gate, reason))
            continue
        kept = les.model_copy(deep=True)
        kept.meta.update(meta)
        kept.content = f"{statement_text(les, claim)} {heldout_clause(claim, hd)}"
        rep.kept.append(kept)
    return rep


def _early_gate(workflow: bool, ins: Tally, mined: int, need: int, k: int,
                cfg: CrossvalConfig) -> tuple[str, str]:
    """The in-sample and stability gates: ("", "") when the lesson passes them."""
    gate = _insample_gate(workflow, ins, cfg)
    if gate[0]:
        return gate
    if k < 2:
        return ("heldout", "all runs belong to one task: no task can be held out")
    if mined < need:
        return ("stable", f"found again in {mined} of {k} folds (needs {need})")
    return ("", "")


def _insample_gate(workflow: bool, ins: Tally, cfg: CrossvalConfig) -> tuple[str, str]:
    """The discriminative gate on all runs: ("", "") when the lesson passes it."""
    if not workflow:
        lift_in, _ = ins.lift()
        if lift_in is None:
            return ("discriminative", "every run it applies to "
                    + ("follows it" if ins.brk == 0 else "breaks it")
                    + ": it does not separate success from failure")
        p = ins.p_value()
        if lift_in <= 1 or p > cfg.screen_p:
            return ("discriminative", f"in-sample lift {lift_in:.2f}, p = {p:.2g} "
                    f"(needs a lift above 1 and p <= {cfg.screen_p})")
    return ("", "")


def _heldout_gate(workflow: bool, h: Tally, q: float, cfg: CrossvalConfig) -> tuple[str, str]:
    """The held-out gate: ("", "") when the lesson ships."""
    hd = h.to_dict()
    lift, ci = h.lift()
    if lift is None:
        return ("heldout", f"untestable on held-out tasks ({h.brk} runs did otherwise, "
                f"{h.follow} did this): " + ("every run takes this path, so it tells no "
                                             "success from failure" if workflow and not h.brk
                                             else "no contrast to judge it by"))
    if lift <= 1:
        return ("wrong-way", f"held-out {_fmt(hd)}: runs that followed it failed as often "
                "or more")
    if ci is None or (cfg.require_ci and ci[0] <= 1):
        return ("heldout", f"held-out {_fmt(hd)} does not exclude 1"
                + (": a path failed runs took as often" if workflow else ""))
    if q > cfg.max_q:
        return ("heldout", f"held-out {_fmt(hd)}, but q = {q:.2g} after Benjamini-Hochberg "
                f"over every lesson checked (needs <= {cfg.max_q})")
    return ("", "")


def _fold_claims(shared: tuple[Callable[[list[Run], frozenset[str]], list[Lesson]], list[Run],
                                list[int], frozenset[str]], f: int) -> list[dict[str, Any]]:
    """The claims the miner finds on every fold but ``f`` (one executor piece)."""
    mine, runs, fold_of, patterns = shared
    train = [r for r, g in zip(runs, fold_of, strict=True) if g != f]
    return [c for les in mine(train, patterns) if (c := claim_of(les.meta)) is not None]


def offline_mine(train: list[Run], patterns: frozenset[str]) -> list[Lesson]:
    """The offline miner on a fold's training runs, with only these pattern families."""
    from skillforge.analyze._mine_common import MinerSettings
    from skillforge.analyze.miner import collect_stats

    return collect_stats(train, settings=MinerSettings(patterns=patterns)).lessons


def crossval_gate(lessons: Sequence[Lesson], runs: Sequence[Run],
                  cfg: CrossvalConfig | None = None, *,
                  executor: Executor | None = None) -> CrossvalReport:
    """:func:`judge` with the offline miner as the per-fold miner."""
    return judge(lessons, runs, offline_mine, cfg, executor=executor)
