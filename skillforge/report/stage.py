"""The distill pipeline's report stage: counts, cited steps, the run record, and the
Markdown and HTML report files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb

from skillforge._distill_run import DistillReport, DistillRun
from skillforge.package.model import SkillPackage
from skillforge.report.model import CitedStep
from skillforge.report.render import write_reports
from skillforge.store import save_run

__all__ = ["cited_steps", "record_stage", "report_stage"]


def cited_steps(con: duckdb.DuckDBPyConnection,
                pkgs: Sequence[SkillPackage]) -> dict[str, CitedStep]:
    """Every step the packages cite, with its text, source and run outcome."""
    keys = sorted(
        {(e.trajectory_id, e.step_index) for p in pkgs for s in p.statements for e in s.evidence}
    )
    if not keys:
        return {}
    rows = con.execute(
        "SELECT s.trajectory_id, s.idx, s.role, s.kind, s.tool_name, s.text, t.source_file, "
        "t.source_line, t.success FROM steps s JOIN trajectories t ON t.id = s.trajectory_id "
        "JOIN (SELECT unnest(?::VARCHAR[]) AS tid, unnest(?::INTEGER[]) AS idx) k "
        "ON k.tid = s.trajectory_id AND k.idx = s.idx",
        [[k[0] for k in keys], [k[1] for k in keys]],
    ).fetchall()
    out = {}
    for tid, idx, role, kind, tool, text, file, line, success in rows:
        outcome = "unlabeled" if success is None else ("success" if success else "failure")
        out[f"{tid}:{idx}"] = CitedStep(
            trajectory_id=tid, step_index=idx, role=role, kind=kind, tool_name=tool,
            text=text or "", source=f"{file}:{line}" if line else file, outcome=outcome)
    return out


def record_stage(r: DistillRun) -> None:
    """Fill the report (hints, conflicts, cited steps, counts) and save the run record."""
    from skillforge.consolidate.stage import hints

    report, result, heldout, ing, gate = r.report, r.result, r.heldout, r.ing, r.gate
    report.skipped_skills = result.skipped
    report.hints = hints(r.con, result, r.opts.min_support, heldout,
                         r.counts.get("signal_labelled", 0))
    report.notes += report.hints
    report.conflicts = result.log.conflicts
    report.user_conflicts = result.log.user_conflicts
    report.cited = cited_steps(r.con, [g.package for g in gate.outcomes])
    report.counts = {
        "files_read": ing.files_ok,
        "files_skipped": len(ing.skipped_files),
        "trajectories_read": ing.trajectories,
        "trajectories_new": ing.added,
        "trajectories_in_store": r.n_traj,
        **r.counts,
        "lessons": len(r.lessons) + len(heldout.rejected),
        **heldout.counts(),
        "statements_merged": result.log.merged,
        "statements_dropped_low_support": result.dropped_statements,
        "contradictions_resolved": len(result.log.conflicts),
        **gate.counts(),
        "skills": len(result.packages),
        "skills_changed": sum(s.status in ("created", "updated") for s in report.skills),
        "secrets_redacted": sum(ing.redactions.values()),
        **ing.outcomes.counts(),
        "outcomes_reported": sum(len(v) for v in r.reported.values()),
    }
    report.seconds = time.perf_counter() - r.t0
    run = r.run
    run.counts = report.counts
    run.timings = {**r.timings, "total": report.seconds}
    run.errors = (report.problems + r.llm_errors)[:1000]
    report.faults = r.llm_errors
    run.outputs = {"skills": {s.name: s.version for s in report.skills}}
    run.status = "partial" if report.problems or r.llm_errors else "ok"
    run.ended_at = datetime.now(UTC)
    save_run(r.con, run)


def _redact_report(report: DistillReport) -> None:
    """Secrets in file names and problem lines never reach the report files (the detectors
    run when the pre-check says one of them may hold a secret)."""
    import pydantic_core

    from skillforge.traces import blob_may_hold

    texts = [report.inputs, report.problems, report.ignored_files, report.notes]
    if not blob_may_hold(pydantic_core.to_json(texts)):
        return
    from skillforge.traces.redact import Redactor

    red = Redactor()
    report.inputs = red.value(report.inputs)
    report.problems = red.value(report.problems)
    report.ignored_files = red.value(report.ignored_files)
    report.notes = red.value(report.notes)


def report_stage(r: DistillRun) -> DistillReport:
    """Write the report files (secrets redacted from paths and notes); set the exit code."""
    report = r.report
    _redact_report(report)
    md, page = write_reports(report, r.settings.reports_path)
    report.markdown_path, report.html_path = str(md), str(page)
    report.exit_code = 2 if report.problems or r.run.status == "partial" else 0
    return report
