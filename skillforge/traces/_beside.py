"""Outcome labels that sit beside the runs, tied to trajectories by instance, task or trial id.

Benchmark harnesses write their verdicts next to the trajectories, not inside them. Label
files are found by content among the files of an ingest (small JSON documents that no trace
format claims) and by Harbor's trial layout:

- **SWE-bench instance report** (``swe-bench report``): the harness's
  ``logs/run_evaluation/<run>/<model>/<instance_id>/report.json``, either wrapped
  ``{<instance_id>: {"resolved": bool, "tests_status": {...}}}`` or the inner object alone
  ``{"patch_is_None", "patch_exists", "patch_successfully_applied", "resolved",
  "tests_status"}`` (as mini-swe-agent runs publish it), whose instance id is its folder name.
- **SWE-bench run report** (``swe-bench run report``): the harness's ``<model>.<run_id>.json``
  and sb-cli's report, ``{"resolved_ids": [...], "unresolved_ids": [...], "error_ids": [...],
  "empty_patch_ids": [...], ...}``.
- **Harness summary** (``harness summary``): per-task records with an id and a verdict, as a
  list at the top or under ``instances``/``results``/``tasks``/``trials``/``samples``
  (``results_summary.json`` ``{"instances": [{"instance_id", "resolved"}]}``, Terminal-Bench
  ``results.json`` ``{"results": [{"task_id", "trial_name", "is_resolved"}]}``), or a map
  ``{<task_id>: {"reward"|"score"|"success"|"resolved"|...: value}}``.
- **SWE-bench results** (``swe-bench results``): the leaderboard's
  ``evaluation/<split>/<run>/results/results.json``, ``{"resolved": [...], "no_generation":
  [...], "no_logs": [...]}`` (older harness: also ``applied``, ``no_apply``, ``test_errored``
  ...); an instance of that run listed under ``resolved`` succeeded, any other failed.
- **Harbor job result** (``harbor job result``): ``result.json`` with
  ``stats.evals.<eval>.reward_stats.reward = {"1.0": [trial names], "0.0": [...]}``.
- **Harbor verifier reward** (``harbor reward``): ``<trial>/verifier/reward.txt`` (one
  number), ``<trial>/verifier/reward.json`` (``{"reward": 1.0}``) or the trial's
  ``result.json`` (``verifier_result.rewards``); it labels every trajectory inside ``<trial>``.

A trajectory's candidate ids are its task id, ``meta`` instance id, trial name, task name and
session id, its file name up to the first dot, its folder's name and its Harbor trial folder's
name. Where several label files
know one id, an instance report beats a trial reward, which beats a summary; among equals the
file closest to the trajectory wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the helpers load when a file is indexed: a folder with no file a label
    # file could be (ingest of JSONL) builds its empty index without the trajectory model
    from skillforge.traces.model import Outcome, Trajectory

LABEL_BYTES = 8 * 1024 * 1024
CHEAP_LOAD_BYTES = 64 * 1024  # below this, parsing a file beats detecting its format
_INNER_REPORT = {"patch_successfully_applied", "patch_exists", "patch_is_None", "tests_status"}
_ID_KEYS = ("instance_id", "task_id", "trial_name", "trajectory_id", "sample_id", "session_id",
            "task_name", "id", "name", "task")
_VERDICT_KEYS = ("resolved", "is_resolved", "success", "passed", "reward", "score", "correct",
                 "status", "outcome")
_LIST_KEYS = ("instances", "results", "tasks", "trials", "samples", "runs")
_RUN_REPORT_KEYS = (("resolved_ids", True), ("unresolved_ids", False), ("error_ids", False),
                    ("empty_patch_ids", False))
# rank: how specific a label file is to one run
_RANK = {"swe-bench report": 3, "harbor reward": 2, "harbor job result": 1,
         "swe-bench run report": 1, "swe-bench results": 1, "harness summary": 1}
# folders that hold a run's verdicts rather than its runs
_RESULT_DIRS = {"results", "reports", "logs", "eval", "evaluation", "sb-cli-reports", "verdicts"}
# key prefix of a results file's "every other instance of this run failed" entry
_COMPLEMENT = "\0complement:"


@dataclass
class BesideLabel:
    """One verdict a label file gives for one id (or one trial folder)."""

    value: Any
    kind: str
    file: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def outcome(self) -> Outcome:
        """The verdict as an Outcome, with the raw value in ``detail``."""
        from skillforge.traces._common import outcome_from

        out = outcome_from(self.value)
        if self.detail:
            out.detail = self.detail
        return out


def _verdict(rec: dict[str, Any]) -> Any:
    from skillforge.traces._common import outcome_from

    for key in _VERDICT_KEYS:
        v = rec.get(key)
        if isinstance(v, bool | int | float) or (isinstance(v, str) and key == "status"):
            if isinstance(v, str) and outcome_from(v).success is None:
                continue
            return v
    return None


def _record_id(rec: dict[str, Any]) -> str | None:
    for key in _ID_KEYS:
        v = rec.get(key)
        if isinstance(v, str | int) and not isinstance(v, bool) and str(v):
            return str(v)
    return None


def _tests_counts(tests: Any) -> dict[str, Any]:
    if not isinstance(tests, dict):
        return {}
    return {"tests_status": {k: {kk: len(vv) for kk, vv in v.items() if isinstance(vv, list)}
                             for k, v in tests.items() if isinstance(v, dict)}}


def _harbor_job(doc: dict[str, Any], path: str) -> dict[str, BesideLabel]:
    out: dict[str, BesideLabel] = {}
    evals = (doc.get("stats") or {}).get("evals") if isinstance(doc.get("stats"), dict) else None
    if not isinstance(evals, dict):
        return out
    for ev in evals.values():
        rewards = (ev.get("reward_stats") or {}).get("reward") if isinstance(ev, dict) else None
        if not isinstance(rewards, dict):
            continue
        for value, trials in rewards.items():
            if isinstance(trials, list):
                for trial in trials:
                    out[str(trial)] = BesideLabel(value, "harbor job result", path,
                                                  detail=str(value))
    return out


def parse_label_doc(doc: Any, path: Path) -> tuple[str, dict[str, BesideLabel]] | None:
    """``(kind, {id: label})`` when a JSON document is a label file of a known shape."""
    p = str(path)
    if isinstance(doc, dict) and doc:
        if "resolved" in doc and _INNER_REPORT & doc.keys():
            iid = path.parent.name
            return "swe-bench report", {iid: BesideLabel(
                bool(doc["resolved"]), "swe-bench report", p,
                detail=f"resolved: {str(bool(doc['resolved'])).lower()}",
                extra=_tests_counts(doc.get("tests_status")))}
        if any(isinstance(doc.get(k), list) for k, _ in _RUN_REPORT_KEYS):
            found: dict[str, BesideLabel] = {}
            for key, value in _RUN_REPORT_KEYS:
                for iid in doc.get(key) or []:
                    found.setdefault(str(iid), BesideLabel(
                        value, "swe-bench run report", p, detail=key.removesuffix("_ids")))
            return "swe-bench run report", found
        if isinstance(doc.get("resolved"), list) and all(
                isinstance(v, list) for v in doc.values()):
            found = {str(i): BesideLabel(False, "swe-bench results", p, detail=key)
                     for key, ids in doc.items() if key != "resolved" for i in ids}
            found.update({str(i): BesideLabel(True, "swe-bench results", p, detail="resolved")
                          for i in doc["resolved"]})
            scope = path.parent.parent if path.parent.name == "results" else path.parent
            found[_COMPLEMENT + str(_abs(scope))] = BesideLabel(
                False, "swe-bench results", p, detail="not resolved (not in 'resolved')")
            return "swe-bench results", found
        if isinstance(doc.get("stats"), dict) and "n_total_trials" in doc:
            return "harbor job result", _harbor_job(doc, p)
        if all(isinstance(v, dict) and "resolved" in v for v in doc.values()):
            return "swe-bench report", {str(k): BesideLabel(
                bool(v["resolved"]), "swe-bench report", p,
                detail=f"resolved: {str(bool(v['resolved'])).lower()}",
                extra=_tests_counts(v.get("tests_status"))) for k, v in doc.items()}
        for key in _LIST_KEYS:
            if isinstance(doc.get(key), list) and doc[key]:
                got = parse_label_doc(doc[key], path)
                if got:
                    return got
        if all(isinstance(v, dict) for v in doc.values()):
            verdicts = {str(k): _verdict(v) for k, v in doc.items()}
            if verdicts and all(v is not None for v in verdicts.values()):
                return "harness summary", {k: BesideLabel(v, "harness summary", p,
                                                          detail=json.dumps(v))
                                           for k, v in verdicts.items()}
        return None
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        found = {}
        for rec in doc:
            rid, verdict = _record_id(rec), _verdict(rec)
            if rid is None or verdict is None or "messages" in rec or "traj" in rec:
                return None  # per-run records that carry the run itself are traces
            found[rid] = BesideLabel(verdict, "harness summary", p, detail=json.dumps(verdict))
            trial = rec.get("trial_name")
            if isinstance(trial, str) and trial != rid:
                found[trial] = found[rid]
        return "harness summary", found
    return None


def _reward_txt(path: Path) -> BesideLabel | None:
    try:
        raw = path.read_text(encoding="utf-8", errors="replace").strip()
        first = raw.splitlines()[0].strip() if raw else ""
        float(first)
    except (OSError, ValueError):
        return None
    return BesideLabel(float(first), "harbor reward", str(path), detail=first)


def _trial_reward(path: Path) -> tuple[Path, BesideLabel] | None:
    """``(trial folder, label)`` for a Harbor verifier reward file or trial result."""
    if path.name == "reward.txt" and path.parent.name == "verifier":
        lab = _reward_txt(path)
        return (path.parent.parent, lab) if lab else None
    from skillforge.traces._steps import read_small_json

    doc = read_small_json(path)
    if not isinstance(doc, dict):
        return None
    if path.name == "reward.json" and path.parent.name == "verifier":
        value = doc.get("reward", next(iter(doc.values()), None) if len(doc) == 1 else None)
        if isinstance(value, int | float):
            return path.parent.parent, BesideLabel(value, "harbor reward", str(path),
                                                   detail=json.dumps(doc))
        return None
    if path.name == "result.json" and "trial_name" in doc and "task_name" in doc:
        rewards = (doc.get("verifier_result") or {}).get("rewards")
        if isinstance(rewards, dict) and rewards:
            value = rewards.get("reward", next(iter(rewards.values())))
            if isinstance(value, int | float):
                return path.parent, BesideLabel(value, "harbor reward", str(path),
                                                detail=json.dumps(rewards))
    return None


def _abs(p: Path | str) -> Path:
    """An absolute path without touching the disk (no symlink resolution)."""
    return Path(os.path.abspath(p))


def _common_depth(a: Path, b: Path) -> int:
    n = 0
    for x, y in zip(a.parts, b.parts, strict=False):
        if x != y:
            break
        n += 1
    return n


def candidate_ids(t: Trajectory) -> list[str]:
    """The ids a label file may use for this trajectory, most specific first."""
    from skillforge.traces._renderings import trial_folder

    ids: list[str] = []
    for v in (t.task_id, t.meta.get("instance_id"), t.meta.get("trial_name"),
              t.meta.get("task_name"), t.meta.get("session_id")):
        if isinstance(v, str | int) and not isinstance(v, bool) and str(v):
            ids.append(str(v))
    f = Path(t.source.file)
    ids.extend((f.name.split(".")[0], f.parent.name))
    trial = trial_folder(f, Path(f.anchor or "/"))
    if trial is not None:
        ids.append(trial.name)
    return list(dict.fromkeys(i for i in ids if i))


@dataclass
class LabelIndex:
    """The label files of one ingest, looked up per trajectory."""

    by_id: dict[str, list[BesideLabel]] = field(default_factory=dict)
    by_trial: dict[Path, BesideLabel] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    probed: set[Path] = field(default_factory=set)
    scopes: dict[str, tuple[Path, str | None]] = field(default_factory=dict)
    _trial_of: dict[str, BesideLabel | None] = field(default_factory=dict)

    def add(self, path: Path, claimed: Any = False, root: Path | None = None) -> str | None:
        """Index ``path`` when it is a label file; return its kind (None when it is not).

        ``claimed``: True, or a function of the path that is true, when a trace format reads
        the file as a trace; then only Harbor's trial files (which ATIF also names as
        sidecars) are considered. For a small file the function is asked only when its
        content has a label file's shape (loading it is cheaper than detecting its format);
        a larger one is asked first. ``root``: the input path it was found under (see
        :meth:`lookup`).
        """
        trial = _trial_reward(path)
        if trial is not None:
            folder, lab = trial
            self.by_trial.setdefault(_abs(folder), lab)
            self.files[str(path)] = lab.kind
            return lab.kind
        if claimed is True or path.suffix.lower() != ".json":
            return None
        try:
            size = path.stat().st_size
        except OSError:
            return None
        if size > LABEL_BYTES:
            return None
        ask = callable(claimed)
        if ask and size > CHEAP_LOAD_BYTES and claimed(path):
            return None
        from skillforge.traces._steps import read_small_json

        got = parse_label_doc(read_small_json(path), path)
        if got is None or (ask and size <= CHEAP_LOAD_BYTES and claimed(path)):
            return None
        kind, labels = got
        for key, lab in labels.items():
            self.by_id.setdefault(key, []).append(lab)
        self.files[str(path)] = kind
        self.scopes[str(path)] = (_scope(path, kind, labels), str(root) if root else None)
        return kind

    def trial_label(self, t: Trajectory) -> BesideLabel | None:
        """The verifier reward of the Harbor trial folder holding the trajectory's file."""
        if t.source.file not in self._trial_of:
            self._trial_of[t.source.file] = self._trial_label(_abs(t.source.file))
        return self._trial_of[t.source.file]

    def _trial_label(self, f: Path) -> BesideLabel | None:
        from skillforge.traces._renderings import trial_folder

        trial = trial_folder(f, Path(f.anchor))
        if trial is None:
            return None
        if trial in self.by_trial:
            return self.by_trial[trial]
        if trial in self.probed:
            return None
        self.probed.add(trial)  # a file named alone still takes its trial's verifier reward
        for cand in (trial / "verifier" / "reward.txt", trial / "verifier" / "reward.json",
                     trial / "result.json"):
            found = _trial_reward(cand) if cand.is_file() else None
            if found is not None:
                self.by_trial[trial] = found[1]
                return found[1]
        return None

    def _applies(self, lab: BesideLabel, f: Path, root: Path | None) -> bool:
        scope, lab_root = self.scopes.get(lab.file, (None, None))
        if scope is None or lab_root != (str(root) if root else None):
            return True  # named as its own input: the user put the two together
        return scope == f.parent or scope in f.parents

    def lookup(self, t: Trajectory, root: Path | None = None) -> BesideLabel | None:
        """The best label for a trajectory, or None when no label file knows it.

        A label file found under the same input path as the trajectory applies only to runs
        inside its own run folder (its folder; above ``results/``-like folders, and above
        ``logs/<instance>/`` for an instance report), so one run's report never labels
        another model's run of the same instance. A label file given as an input of its own
        applies to every trajectory of the ingest.
        """
        trial = self.trial_label(t)
        if trial is not None or not self.by_id:
            return trial
        f = _abs(t.source.file)
        best: tuple[int, int, BesideLabel] | None = None
        for key in candidate_ids(t):
            for lab in self.by_id.get(key, ()):
                lf = _abs(lab.file)
                depth = _common_depth(lf.parent, f.parent)
                if depth == 0 or not self._applies(lab, f, root):
                    continue
                score = (_RANK.get(lab.kind, 0), depth)
                if best is None or score > best[:2]:
                    best = (*score, lab)
        if best is not None:
            return best[2]
        for folder in f.parents:  # SWE-bench results.json: an instance not resolved failed
            labs = self.by_id.get(_COMPLEMENT + str(folder))
            if labs:
                return labs[0]
        return None

    def kinds(self) -> dict[str, int]:
        """Label files found, per kind."""
        out: dict[str, int] = {}
        for kind in self.files.values():
            out[kind] = out.get(kind, 0) + 1
        return out


def _scope(path: Path, kind: str, labels: dict[str, BesideLabel]) -> Path:
    """The run folder a label file speaks for (see :meth:`LabelIndex.lookup`)."""
    here = path.parent
    if kind == "swe-bench report" and here.name in labels:
        return _abs(here.parent.parent if here.parent.name.lower() in _RESULT_DIRS
                    else here.parent)
    if here.name.lower() in _RESULT_DIRS:
        return _abs(here.parent)
    return _abs(here)


def build_label_index(files: Iterable[Path], is_trace: Any,
                      root_of: Any = None) -> LabelIndex:
    """Index the label files among ``files``; ``is_trace(path)`` says a trace format claims
    it; ``root_of(path)`` is the input path a file was found under."""
    index = LabelIndex()
    for f in files:
        if f.suffix.lower() not in (".json", ".txt"):
            continue
        if f.suffix.lower() == ".txt" and f.name != "reward.txt":
            continue
        trial_file = f.name in ("reward.txt", "reward.json", "result.json")
        index.add(f, claimed=False if trial_file else is_trace,
                  root=root_of(f) if root_of else None)
    return index
