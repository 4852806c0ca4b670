"""Plain role/content transcripts whose actions are text (``GET url``, ``click [12]``, ...).

Accepted shapes: a JSON list of turns ``{role: user|agent|assistant|system|environment,
content}`` (ShareGPT-style ``{from: human|gpt, value}`` too); an object holding the turns
under ``transcript``, ``messages``, ``conversations`` or ``turns`` with optional ``task``,
``task_id``, ``model`` and an outcome label (``reward``, ``success``, ...); a JSON list or
JSONL of such objects (one run each).

An agent turn that takes a text action (see ``_text_actions``) becomes a tool call named by
its verb, with any text around it as a thought; the next user or environment turn is its
observation (an error when it reads like one); a finishing action (``FINISH(...)``,
``stop [...]``, ``Final Answer:``) is the final step. Other turns are messages.

Detection is deliberately modest so plain OpenAI chat files stay with ``openai-chat``:
lists using the ``agent`` role (or ``from``/``value`` turns) score 0.7, user/assistant lists
whose assistant turns mostly take text actions 0.6; objects with ``transcript`` or
``conversations`` 0.7. Lists opening with a system turn score just above openai-chat's 0.8
only with strong evidence (the agent role, or at least two assistant turns and two thirds of
them taking text actions), since openai-chat cannot read agent turns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skillforge.traces._common import (
    call_text,
    flatten_text,
    link_steps,
    looks_like_error,
    outcome_in,
    parse_time,
)
from skillforge.traces._io import Probe
from skillforge.traces._records import ItemLines, array_items, jsonl_records, load_document
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces._text_actions import split_turn
from skillforge.traces.model import Source, Step, Trajectory

NAME = "transcript"
TURN_KEYS = ("transcript", "messages", "conversations", "turns")
ROLES = {
    "user": "user", "human": "user", "agent": "assistant", "assistant": "assistant",
    "gpt": "assistant", "ai": "assistant", "model": "assistant", "bot": "assistant",
    "system": "system", "environment": "environment", "env": "environment",
    "observation": "environment",
}
_OBS_ERROR = re.compile(
    r"^\s*(HTTP/\d(?:\.\d)?\s+[45]\d\d|[45]\d\d\s+[A-Z][a-z]|invalid (action|command|input)|"
    r"nothing happens|unknown (action|command)|not found\b|no such |unable to |could not |"
    r"cannot |permission denied|timed? ?out)", re.I)
_FOREIGN = ("trajectory_format", "tool_calls", "schema_version", "history", "samples", "steps")


def _role_of(t: Any) -> str | None:
    return (t.get("role") or t.get("from") or t.get("speaker")) if isinstance(t, dict) else None


def _content_of(t: dict[str, Any]) -> Any:
    for key in ("content", "value", "text"):
        if key in t:
            return t[key]
    return None


def _is_turn(t: Any) -> bool:
    return isinstance(_role_of(t), str) and _content_of(t) is not None


def _turns_of(rec: Any) -> tuple[str, list[Any]] | None:
    if not isinstance(rec, dict) or any(k in rec for k in _FOREIGN):
        return None
    for key in TURN_KEYS:
        val = rec.get(key)
        if isinstance(val, list) and val and _is_turn(val[0]):
            return key, val
    return None


def _score_turns(turns: list[Any], *, key: str | None) -> float:
    """How sure we are that these turns are a text-action transcript."""
    good = [t for t in turns if isinstance(t, dict)]
    if not good or any("tool_calls" in t or "tool_call_id" in t for t in good):
        return 0.0
    roles = [str(_role_of(t) or "").lower() for t in good]
    if any(r in ("tool", "function", "developer") for r in roles):
        return 0.0
    system_first = roles[0] == "system"
    agent_style = any(r in ("agent", "gpt", "human", "environment", "observation") for r in roles)
    texts = [flatten_text(_content_of(t)) for t, r in zip(good, roles, strict=True)
             if ROLES.get(r) == "assistant"]
    acts = sum(1 for x in texts if split_turn(x)[1] is not None)
    if agent_style:
        return 0.82 if system_first and key is None else 0.7
    if key in ("transcript", "conversations", "turns"):
        return 0.7  # keys no chat-completions file uses
    if not acts or acts * 2 < len(texts):
        return 0.0
    if key == "messages":
        return 0.65  # openai-chat claims plain {messages} objects with 0.6
    if system_first:  # openai-chat claims system-first lists with 0.8
        return 0.81 if acts >= 2 and acts * 3 >= 2 * len(texts) else 0.0
    return 0.6


def _head_items(probe: Probe, limit: int = 60) -> list[Any]:
    """Items of a top-level JSON array that fit in the probe's head."""
    text, dec = probe.head, json.JSONDecoder()
    items: list[Any] = []
    pos = text.find("[") + 1
    while pos and len(items) < limit:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            item, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        items.append(item)
    return items


