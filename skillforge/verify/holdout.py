from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from skillforge.analyze._mine_index import Run
from skillforge.analyze._mine_read import read_runs, resolve_quotes
from skillforge.analyze.claims import Tally, claim_of, katz_lift, outcomes, tally
from skillforge.consolidate import ConsolidateConfig, StoreView, consolidate
from skillforge.errors import UsageError
from skillforge.package.model import SkillPackage

__all__ = ["Split", "heldout_runs", "holdout_check", "holdout_dir", "lift_ci", "measure",
           "split_store", "statement_verdict", "wilson"]

Z95 = 1.959963984540054


@dataclass
class Split:
    """Which trajectories train and which are held out."""

    train: list[str]
    heldout: list[str]
    fraction: float
    seed: int


def _unit(seed: int, key: str) -> float:
    h = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2 ** 64


def split_store(con: duckdb.DuckDBPyConnection, fraction: float, seed: int = 0) -> Split:
    """Split the store's trajectories by task into a training and a held-out side."""
    if not 0 < fraction < 1:
        raise UsageError(f"--holdout {fraction} is not a fraction",
                         hint="give a number between 0 and 1, e.g. --holdout 0.3")
    train: list[str] = []
    held: list[str] = []
    for tid, task_id, task in con.execute(
            "SELECT id, task_id, task FROM trajectories ORDER BY id").fetchall():
        key = (f"id:{task_id}" if task_id else
               ("task:" + " ".join(task.split())[:500] if task and task.strip() else tid))
        (held if _unit(seed, key) < fraction else train).append(tid)
    if not held or not train:
        side = "held-out" if not held else "training"
        raise UsageError(f"--holdout {fraction} leaves the {side} side empty "
                         f"({len(train) + len(held)} trajectories in the store)",
                         hint="use a fraction between 0.1 and 0.5, or ingest more runs")
    return Split(train, held, fraction, seed)


def lift_ci(fail_break: int, n_break: int, fail_follow: int, n_follow: int
            ) -> tuple[float | None, tuple[float, float] | None]:
    """Relative risk of failure, breakers over followers, with a 95% Katz interval."""
    return katz_lift(fail_break, n_break, fail_follow, n_follow)


def wilson(k: int, n: int) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion ``k / n`` (None when ``n`` is 0)."""
    if n == 0:
        return None
    p, z2 = k / n, Z95 * Z95
    den = 1 + z2 / n
    center = (p + z2 / (2 * n)) / den
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
    return max(0.0, center - half), min(1.0, center + half)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def statement_verdict(t: Tally) -> str:
    """``generalizes``, ``holds``, ``weak``, ``wrong-way`` or ``untestable`` (see the module
    docstring)."""
    lift, ci = t.lift()
    if lift is None or ci is None:
        return "untestable"
    if ci[1] < 1:
        return "wrong-way"
    if lift < 1:
        return "weak"
    return "generalizes" if ci[0] > 1 else "holds"


def measure(pkg: SkillPackage, runs: Sequence[Run]) -> dict[str, Any]:
    """Each statement's held-out figures on ``runs``, and the skill's as a whole."""
    rows: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    for s in pkg.statements:
        claim = claim_of(s.meta) if s.meta.get("claim") else None
        row: dict[str, Any] = {"id": s.id, "section": s.section, "text": s.text}
        if claim is None:
            rows.append({**row, "claim": None, "verdict": "not checkable"})
            continue
        t = tally(claim, runs)
        claims.append(claim)
        rows.append({**row, "claim": claim, **t.to_dict(), "verdict": statement_verdict(t)})
    skill = Tally()
    run_level = [c for c in claims if c.get("type") != "recovery"]
    for r in runs:
        if r.success is None:
            continue
        vs = [f for c in run_level for f, _ in outcomes(c, r)]
        if not vs:
            continue
        if all(vs):
            skill.follow += 1
            skill.follow_fail += r.success is False
        else:
            skill.brk += 1
            skill.brk_fail += r.success is False
    return {"statements": rows, "checked": len(claims),
            "unchecked": len(rows) - len(claims),
            "skill": {**skill.to_dict(), "verdict": statement_verdict(skill)},
            "generalizes": sum(r["verdict"] == "generalizes" for r in rows),
            "wrong_way": sum(r["verdict"] == "wrong-way" for r in rows),
            "weak": sum(r["verdict"] == "weak" for r in rows)}


def heldout_runs(paths: Sequence[Path | str], *, settings: Any = None) -> tuple[list[Run],
                                                                                 list[str]]:
    """Read trajectory files and folders (any supported format) into indexed runs, without
    touching the home's store; also the problems met (file, line, reason)."""
    from skillforge.ingest import ingest_into
    from skillforge.settings import Settings
    from skillforge.store import connect

    with tempfile.TemporaryDirectory(prefix="skillforge-holdout-") as tmp:
        st = Settings.load(Path(tmp) / "home") if settings is None else settings
        con = connect(Path(tmp) / "heldout.duckdb")
        try:
            rep = ingest_into(con, list(paths), settings=st, show_progress=False)
            runs = read_runs(con)
        finally:
            con.close()
    return runs, [str(p) for p in rep.problems]


def holdout_dir(pkgs: Iterable[SkillPackage], paths: Sequence[Path | str]
                ) -> dict[str, dict[str, Any]]:
    """Judge written packages on the runs in ``paths`` (per statement and per skill)."""
    runs, problems = heldout_runs(paths)
    if not runs:
        raise UsageError(f"no trajectories could be read from {', '.join(map(str, paths))}",
                         hint="point --holdout at a folder or file of traces (any format "
                         "`skillforge formats` lists)" + (f"; first problem: {problems[0]}"
                                                          if problems else ""))
    base = {"source": [str(p) for p in paths], "heldout_runs": len(runs),
            "labeled": sum(r.success is not None for r in runs), "problems": problems[:20]}
    return {p.name: {**base, "distilled": True, **measure(p, runs)} for p in pkgs}


def _train_lessons(con: duckdb.DuckDBPyConnection, split: Split) -> list[Any]:
    from skillforge.analyze.miner import _scratchpad_tools, _without, collect_stats
    from skillforge.store import load_lessons
    from skillforge.verify.crossval import crossval_gate

    train = set(split.train)
    runs = read_runs(con, ids=split.train)
    runs = _without(runs, _scratchpad_tools(runs))
    lessons = collect_stats(runs).lessons
    resolve_quotes(con, lessons)
    lessons += [les for les in load_lessons(con) if les.analyst != "miner"
                and all(e.trajectory_id in train for e in les.evidence)]
    return crossval_gate(lessons, runs).kept


def holdout_check(con: duckdb.DuckDBPyConnection, view: StoreView, names: Iterable[str],
                  fraction: float, *, seed: int = 0, min_support: int = 3
                  ) -> dict[str, dict[str, Any]]:
    """Distill on a split of the store and judge each named skill on the held-out rest."""
    split = split_store(con, fraction, seed)
    result = consolidate(_train_lessons(con, split), view,
                         cfg=ConsolidateConfig(min_support=min_support))
    trained = {p.name: p for p in result.packages}
    runs = read_runs(con, ids=split.heldout)
    base = {"fraction": fraction, "seed": seed, "train_runs": len(split.train),
            "heldout_runs": len(split.heldout)}
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        pkg = trained.get(name)
        if pkg is None:
            out[name] = {**base, "distilled": False,
                         "note": "the training split does not yield this skill"}
            continue
        out[name] = {**base, "distilled": True, **measure(pkg, runs)}
    return out
