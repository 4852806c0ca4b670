"""Skill quality on real runs held out by task: what ships, and whether it holds.

For the tau-bench airline runs (``../shared/data/tau-bench-airline``: 50 tasks x 4 trials,
reward per run), the whole ``distill`` pipeline runs on the runs of some tasks; every
statement of the written library is then judged on the runs of the *other* tasks by its
stored claim (``skillforge.verify.holdout.measure``): how many statements, how many can be
checked there, how many have a held-out lift whose 95% interval is above 1 ("generalizes"),
how many are weak (lift below 1, the interval includes 1) and how many go significantly the
wrong way (the whole interval below 1). Two splits:

- tasks 0-34 train / 35-49 judge;
- 5-fold cross-validation by task (each task judged once, by a library distilled without it).

Each runs twice in the same process: with the held-out gate (the default) and with it off
(``folds=0``: every mined lesson kept, the behaviour before the gate) as the baseline.

Then the shell-agent and host-session folders of ../shared/data are distilled (no outcome
labels there): what ships, and the recovery lessons with the fix they name.

    python bench/quality.py [--shared ../shared/data] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skillforge import distill  # noqa: E402
from skillforge.analyze.claims import Tally, claim_key, tally  # noqa: E402
from skillforge.package.library import Library  # noqa: E402
from skillforge.settings import Settings  # noqa: E402
from skillforge.verify.holdout import heldout_runs, measure, statement_verdict  # noqa: E402

SHELL_FOLDERS = ["mini-swe-agent-gruckion", "swe-agent", "openhands", "codex-rollouts",
                 "codex-exec-json-agentcmd", "claude-code-v2.1-spotter",
                 "claude-code-log-fixtures", "claude-stream-json-gleam", "gemini-cli-vct",
                 "copilot-cli-vct"]


def _write_tasks(runs: list[dict], tasks: set[int], path: Path) -> Path:
    path.write_text(json.dumps([r for r in runs if int(r["task_id"]) in tasks]))
    return path


def _judge(lib_dir: Path, test_file: Path) -> dict[str, Any]:
    lib = Library(lib_dir, create=False)
    pkgs = [lib.show(n) for n in lib.names()]
    runs, _ = heldout_runs([test_file])
    out = {"skills": len(pkgs), "statements": 0, "checkable": 0, "generalizes": 0,
           "holds": 0, "weak": 0, "wrong_way": 0, "untestable": 0, "not_checkable": 0,
           "lines": []}
    for p in pkgs:
        m = measure(p, runs)
        for st in m["statements"]:
            out["statements"] += 1
            if st.get("claim"):
                out.setdefault("claims", []).append(
                    (claim_key(st["claim"]), st["break"], st["follow"], st["text"][:110]))
            v = st["verdict"]
            key = {"wrong-way": "wrong_way", "not checkable": "not_checkable"}.get(v, v)
            out[key] += 1
            if v != "not checkable":
                out["checkable"] += 1
            if v in ("generalizes", "wrong-way", "weak"):
                ci = st.get("ci") or [0, 0]
                out["lines"].append(f"{v}: {p.name} {st['id']} lift {st['lift']:.2f} "
                                    f"[{ci[0]:.2f}, {ci[1]:.2f}] :: {st['text'][:150]}")
    return out


def _distill(train_file: Path, root: Path, folds: int) -> tuple[Path, float]:
    settings = Settings.load(root / "home")
    t0 = time.perf_counter()
    distill([train_file], settings=settings, out=root / "lib", folds=folds,
            show_progress=False)
    return root / "lib", time.perf_counter() - t0


def _split(runs: list[dict], train: set[int], test: set[int], folds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        tr = _write_tasks(runs, train, t / "train.json")
        te = _write_tasks(runs, test, t / "test.json")
        lib, secs = _distill(tr, t / "run", folds)
        res = _judge(lib, te)
        res["seconds"] = round(secs, 2)
        return res


def _sum(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"lines": []}
    pooled: dict[str, tuple[Tally, str, int]] = {}
    for p in parts:
        for k, v in p.items():
            if isinstance(v, int | float):
                out[k] = round(out.get(k, 0) + v, 2)
            elif k == "lines":
                out["lines"] += v
        for key, (bf, bn), (ff, fn), text in p.get("claims", []):
            t, _, n = pooled.get(key, (Tally(), text, 0))
            t.add(Tally(follow=fn, follow_fail=ff, brk=bn, brk_fail=bf))
            pooled[key] = (t, text, n + 1)
    # each distinct claim shipped by any fold, judged on every fold that shipped it
    out["distinct_claims"] = len(pooled)
    verdicts = [statement_verdict(t) for t, _, _ in pooled.values()]
    for v in ("generalizes", "holds", "weak", "wrong-way", "untestable"):
        out[f"pooled_{v.replace('-', '_')}"] = verdicts.count(v)
    out["pooled"] = sorted(
        (f"{statement_verdict(t)}: lift {t.to_dict()['lift']} {t.to_dict()['ci']} "
         f"(shipped by {n} folds) :: {text}") for t, text, n in pooled.values())
    return out


def tau_quality(shared: Path) -> dict[str, Any]:
    """Both splits, with and without the held-out gate."""
    runs = json.loads((shared / "tau-bench-airline" / "gpt-4o-airline.json").read_text())
    res: dict[str, Any] = {}
    for label, folds in (("gate", 5), ("no gate", 0)):
        res[f"0-34 / 35-49, {label}"] = _split(runs, set(range(35)), set(range(35, 50)), folds)
        parts = []
        for f in range(5):
            test = {t for t in range(50) if t % 5 == f}
            parts.append(_split(runs, set(range(50)) - test, test, folds))
        res[f"5-fold by task, {label}"] = _sum(parts)
    return res


def policy_ceiling(shared: Path, train: set[int], test: set[int]) -> dict[str, Any]:
    """What any gate could at most ship on a split: every policy claim the miner tests on the
    training tasks, with its in-sample evidence (one-sided Fisher p, lift) and its verdict on
    the held-out tasks. A claim a gate may honestly ship needs in-sample evidence; one that
    generalizes on the held-out tasks without it could only be shipped by luck."""
    from skillforge.analyze._mine_common import MinerSettings
    from skillforge.analyze._mine_policy import mine_policy
    from skillforge.analyze._mine_stats import fisher_greater
    from skillforge.analyze.miner import _mine_runs

    runs = json.loads((shared / "tau-bench-airline" / "gpt-4o-airline.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tr, _ = heldout_runs([_write_tasks(runs, train, Path(tmp) / "train.json")])
        te, _ = heldout_runs([_write_tasks(runs, test, Path(tmp) / "test.json")])
    settings = MinerSettings()
    voc = _mine_runs(tr, MinerSettings(patterns=frozenset())).vocabulary
    tried: list[dict] = []
    mine_policy(tr, settings, voc, tried=tried)
    distinct = {claim_key(c): c for c in tried}
    supported, generalizes, lucky = [], [], []
    for key, c in sorted(distinct.items()):
        a = tally(c, tr)
        if not (a.brk and a.follow):
            continue
        p_in = fisher_greater(a.brk_fail, a.brk - a.brk_fail, a.follow_fail,
                              a.follow - a.follow_fail)
        lift_in, _ = a.lift()
        b = tally(c, te)
        v = statement_verdict(b)
        line = (f"in-sample p {p_in:.3g} lift {lift_in:.2f}; held out {v}: "
                f"{b.to_dict()['lift']} {b.to_dict()['ci']} :: {key}")
        if p_in <= 0.05 and (lift_in or 0) > 1:
            supported.append(line)
            if v == "generalizes":
                generalizes.append(line)
        elif v == "generalizes":
            lucky.append(line)
    return {"claims_tested": len(distinct), "with_in_sample_evidence": len(supported),
            "of_those_generalize": len(generalizes), "generalize_without_evidence": len(lucky),
            "supported": supported, "lucky": lucky}


def shell_quality(shared: Path) -> dict[str, Any]:
    """What ships from each unlabeled host / shell-agent folder."""
    out: dict[str, Any] = {}
    for name in SHELL_FOLDERS:
        folder = shared / name
        if not folder.exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.load(Path(tmp) / "home")
            rep = distill([folder], settings=settings, out=Path(tmp) / "lib",
                          show_progress=False)
            lines = [f"{s.name}: {st.text[:200]}" for s in rep.skills
                     for st in s.package.statements]
            out[name] = {"trajectories": rep.counts.get("trajectories_in_store", 0),
                         "lessons": rep.counts.get("lessons", 0),
                         "kept": rep.counts.get("heldout_kept", 0),
                         "statements": len(lines), "lines": lines,
                         "rejected_by_gate": {k[len("heldout_rejected_"):]: v
                                              for k, v in rep.counts.items()
                                              if k.startswith("heldout_rejected_")}}
    return out


COLS = ["skills", "statements", "checkable", "generalizes", "holds", "weak", "wrong_way",
        "untestable", "not_checkable", "seconds"]


def main() -> None:
    """Print the figures (a table, or JSON with --json)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tau = tau_quality(args.shared)
    ceiling = policy_ceiling(args.shared, set(range(35)), set(range(35, 50)))
    shell = shell_quality(args.shared)
    if args.json:
        print(json.dumps({"tau": tau, "ceiling": ceiling, "shell": shell}, indent=2))
        return
    print("tau-bench airline, statements judged on held-out tasks")
    print(f"{'split':34}" + "".join(f"{c:>13}" for c in COLS))
    for k, v in tau.items():
        print(f"{k:34}" + "".join(f"{v.get(c, 0):>13}" for c in COLS))
    for k, v in tau.items():
        if v["lines"]:
            print(f"\n{k}:")
            for line in v["lines"]:
                print("  " + line)
        if "pooled" in v:
            print(f"\n{k}, each distinct claim pooled over the folds that shipped it: "
                  + ", ".join(f"{c[7:]} {v[c]}" for c in v if c.startswith("pooled_")))
            for line in v["pooled"]:
                print("  " + line)
    print(f"\nceiling on tasks 0-34 -> 35-49: {ceiling['claims_tested']} distinct policy "
          f"claims tested in-sample, {ceiling['with_in_sample_evidence']} with in-sample "
          f"evidence (p <= 0.05, lift > 1), {ceiling['of_those_generalize']} of those "
          f"generalize on 35-49; {ceiling['generalize_without_evidence']} generalize there "
          "without in-sample evidence")
    for line in ceiling["supported"]:
        print("  supported: " + line)
    for line in ceiling["lucky"]:
        print("  no in-sample evidence: " + line)
    print("\nunlabeled shell-agent and host-session folders")
    for k, v in shell.items():
        print(f"- {k}: {v['trajectories']} runs, {v['lessons']} lessons, {v['statements']} "
              f"statements shipped; rejected by gate: {v['rejected_by_gate']}")
        for line in v["lines"]:
            print(f"    {line}")


if __name__ == "__main__":
    main()