def _steps(turns: list[tuple[Any, dict[str, Any]]], path: Path, ctx: ReadContext,
           where: Any) -> list[Step]:
    steps: list[Step] = []
    pending: tuple[str, str] | None = None  # (call id, verb) awaiting its observation
    n_calls = 0

    def add(**kw: Any) -> None:
        steps.append(Step(index=len(steps), **kw))

    for pos, t in turns:
        raw_role = _role_of(t)
        role = ROLES.get(str(raw_role).lower()) if isinstance(raw_role, str) else None
        content = _content_of(t) if isinstance(t, dict) else None
        if role is None or content is None:
            why = (f"expected a turn object, got {type(t).__name__}" if not isinstance(t, dict)
                   else "turn has no role" if raw_role is None
                   else f"unknown role {raw_role!r}" if role is None
                   else "turn has no content")
            ctx.problem(path, why, where(pos))
            continue
        text = flatten_text(content)
        ts = parse_time(t.get("timestamp") or t.get("time") or t.get("created_at"))
        if role == "system":
            add(role="system", kind="message", text=text, timestamp=ts)
        elif role == "assistant":
            thought, act = split_turn(text)
            pending = None
            if act is None:
                if text.strip():
                    add(role="assistant", kind="message", text=text, timestamp=ts)
                continue
            if thought:
                add(role="assistant", kind="thought", text=thought, timestamp=ts)
            if act.final:
                answer = act.args.get("answer", act.args.get("input", ""))
                add(role="assistant", kind="final", tool_name=act.verb, tool_args=act.args,
                    text=str(answer) if answer not in ("", None) else act.raw, timestamp=ts)
                continue
            n_calls += 1
            cid = f"call-{n_calls}"
            add(role="assistant", kind="tool_call", tool_name=act.verb, tool_args=act.args,
                call_id=cid, text=call_text(act.verb, act.args), timestamp=ts)
            pending = (cid, act.verb)
        elif pending is not None or role == "environment":
            err = looks_like_error(text) or bool(_OBS_ERROR.match(text))
            link: tuple[str | None, str | None] = pending or (None, None)
            add(role="tool" if pending else "environment", kind="error" if err else "observation",
                text=text, is_error=err, call_id=link[0], tool_name=link[1], timestamp=ts)
            pending = None
        else:
            add(role="user", kind="message", text=text, timestamp=ts)
    return link_steps(steps, settled={s.call_id for s in steps if s.call_id})


def _trajectory(turns: list[tuple[Any, Any]], rec: dict[str, Any], path: Path,
                line: int | None, ctx: ReadContext, where: Any) -> Trajectory | None:
    steps = _steps(turns, path, ctx, where)
    if not steps:
        ctx.problem(path, "transcript has no usable turns", line)
        return None
    task = next((rec[k] for k in ("task", "instruction", "goal", "intent", "question")
                 if isinstance(rec.get(k), str) and rec[k].strip()), "")
    task = task or next((s.text for s in steps if s.role == "user"), "")
    task_id = next((str(rec[k]) for k in ("task_id", "id", "instance_id")
                    if rec.get(k) is not None), None)
    meta = {k: rec[k] for k in ("session_id", "env", "environment", "split")
            if isinstance(rec.get(k), str | int)}
    model = rec.get("model")
    agent = rec.get("agent")
    return Trajectory(
        source=Source(format=NAME, file=str(path), line=line, record=task_id),
        task_id=task_id, task=task, model=model if isinstance(model, str) else None,
        agent=agent if isinstance(agent, str) else None, outcome=outcome_in(rec), steps=steps,
        meta=meta,
    )


def _from_record(rec: Any, path: Path, line: int | None, ctx: ReadContext,
                 whole_doc: bool) -> Trajectory | None:
    found = _turns_of(rec) if isinstance(rec, dict) else None
    if found is None:
        ctx.problem(path, "expected an object with a 'transcript' or 'messages' list of turns",
                    line)
        return None
    key, turns = found
    lines = ItemLines(path, line, whole_doc)
    return _trajectory(list(enumerate(turns)), rec, path, line, ctx,
                       lambda i: lines.line(key, i))


@register_format
class TranscriptFormat:
    """Reader for role/content transcripts whose actions are written as text."""

    name = NAME

    def sniff(self, probe: Probe) -> float:
        """Claim turn lists that use the agent role or whose assistant turns take text actions."""
        first = probe.first
        if probe.container == "json" and probe.is_array and _is_turn(first):
            return _score_turns(_head_items(probe), key=None)
        if probe.container in ("json", "jsonl"):
            found = _turns_of(first)
            return _score_turns(found[1], key=found[0]) if found else 0.0
        return 0.0

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Yield one trajectory per transcript."""
        path = probe.path
        if probe.container == "jsonl":
            for lineno, rec in jsonl_records(path, ctx):
                if (t := _from_record(rec, path, lineno, ctx, False)) is not None:
                    yield t
            return
        if probe.is_array:
            items = array_items(path, ctx)
            if _is_turn(probe.first):
                t = _trajectory(items, {}, path, None, ctx, lambda ln: ln)
                if t is not None:
                    yield t
                return
            for lineno, rec in items:
                if (t := _from_record(rec, path, lineno, ctx, False)) is not None:
                    yield t
            return
        doc = load_document(path, ctx)
        if doc is not None and (t := _from_record(doc, path, None, ctx, True)) is not None:
            yield t
