"""The distill pipeline's mine and analyze stages: lessons from the store, then the held-out
gate on them."""

from __future__ import annotations

from skillforge._distill_run import DistillRun
from skillforge.analyze.faults import llm_fault_lines
from skillforge.store import load_lessons
from skillforge.verify.crossval import CrossvalConfig, CrossvalReport, crossval_gate

__all__ = ["analyze_stage", "mine_stage"]


def mine_stage(r: DistillRun) -> None:
    """The offline miner over the whole store (no model, no network)."""
    import duckdb

    from skillforge._perf import release_memory
    from skillforge.analyze.miner import mine_store

    try:  # the rows just ingested go to disk, and the memory they took back to the system
        r.con.execute("CHECKPOINT")
    except duckdb.Error:
        pass  # another transaction is open: the checkpoint waits for a later one
    release_memory()
    mined = mine_store(r.con, run_id=r.run.id)
    r.counts["miner_lessons"] = mined.lessons
    r.mined_runs.extend(mined.runs)
    r.counts["signal_labelled"] = mined.signal_labelled


def analyze_stage(r: DistillRun) -> None:
    """The LLM analysts when a model is configured (a trajectory they fail on keeps the
    miner's lessons, and the failure is listed), then the held-out gate: only lessons that
    hold up on tasks they were not mined from go on (``--folds 0``: all of them)."""
    if r.llm_model:
        from skillforge.analyze.run import analyze_llm_into

        rep = analyze_llm_into(r.con, r.settings, llm=r.opts.llm,
                               concurrency=r.opts.concurrency, run_id=r.run.id,
                               show_progress=r.opts.show_progress, executor=r.executor)
        r.counts["llm_lessons"] = rep.lessons
        r.counts["llm_calls"] = rep.calls
        r.counts["llm_failed"] = len(rep.failed)
        r.counts["llm_dropped"] = len(rep.dropped)
        r.llm_errors.extend(llm_fault_lines(rep))
    r.report.notes += r.llm_errors[:20]
    report = r.report
    if r.opts.folds >= 2:
        heldout = crossval_gate(load_lessons(r.con), r.mined_runs,
                                CrossvalConfig(folds=r.opts.folds), executor=r.executor)
        report.heldout_gate = heldout.summary()
    else:  # gate off (--folds 0): every lesson is kept, as mined
        heldout = CrossvalReport(kept=load_lessons(r.con), runs=len(r.mined_runs))
        report.heldout_gate = "held-out gate off (--folds 0): lessons kept as mined"
        report.notes.append(report.heldout_gate)
    r.heldout = heldout
    r.lessons = heldout.kept
    r.mined_runs.clear()  # nothing after the gate reads them: their memory goes back
    from skillforge._perf import release_memory

    release_memory()
    report.rejected_lessons = [
        f"{x.gate}: {x.lesson.title} ({x.lesson.capability}): {x.reason}"
        for x in heldout.rejected]
