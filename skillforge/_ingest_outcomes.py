"""What ingest adds around the readers: labels beside the runs, renderings, session signals.

One :class:`IngestOutcomes` per ingest run. Before any file is read it indexes the label
files among the inputs (``traces.build_label_index``). For each trajectory read it applies,
in this order, the file's own outcome (kept as is), ``--labels`` and then the label files
beside the run, and remembers which gave the label. At the end it folds the renderings of
one run into the richest (``traces.richest``), computes the outcome signals of the runs that
are still unlabeled and stores them apart from labels (``store.write_signals``), and fills
:class:`OutcomeSummary` for the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from skillforge.store import delete_signals, write_signals
from skillforge.traces import build_label_index

if TYPE_CHECKING:  # the trajectory side loads when a run is read (not for an unchanged folder)
    from skillforge.traces import BesideLabel, Rendering, Signal, Trajectory

FROM_FILE = "in the file"
FROM_OPTION = "--labels"


@dataclass
class OutcomeSummary:
    """How many runs got labels and from where, signals, and folded renderings."""

    labelled: dict[str, int] = field(default_factory=dict)
    label_files: dict[str, int] = field(default_factory=dict)
    label_file_paths: list[str] = field(default_factory=list)
    unlabeled: int = 0
    with_signals: int = 0
    without_signals: int = 0
    folded: int = 0
    folded_groups: int = 0
    folded_kept_in_store: int = 0

    def lines(self, runs: int) -> list[str]:
        """Plain lines for the terminal summary."""
        out = []
        n_lab = sum(self.labelled.values())
        if runs:
            src = ", ".join(f"{k} {v}" for k, v in sorted(self.labelled.items()))
            out.append(f"labels: {n_lab} of {runs} runs" + (f" ({src})" if src else ""))
        if self.label_files:
            out.append("label files beside the runs: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.label_files.items())))
        if self.unlabeled:
            out.append(
                f"unlabeled: {self.unlabeled} runs; outcome signals (not labels) for "
                f"{self.with_signals}, {self.without_signals} show nothing and stay unlabeled")
        if self.folded:
            out.append(
                f"renderings: {self.folded} files were other renderings of {self.folded_groups}"
                " runs, kept as sources of the richest (meta.sources)"
                + (f"; {self.folded_kept_in_store} of them were already in the store"
                   if self.folded_kept_in_store else ""))
        return out

    def counts(self) -> dict[str, int]:
        """Flat counts for a run record: labelled, unlabeled, signalled, folded runs."""
        return {"runs_labelled": sum(self.labelled.values()), "runs_unlabeled": self.unlabeled,
                "runs_with_signals": self.with_signals, "renderings_folded": self.folded}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"labelled": self.labelled, "label_files": self.label_files,
                "label_file_paths": self.label_file_paths,
                "unlabeled": self.unlabeled, "with_signals": self.with_signals,
                "without_signals": self.without_signals, "renderings_folded": self.folded,
                "renderings_groups": self.folded_groups}


def _is_trace(path: Path) -> bool:
    from skillforge.traces import detect, probe

    pr = probe(path)
    return pr.container in ("json", "jsonl", "zip") and not pr.error and detect(pr) is not None


def _root(path: Path, roots: Sequence[Path]) -> Path | None:
    return next((r for r in roots if r == path or r in path.parents), None)


def _reader_label(t: Trajectory) -> str:
    m = t.meta
    if m.get("report"):
        return "swe-bench report"
    if m.get("reward_file"):
        return "harbor reward"
    return FROM_FILE


class IngestOutcomes:
    """Labels beside the runs, rendering groups and signals for one ingest run."""

    def __init__(self, files: Sequence[Path], labels: dict[str, Any],
                 roots: Sequence[Path] = ()):
        self.labels = labels
        self.index = build_label_index(files, _is_trace, lambda f: _root(f, roots))
        self.summary = OutcomeSummary(label_files=self.index.kinds(),
                                      label_file_paths=sorted(self.index.files))
        self.source: dict[str, str | None] = {}
        self.groups: dict[str, list[Rendering]] = {}
        self.signals: dict[str, Signal] = {}

    def is_label_file(self, path: Path) -> bool:
        """True for a file read as labels (it is not a trace and not a problem)."""
        return str(path) in self.index.files

    def label(self, t: Trajectory, root: Path | None = None) -> None:
        """Give ``t`` its outcome: the file's own, else ``--labels``, else a label file.

        ``root``: the input path ``t``'s file was found under."""
        from skillforge.traces import apply_labels

        if t.outcome.success is not None:
            verifier = None if t.meta.get("reward_file") else self.index.trial_label(t)
            if verifier is not None:  # a Harbor verifier's reward beats the agent's own verdict
                t.meta["self_reported_outcome"] = t.outcome.detail or str(t.outcome.success)
                self._take(t, verifier)
                return
            self.source.setdefault(t.id, _reader_label(t))
            return
        if apply_labels(t, self.labels):
            self.source[t.id] = FROM_OPTION
            return
        lab = self.index.lookup(t, root)
        if lab is not None:
            self._take(t, lab)
            return
        self.source.setdefault(t.id, None)

    def plain_file(self, path: Path, root: Path | None) -> bool:
        """Whether :meth:`label` and :meth:`note` do no more for a labelled trajectory of
        this file, whose meta names no session nor report, than :meth:`labelled_in_file`:
        no label of any kind to apply, and the file in no Harbor trial folder."""
        if self.labels or self.index.files:
            return False
        from skillforge.traces import Source, Trajectory, rendering_key

        probe_t = Trajectory(source=Source(format="skillforge", file=str(path)))
        return self.index.trial_label(probe_t) is None and rendering_key(probe_t, root) is None

    def labelled_in_file(self, traj_id: str) -> None:
        """What :meth:`label` and :meth:`note` do for such a trajectory (see
        :meth:`plain_file`): remember that its label came with it."""
        self.source.setdefault(traj_id, FROM_FILE)

    def _take(self, t: Trajectory, lab: BesideLabel) -> None:
        t.outcome = lab.outcome()
        t.meta["label_source"] = {"kind": lab.kind, "file": lab.file, **lab.extra}
        self.source[t.id] = lab.kind

    def note(self, t: Trajectory, root: Path | None) -> None:
        """After ``t`` is finalized and labelled: its rendering group and its signals."""
        from skillforge.traces import rendering_key, rendering_of, session_signals

        key = rendering_key(t, root)
        if key is not None:
            self.groups.setdefault(key, []).append(rendering_of(t))
        if t.outcome.success is None and t.id not in self.signals:
            sig = session_signals(t)
            if sig is not None:
                self.signals[t.id] = sig

    def finish(self, con: duckdb.DuckDBPyConnection, report: Any, run_id: str) -> None:
        """Fold renderings, store signals, count; ``report`` (an IngestReport) loses the
        folded trajectories from its ids, counts and formats and gets the summary."""
        removed: set[str] = set()
        folded_all: list[Rendering] = []
        if self.groups:
            from skillforge.store.renderings import fold_renderings
            from skillforge.traces import richest
        for key, members in self.groups.items():
            got = richest(key, members)
            if got is None:
                continue
            kept, folded = got
            dropped = fold_renderings(con, kept, folded, run_id=run_id)
            removed.update(dropped)
            folded_all += folded
            others = {m.id for m in folded} - {kept.id}
            self.summary.folded += len(folded)
            self.summary.folded_groups += 1
            self.summary.folded_kept_in_store += len(others - set(dropped))
            report.added -= len(dropped)
            report.duplicates -= len(folded) - len(others)
            if self.source.get(kept.id) is None:
                donor = next((self.source[m.id] for m in folded if self.source.get(m.id)), None)
                if donor:
                    self.source[kept.id] = donor
            for i in others:
                self.signals.pop(i, None)
        if folded_all:
            drop = Counter(m.id for m in folded_all)  # one occurrence per folded rendering
            ids = []
            for i in report.trajectory_ids:
                if drop.get(i):
                    drop[i] -= 1
                else:
                    ids.append(i)
            for m in folded_all:
                report.steps -= m.steps
                report.formats[m.format] = report.formats.get(m.format, 1) - 1
            report.trajectory_ids = ids
            report.formats = {k: v for k, v in report.formats.items() if v > 0}
        live = list(dict.fromkeys(report.trajectory_ids))
        labelled_now = {r[0] for r in con.execute(
            "SELECT id FROM trajectories WHERE success IS NOT NULL "
            "AND id IN (SELECT unnest(?::VARCHAR[]))", [live]).fetchall()}
        for i in live:
            if i in labelled_now:
                src = self.source.get(i) or FROM_FILE
                self.summary.labelled[src] = self.summary.labelled.get(src, 0) + 1
                self.signals.pop(i, None)
        unl = [i for i in live if i not in labelled_now]
        self.summary.unlabeled = len(unl)
        sigs = [self.signals[i] for i in unl if i in self.signals]
        self.summary.with_signals = len(sigs)
        self.summary.without_signals = len(unl) - len(sigs)
        delete_signals(con, [*labelled_now, *removed])
        write_signals(con, sigs, run_id=run_id)
        report.outcomes = self.summary
