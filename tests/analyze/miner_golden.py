"""The offline miner's output on the shared real data, as a compact golden record.

    .venv/bin/python tests/analyze/miner_golden.py   # rewrites data/miner_golden.json

``tests/analyze/test_miner_golden.py`` mines the same stores and asserts the same record, so a
change to how the miner reads or holds runs cannot change its lessons. Regenerate the file
(and say why in the commit) only when the miner's content is changed on purpose.

Each store is ingested from real trajectories (``../shared/data`` and the bundled
``traces/``), mined with ``mine_store`` and put through the held-out gate on the runs as
mined. Per lesson the record keeps its id (a hash of analyst, kind, polarity, capability,
title and content), kind, polarity, capability, title, support, confidence, claim, the
pattern's own figures (``meta``), and its evidence (trajectory id prefix, step, and a short
hash of the quote: the quotes themselves are the data's own text and stay out of the repo);
per gated lesson, the gate it failed (or ``passed``) and its held-out counts.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
OUT = Path(__file__).resolve().parent / "data" / "miner_golden.json"

AGENT_FOLDERS = ("mini-swe-agent-gruckion", "swe-agent", "claude-code-v2.1-spotter",
                 "claude-code-log-fixtures", "openhands", "codex-rollouts", "tau2-activegraph",
                 "codex-exec-json-agentcmd", "claude-stream-json-gleam", "gemini-cli-vct",
                 "copilot-cli-vct")
# thresholds low enough that a few dozen runs exercise every pattern
LOOSE = {"min_support": 1, "recovery_min_support": 1, "loop_min_support": 2, "min_lift": 1.0,
         "task_max_p": 1.0, "family_max_p": 1.0, "pitfall_max_p": 1.0, "policy_max_p": 1.0,
         "workflow_min_share": 0.3, "precondition_min_share": 0.5, "confirm_min_share": 0.5,
         "success_min_share": 0.2}

# name -> (folders, miner settings)
CASES: dict[str, tuple[list[Path], dict[str, Any]]] = {
    "tau-bench-airline": ([DATA / "tau-bench-airline"], {}),
    "traces": ([REPO / "traces"], {}),
    "agents": ([DATA / f for f in AGENT_FOLDERS], {}),
    "agents-loose": ([DATA / f for f in AGENT_FOLDERS], LOOSE),
}


def _h(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def record(case: str, home: Path, *, grow: bool = False,
           counts: dict[str, int] | None = None) -> dict[str, Any]:
    """Ingest the case's folders into a store under ``home``, mine it, gate it; the record.

    ``grow``: first ingest and mine the first half of the folders (or the whole folder, for
    a case of one), then the rest, so the recorded mining takes the runs it indexed before
    from the store's miner cache and indexes only the new ones. ``counts`` gets how many
    runs the recorded mining indexed and how many the store held before the last ingest."""
    from skillforge import ingest
    from skillforge.analyze._mine_common import MinerSettings
    from skillforge.analyze.claims import claim_of
    from skillforge.analyze.miner import mine_store
    from skillforge.settings import Settings
    from skillforge.store import connect, load_lessons
    from skillforge.verify.crossval import crossval_gate

    folders, knobs = CASES[case]
    settings = Settings.load(home)
    before = 0
    if grow:
        ingest(folders[:max(1, len(folders) // 2)], settings=settings, show_progress=False)
        con = connect(settings.db_path)
        try:
            before = mine_store(con, run_id="golden-before",
                                settings=MinerSettings(**knobs)).trajectories
        finally:
            con.close()
    ingest(folders, settings=settings, show_progress=False)
    con = connect(settings.db_path)
    try:
        rep = mine_store(con, run_id="golden", settings=MinerSettings(**knobs))
        stored = sorted(load_lessons(con, where="analyst = 'miner'"), key=lambda x: x.id)
        gate = crossval_gate(load_lessons(con), rep.runs)
    finally:
        con.close()
    lessons = []
    for les in stored:
        lessons.append({
            "id": les.id, "kind": les.kind, "polarity": les.polarity,
            "capability": les.capability, "title": les.title, "support": les.support,
            "confidence": les.confidence, "claim": claim_of(les.meta), "meta": les.meta,
            "evidence": [[e.trajectory_id[:12], e.step_index, _h(e.quote)]
                         for e in les.evidence]})
    verdicts = {x.id: {"gate": "passed", "heldout": x.meta.get("heldout"), "text": _h(x.content)}
                for x in gate.kept}
    verdicts.update({x.lesson.id: {"gate": x.gate, "heldout": x.lesson.meta.get("heldout")}
                     for x in gate.rejected})
    fams = {k: [v.runs, v.success, v.failure, sorted(v.tools)]
            for k, v in sorted(rep.stats.families.items())}
    if counts is not None:
        counts.update(indexed=rep.indexed, before=before)
    return {"trajectories": rep.trajectories, "signal_labelled": rep.signal_labelled,
            "mined_runs": len(rep.runs), "families": fams, "lessons": lessons,
            "gate": dict(sorted(verdicts.items()))}


def build() -> dict[str, Any]:
    """The record of every case (each in its own temporary home)."""
    out: dict[str, Any] = {}
    for case in CASES:
        with tempfile.TemporaryDirectory(prefix="sf-golden-") as tmp:
            out[case] = record(case, Path(tmp))
    return out


def dumps(rec: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, one lesson per line (diffs stay readable)."""
    lines = ["{"]
    cases = list(rec)
    for i, case in enumerate(cases):
        body = rec[case]
        lines.append(f"{json.dumps(case)}: {{")
        keys = sorted(body)
        for j, k in enumerate(keys):
            end = "," if j < len(keys) - 1 else ""
            v = body[k]
            if k == "lessons":
                items = [json.dumps(x, sort_keys=True, ensure_ascii=False) for x in v]
                lines.append(f"{json.dumps(k)}: [")
                lines += [f"  {x}," for x in items[:-1]] + ([f"  {items[-1]}"] if items else [])
                lines.append(f"]{end}")
            else:
                lines.append(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}{end}")
        lines.append("}" + ("," if i < len(cases) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dumps(build()))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
