"""Harbor ATIF trajectories (``schema_version: "ATIF-v1.x"``), one run per file.

A step's ``source`` is ``system``, ``user`` or ``agent``; an agent step carries its
``reasoning_content``, ``message``, ``tool_calls`` and the ``observation`` results, each
linked to its call by ``source_call_id``. ATIF has no outcome field: Harbor's verifier writes
the reward next to the run. Where the file holds none (root or ``final_metrics`` ``extra``
with ``reward``/``success``/``resolved``), the reader looks, relative to the trajectory file
``T`` in folder ``D``, at:

1. ``D/../verifier/reward.txt``  (Harbor's ``<trial>/agent/trajectory.json`` layout)
2. ``D/../verifier/reward.json`` (flat ``{"reward": 1.0, ...}``)
3. ``D/verifier/reward.txt`` and ``D/verifier/reward.json`` (trajectory at the trial root)
4. ``D/reward.txt``
5. ``D/../result.json`` and ``D/result.json`` (Harbor's TrialResult, ``verifier_result.rewards``)

The first one found wins. Harbor's trial and job ``result.json``/``config.json`` and the
verifier's reward files are claimed as sidecars, so ingesting a whole job folder reports
nothing for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skillforge.traces._common import (
    as_int,
    flatten_text,
    outcome_from,
    parse_time,
)
from skillforge.traces._io import Probe
from skillforge.traces._records import load_expected
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces._steps import (
    as_text,
    call_text,
    link_results,
    mark_final,
    obj,
    read_small_json,
    result_is_error,
)
from skillforge.traces.model import Outcome, Source, Step, Trajectory, Usage

LABEL_KEYS = ("reward", "success", "resolved", "outcome", "status")


def _is_atif(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and str(doc.get("schema_version", "")).upper().startswith("ATIF")
        and isinstance(doc.get("steps"), list)
    )


def _reward_from_text(path: Path, ctx: ReadContext) -> tuple[Outcome, dict[str, Any]] | None:
    try:
        raw = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError as exc:
        ctx.problem(path, f"cannot read the reward file: {exc}")
        return None
    first = raw.splitlines()[0].strip() if raw else ""
    try:
        float(first)
    except ValueError:
        first = ""
    if not first:
        ctx.problem(path, f"reward.txt should hold one number, found {raw[:40]!r}; "
                          "the trajectory is kept without an outcome")
        return None
    out = outcome_from(first)
    out.detail = first
    return out, {"reward_file": str(path)}


def _reward_from_mapping(rewards: Any, path: Path) -> tuple[Outcome, dict[str, Any]] | None:
    if not isinstance(rewards, dict) or not rewards:
        return None
    if "reward" in rewards:
        value = rewards["reward"]
    elif len(rewards) == 1:
        value = next(iter(rewards.values()))
    else:
        return Outcome(detail=as_text(rewards)), {"rewards": rewards, "reward_file": str(path)}
    return outcome_from(value), {"rewards": rewards, "reward_file": str(path)}


def _trial_result(doc: Any) -> dict[str, Any] | None:
    return doc if isinstance(doc, dict) and "trial_name" in doc and "task_name" in doc else None


def _sidecar_outcome(path: Path, ctx: ReadContext) -> tuple[Outcome, dict[str, Any]] | None:
    d = path.parent
    for cand in (d.parent / "verifier", d / "verifier", d):
        txt = cand / "reward.txt"
        if txt.is_file():
            return _reward_from_text(txt, ctx)
        js = cand / "reward.json"
        if cand.name == "verifier" and js.is_file():
            found = _reward_from_mapping(read_small_json(js), js)
            if found:
                return found
            ctx.problem(js, "reward.json should be a JSON object of named rewards")
    for cand in (d.parent / "result.json", d / "result.json"):
        result = _trial_result(read_small_json(cand))
        if result:
            verifier = result.get("verifier_result") or {}
            found = _reward_from_mapping(verifier.get("rewards"), cand)
            if found:
                return found
    return None


def _task_info(path: Path) -> tuple[str | None, dict[str, Any]]:
    """Task id and extra meta from Harbor's trial layout, when the file sits in one."""
    d = path.parent
    for cand in (d.parent / "result.json", d / "result.json"):
        result = _trial_result(read_small_json(cand))
        if result:
            meta = {"trial_name": result.get("trial_name")}
            exc = result.get("exception_info")
            if isinstance(exc, dict) and exc.get("exception_type"):
                meta["exception"] = f"{exc.get('exception_type')}: {exc.get('exception_message')}"
            return str(result["task_name"]), meta
    trial = d.parent if d.name == "agent" else d
    if "__" in trial.name:
        return trial.name.rsplit("__", 1)[0], {"trial_name": trial.name}
    return None, {}


