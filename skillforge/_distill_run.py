"""What one distill carries from stage to stage, and its report (see ``skillforge.distill``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from pydantic import Field

from skillforge.package.model import SkillPackage
from skillforge.report import RunReport
from skillforge.settings import Settings
from skillforge.store import RunRecord

__all__ = ["DistillOptions", "DistillReport", "DistillRun"]


class DistillReport(RunReport):
    """A distill's run report plus where its files went and the exit code."""

    markdown_path: str = ""
    hints: list[str] = Field(default_factory=list)
    html_path: str = ""
    exit_code: int = 0
    faults: list[str] = Field(default_factory=list)  # failed LLM analyses, held-back skills
    # the run whose analysis this one took (inputs and settings unchanged; _distill_reuse)
    reused_from: str = ""

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"distill {self.run_id}: {self.counts.get('trajectories_in_store', 0)} "
            f"trajectories, {self.counts.get('lessons', 0)} lessons -> "
            f"{len(self.skills)} skills in {self.library} ({self.seconds:.1f}s)"
        ]
        if self.reused_from:
            lines.append(f"reused analysis of run {self.reused_from} (inputs and settings "
                         "unchanged): nothing mined, gated or committed again")
        for s in self.skills:
            ver = f"v{s.version}" if s.version else "-"
            pdi = ""
            if s.package.pdi and s.package.pdi.get("pdi") is not None:
                pdi = f", PDI {s.package.pdi['pdi']:+.2f}"
                if s.package.pdi.get("low_pdi"):
                    pdi += " (low)"
            lines.append(
                f"  {s.name:34} {s.status:9} {ver:4} "
                f"{len(s.package.statements)} statements, "
                f"{s.package.support} runs{pdi}"
            )
        if self.problems:
            lines.append(f"skipped {len(self.problems)} unreadable inputs (see the report)")
            lines += [f"  {p}" for p in self.problems[:10]]
        lines += self.faults[:30]
        lines += [f"note: {n}" for n in self.hints]
        lines.append(f"report: {self.markdown_path}")
        lines.append(f"        {self.html_path}")
        return "\n".join(lines)


@dataclass
class DistillOptions:
    """The knobs of one distill, as ``distill()`` received them."""

    llm: str | None = None
    base: SkillPackage | None = None
    labels: Path | str | None = None
    min_support: int = 3
    concurrency: int = 8
    show_progress: bool | None = None
    pdi_threshold: float = 0.0
    strict: bool = False
    sources: Sequence[str] | None = None
    folds: int = 5
    reuse: bool = True  # take an earlier run's analysis when inputs and settings are unchanged
    executor: str = "local"  # where fold miners and LLM calls run (skillforge.executors)
    ray_address: str | None = None


@dataclass
class DistillRun:
    """One distill in flight: its inputs, the store connection, and each stage's output.

    Stages run in order and each reads what the ones before it left here: ingest fills
    ``ing``; mine and analyze ``counts``, ``mined_runs``, ``heldout`` and ``lessons``;
    consolidate ``view``, ``library``, ``existing`` and ``result``; gate ``gate``; write
    ``scored`` and the report's skills; report the rest of ``report``. The reuse stage (right
    after ingest) sets ``reuse``, and ``finished`` when it took an earlier run's analysis.
    """

    paths: Sequence[Path | str]
    settings: Settings
    con: duckdb.DuckDBPyConnection
    run: RunRecord
    report: DistillReport
    lib_path: Path
    opts: DistillOptions
    t0: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    ing: Any = None
    counts: dict[str, int] = field(default_factory=dict)
    llm_errors: list[str] = field(default_factory=list)
    mined_runs: list[Any] = field(default_factory=list)
    heldout: Any = None
    lessons: list[Any] = field(default_factory=list)
    view: Any = None
    library: Any = None
    existing: dict[str, SkillPackage] = field(default_factory=dict)
    result: Any = None
    gate: Any = None
    scored: list[Any] = field(default_factory=list)
    reported: dict[str, list[Any]] = field(default_factory=dict)
    n_traj: int = 0
    reuse: Any = None  # the reuse stage's keys (skillforge._distill_reuse.ReuseCheck)
    finished: bool = False  # set by a stage that completed the run; the rest are skipped
    executor: Any = None  # the open skillforge.executors.Executor (None: in this process)

    @property
    def llm_model(self) -> str | None:
        """The model the LLM stages use (the run's ``--llm`` or the settings'), or None."""
        return self.opts.llm or self.settings.llm.model

    @property
    def inputs(self) -> list[str]:
        """The input paths as strings (what the library records as a version's inputs)."""
        return [str(p) for p in self.paths]
