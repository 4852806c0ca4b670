"""Anthropic Messages API transcripts.

Accepted shapes: a JSON list of messages; an object with ``messages`` (and optional
``system``, ``model``, ``usage``, an outcome label, ids); a JSON list or JSONL of such
objects (one run each). Content blocks ``text``, ``thinking``, ``tool_use`` /
``server_tool_use`` and server tool results in assistant turns; ``tool_result`` blocks in
user turns become observations (errors when ``is_error``). Usage is summed over assistant
messages that carry it (input + cache read + cache creation tokens), else taken from the
top-level ``usage``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from skillforge.traces._common import (
    as_int,
    as_str,
    call_text,
    content_blocks,
    flatten_text,
    link_steps,
    outcome_in,
    parse_args,
    parse_time,
)
from skillforge.traces._io import Probe, iter_json_array
from skillforge.traces._records import (
    ItemLines,
    jsonl_majority,
    jsonl_records,
    load_expected,
    reporting_bad_json,
)
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces.model import Source, Step, Trajectory, Usage

NAME = "anthropic"
ANTHROPIC_BLOCKS = frozenset({"tool_use", "tool_result", "thinking", "redacted_thinking",
                              "server_tool_use", "web_search_tool_result"})
_CHAT_ONLY_ROLES = frozenset({"system", "tool", "function", "developer"})
_HEAD_BLOCKS = re.compile(
    r'"type"\s*:\s*"(tool_use|tool_result|thinking|redacted_thinking|server_tool_use)"')
_HEAD_NOT_ANTHROPIC = re.compile(
    r'"role"\s*:\s*"(system|tool|developer|function)"|"tool_calls"\s*:|"tool_call_id"\s*:')


def _is_message(m: Any) -> bool:
    return isinstance(m, dict) and m.get("role") in ("user", "assistant") and "content" in m


def _has_blocks(messages: Iterable[Any]) -> bool:
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("type") == "message" and "stop_reason" in m:
            return True
        content = m.get("content")
        if isinstance(content, list) and any(
                isinstance(b, dict) and as_str(b.get("type")) in ANTHROPIC_BLOCKS for b in content):
            return True
    return False


def _is_conversation(x: Any) -> bool:
    """An object holding an Anthropic ``messages`` list (with some sign that it is Anthropic)."""
    if not isinstance(x, dict) or "trajectory_format" in x:
        return False
    msgs = x.get("messages")
    if not isinstance(msgs, list) or not msgs or not _is_message(msgs[0]):
        return False
    head = msgs[:20]
    if any(isinstance(m, dict) and (as_str(m.get("role")) in _CHAT_ONLY_ROLES or "tool_calls" in m
                                    or "tool_call_id" in m) for m in head):
        return False  # chat-completions messages (litellm logs of Claude models look like this)
    if sum(1 for m in head if _is_message(m)) * 5 < 4 * len(head):  # a stray bad message is
        return False                                                 # reported, not fatal
    model = x.get("model")
    return (_has_blocks(msgs) or "system" in x
            or (isinstance(model, str) and model.lower().startswith("claude")))


def _has_messages(x: Any) -> bool:
    return isinstance(x, dict) and isinstance(x.get("messages"), list)


def _message_problem(m: Any) -> str | None:
    if not isinstance(m, dict):
        return f"expected a message object, got {type(m).__name__}"
    if m.get("role") not in ("user", "assistant"):
        return f"message role must be 'user' or 'assistant', got {m.get('role')!r}"
    if "content" not in m:
        return "message without 'content'"
    return None


def _add_usage(u: Any, into: Usage) -> bool:
    if not isinstance(u, dict):
        return False
    inp = sum(as_int(u.get(k)) or 0 for k in (
        "input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
    into.input_tokens = (into.input_tokens or 0) + inp
    into.output_tokens = (into.output_tokens or 0) + (as_int(u.get("output_tokens")) or 0)
    return True


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        parts = []
        for b in content:
            if isinstance(b, dict) and b.get("type") in ("image", "document"):
                parts.append(f"[{b['type']}]")
            elif isinstance(b, dict) and b.get("type") == "web_search_result":
                parts.append(f"{b.get('title') or ''} {b.get('url') or ''}".strip())
            else:
                parts.append(flatten_text(b))
        return "\n".join(p for p in parts if p)
    return flatten_text(content)


def _steps(system: Any, messages: list[dict[str, Any]]) -> tuple[list[Step], Usage, dict[str, Any]]:
    steps: list[Step] = []
    usage = Usage()
    info: dict[str, Any] = {}
    sys_text = _result_text(system) if system is not None else ""
    if sys_text.strip():
        steps.append(Step(index=0, role="system", kind="message", text=sys_text))

    def add(**kw: Any) -> None:
        steps.append(Step(index=len(steps), **kw))

    for m in messages:
        role = m["role"]
        ts = parse_time(m.get("timestamp") or m.get("created_at"))
        if role == "assistant":
            if isinstance(m.get("model"), str):
                info["model"] = m["model"]
            if m.get("stop_reason"):
                info["stop_reason"] = m["stop_reason"]
            if _add_usage(m.get("usage"), usage):
                info["message_usage"] = True
        for b in content_blocks(m["content"]):
            bt = b.get("type")
            if bt == "text":
                text = str(b.get("text") or "")
                if text.strip():
                    add(role=role, kind="message", text=text, timestamp=ts)
            elif role == "assistant" and bt == "thinking":
                if str(b.get("thinking") or "").strip():
                    add(role="assistant", kind="thought", text=str(b["thinking"]), timestamp=ts)
            elif role == "assistant" and bt == "redacted_thinking":
                info["redacted_thinking"] = info.get("redacted_thinking", 0) + 1
            elif role == "assistant" and bt in ("tool_use", "server_tool_use"):
                raw = b.get("input")
                args = raw if isinstance(raw, dict) else (parse_args(raw) or {})
                name = as_str(b.get("name"))
                add(role="assistant", kind="tool_call", tool_name=name, tool_args=args,
                    call_id=as_str(b.get("id")), text=call_text(name, args), timestamp=ts)
            elif bt == "tool_result" or (isinstance(bt, str) and bt.endswith("_tool_result")):
                res = b.get("content")
                err = bool(b.get("is_error")) or (
                    isinstance(res, dict) and str(res.get("type", "")).endswith("_error"))
                text = _result_text(res)
                if isinstance(res, dict) and res.get("error_code"):
                    text = f"{res.get('type')}: {res['error_code']}"
                add(role="tool", kind="error" if err else "observation", text=text,
                    call_id=as_str(b.get("tool_use_id")), is_error=err, timestamp=ts)
    return link_steps(steps), usage, info


def _trajectory(conv: dict[str, Any], messages: list[dict[str, Any]], path: Path,
                line: int | None) -> Trajectory | None:
    steps, usage, info = _steps(conv.get("system"), messages)
    if not steps:
        return None
    if not info.get("message_usage"):
        _add_usage(conv.get("usage"), usage)
    model = conv.get("model") if isinstance(conv.get("model"), str) else info.get("model")
    task = conv.get("task") if isinstance(conv.get("task"), str) else ""
    task = task or next((s.text for s in steps if s.role == "user" and s.kind == "message"), "")
    meta: dict[str, Any] = {}
    for key in ("id", "session_id", "conversation_id"):
        if conv.get(key) is not None:
            meta[key] = conv[key]
    for key in ("stop_reason", "redacted_thinking"):
        if key in info:
            meta[key] = info[key]
    rid = conv.get("id") or conv.get("session_id")
    task_id = next((str(conv[k]) for k in ("task_id", "instance_id") if conv.get(k) is not None),
                   None)
    return Trajectory(
        source=Source(format=NAME, file=str(path), line=line,
                      record=None if rid is None else str(rid)),
        task_id=task_id, task=task, model=model, outcome=outcome_in(conv), steps=steps,
        usage=usage, meta=meta,
    )


def _conversation(conv: dict[str, Any], path: Path, line: int | None, ctx: ReadContext,
                  whole_doc: bool = False) -> Trajectory | None:
    good = []
    lines = ItemLines(path, line, whole_doc)
    for i, m in enumerate(conv["messages"]):
        why = _message_problem(m)
        if why:
            ctx.problem(path, f"messages[{i}]: {why}", lines.line("messages", i))
            continue
        good.append(m)
    t = _trajectory(conv, good, path, line)
    if t is None:
        ctx.problem(path, "conversation has no usable messages", line)
    return t


def _conversations(records: Iterable[tuple[int, Any]], unit: str, path: Path,
                   ctx: ReadContext) -> Iterator[Trajectory]:
    """One trajectory per ``(line, record)`` holding a conversation; ``unit`` names a record."""
    for lineno, rec in records:
        if not _has_messages(rec):
            ctx.problem(path, f"{unit} is not an object with a 'messages' list", lineno)
        elif (t := _conversation(rec, path, lineno, ctx)) is not None:
            yield t


@register_format
class AnthropicFormat:
    """Reader for Anthropic Messages API conversations."""

    name = NAME

    def sniff(self, probe: Probe) -> float:
        """Claim message lists and ``{messages}`` objects that use Anthropic content blocks."""
        first = probe.first
        if probe.container == "json" and probe.is_array:
            if _is_conversation(first):
                return 0.85
            if (_is_message(first) and _HEAD_BLOCKS.search(probe.head)
                    and not _HEAD_NOT_ANTHROPIC.search(probe.head)):
                return 0.85
            return 0.0
        if probe.container == "json":
            return 0.85 if _is_conversation(first) else 0.0
        return 0.85 if jsonl_majority(probe, _is_conversation) else 0.0

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Yield one trajectory per conversation; bad messages are reported and skipped."""
        path = probe.path
        if probe.container == "jsonl":
            yield from _conversations(jsonl_records(path, ctx), "line", path, ctx)
            return
        if probe.is_array and _is_conversation(probe.first):
            with reporting_bad_json(path, ctx):
                yield from _conversations(iter_json_array(path), "array item", path, ctx)
            return
        if probe.is_array:
            good: list[dict[str, Any]] = []
            with reporting_bad_json(path, ctx):
                for lineno, m in iter_json_array(path):
                    why = _message_problem(m)
                    if why:
                        ctx.problem(path, why, lineno)
                    else:
                        good.append(m)
            t = _trajectory({}, good, path, None)
            if t is None:
                ctx.problem(path, "no usable messages in file")
            else:
                yield t
            return
        doc = load_expected(path, ctx, _has_messages, "expected an object with a 'messages' list")
        if doc is not None and (t := _conversation(doc, path, None, ctx, True)) is not None:
            yield t