def _steps(
    doc: dict[str, Any], path: Path, ctx: ReadContext,
) -> tuple[list[Step], Usage, str | None]:
    steps: list[Step] = []
    usage = Usage()
    step_model: str | None = None
    for i, raw in enumerate(doc["steps"]):
        where = f"steps[{i}]"
        if not isinstance(raw, dict):
            ctx.problem(path, f"{where}: expected a step object, got {type(raw).__name__}; skipped")
            continue
        source = raw.get("source")
        if source not in ("system", "user", "agent"):
            ctx.problem(path, f"{where} (step_id {raw.get('step_id')}): source must be system, "
                              f"user or agent, got {source!r}; skipped")
            continue
        ts = parse_time(raw.get("timestamp"))
        text = flatten_text(raw.get("message"))
        first = len(steps)
        if source in ("system", "user"):
            if text.strip():
                steps.append(Step(index=0, role=source, kind="message", text=text, timestamp=ts))
        else:
            step_model = step_model or raw.get("model_name")
            reasoning = flatten_text(raw.get("reasoning_content"))
            if reasoning.strip():
                steps.append(Step(index=0, role="assistant", kind="thought", text=reasoning,
                                  timestamp=ts))
            if text.strip():
                steps.append(Step(index=0, role="assistant", kind="message", text=text,
                                  timestamp=ts))
            for call in raw.get("tool_calls") or []:
                if not isinstance(call, dict) or not call.get("function_name"):
                    ctx.problem(path, f"{where}: tool call without a function_name; skipped")
                    continue
                args = call.get("arguments")
                args = args if isinstance(args, dict) else {"_value": args}
                steps.append(Step(
                    index=0, role="assistant", kind="tool_call", tool_name=call["function_name"],
                    tool_args=args, call_id=call.get("tool_call_id"), timestamp=ts,
                    text=call_text(call["function_name"], args)))
            metrics = raw.get("metrics")
            if isinstance(metrics, dict):
                out = as_int(metrics.get("completion_tokens"))
                if out is not None and len(steps) > first:
                    steps[first].tokens = out
                usage.input_tokens = _add(usage.input_tokens, metrics.get("prompt_tokens"))
                usage.output_tokens = _add(usage.output_tokens, metrics.get("completion_tokens"))
                cost = metrics.get("cost_usd")
                if isinstance(cost, int | float):
                    usage.cost = (usage.cost or 0.0) + float(cost)
        obs = raw.get("observation")
        results = obs.get("results") if isinstance(obs, dict) else None
        for res in results or []:
            if not isinstance(res, dict):
                continue
            content = res.get("content")
            body = flatten_text(content) if isinstance(content, list) else as_text(content)
            refs = res.get("subagent_trajectory_ref")
            if not body and isinstance(refs, list):
                body = "delegated to subagent " + ", ".join(
                    str(r.get("session_id")) for r in refs if isinstance(r, dict))
            call_id = res.get("source_call_id")
            err = bool(res.get("is_error")) or result_is_error(body)
            steps.append(Step(
                index=0, role="tool" if call_id else "environment",
                kind="error" if err else "observation", text=body, call_id=call_id,
                is_error=err, timestamp=ts))
    link_results(steps)
    mark_final(steps)
    return steps, usage, step_model


def _add(total: int | None, value: Any) -> int | None:
    n = as_int(value)
    return total if n is None else (total or 0) + n


def _file_outcome(doc: dict[str, Any]) -> Outcome | None:
    for holder in (doc.get("extra"), (doc.get("final_metrics") or {}).get("extra")):
        if isinstance(holder, dict):
            for key in LABEL_KEYS:
                if holder.get(key) is not None:
                    return outcome_from(holder[key])
    return None


@register_format
class AtifFormat:
    """Reader for Harbor's Agent Trajectory Interchange Format."""

    name = "atif"
    sidecar_names = frozenset({"reward.txt", "reward.json", "result.json", "config.json"})

    def sniff(self, probe: Probe) -> float:
        """Claim JSON documents whose ``schema_version`` starts with ``ATIF``."""
        if probe.container == "json" and not probe.is_array and _is_atif(probe.first):
            return 0.99
        return 0.0

    def is_sidecar(self, path: Path) -> bool:
        """True for Harbor's verifier reward files and trial/job result and config files."""
        if path.name == "reward.txt":
            return path.parent.name == "verifier"
        doc = read_small_json(path)
        if not isinstance(doc, dict):
            return False
        if path.name == "reward.json":
            return path.parent.name == "verifier" and all(
                isinstance(v, int | float) for v in doc.values())
        if path.name == "result.json":
            return _trial_result(doc) is not None or "n_total_trials" in doc
        return ("trial_name" in doc and "task" in doc) or ("job_name" in doc and "agents" in doc)

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Yield the file's one trajectory, with its reward from the verifier's files."""
        path = probe.path
        doc = load_expected(path, ctx, _is_atif, "not an ATIF trajectory: needs schema_version "
                                                 "'ATIF-v1.x' and a 'steps' list")
        if doc is None:
            return
        steps, usage, step_model = _steps(doc, path, ctx)
        if not steps:
            ctx.problem(path, "ATIF trajectory has no usable steps")
            return
        agent = obj(doc.get("agent"))
        final = obj(doc.get("final_metrics"))
        if final:
            usage = Usage(
                input_tokens=as_int(final.get("total_prompt_tokens")) or usage.input_tokens,
                output_tokens=as_int(final.get("total_completion_tokens")) or usage.output_tokens,
                cost=final.get("total_cost_usd") if isinstance(
                    final.get("total_cost_usd"), int | float) else usage.cost)
        meta: dict[str, Any] = {
            "session_id": doc.get("session_id"), "schema_version": doc.get("schema_version"),
            "agent_version": agent.get("version"), "notes": doc.get("notes"),
            "continued_trajectory_ref": doc.get("continued_trajectory_ref"),
            "total_steps": final.get("total_steps"),
        }
        outcome = _file_outcome(doc)
        if outcome is None:
            found = _sidecar_outcome(path, ctx)
            if found:
                outcome, extra = found
                meta.update(extra)
        task_id, trial_meta = _task_info(path)
        meta.update(trial_meta)
        yield Trajectory(
            source=Source(format=self.name, file=str(path),
                          record=f"session {doc.get('session_id')}"),
            task_id=task_id,
            task=next((s.text for s in steps if s.role == "user"), ""),
            agent=agent.get("name"), model=agent.get("model_name") or step_model,
            outcome=outcome or Outcome(), steps=steps, usage=usage,
            meta={k: v for k, v in meta.items() if v is not None},
        )
