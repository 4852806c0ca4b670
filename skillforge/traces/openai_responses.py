"""OpenAI Responses API items.

Accepted shapes: a JSON list of items (one run); a JSON object with ``input`` and/or
``output`` item lists (a logged request and response, or a Responses API ``response``
object), optionally with ``instructions``, ``model``, ``usage`` and an outcome label
(``reward``, ``success``, ``resolved``, ``status``, ``score``); a JSON list or JSONL of such
objects (one run each); and JSONL of items (one run per file). Items are converted by
``_responses``; unknown item types are counted in ``meta.unknown_items``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from skillforge.traces._common import as_dict, as_int, as_str, outcome_in, parse_time
from skillforge.traces._io import Probe, iter_json_array
from skillforge.traces._records import (
    ItemLines,
    array_items,
    jsonl_majority,
    jsonl_records,
    load_document,
    reporting_bad_json,
)
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces._responses import ItemSteps, has_parts, is_item, item_problem
from skillforge.traces.model import Source, Trajectory, Usage

NAME = "openai-responses"
# An API response's own status says whether the call finished, not whether the task did.
API_STATUSES = frozenset({"completed", "incomplete", "in_progress", "queued", "cancelled",
                          "failed"})
_HEAD_ITEMS = re.compile(
    r'"type"\s*:\s*"(function_call|function_call_output|custom_tool_call|reasoning|'
    r'input_text|output_text)"')
_HEAD_CHAT = re.compile(r'"tool_calls"\s*:|"role"\s*:\s*"tool"|"tool_call_id"\s*:')


def _is_item_like(x: Any) -> bool:
    return is_item(x) or (isinstance(x, dict) and "type" not in x and has_parts(x))


def _is_record(x: Any) -> bool:
    """A logged request/response: ``output`` or ``input`` holding Responses items."""
    if not isinstance(x, dict):
        return False
    if x.get("object") == "response" and isinstance(x.get("output"), list):
        return True
    for key in ("output", "input"):
        val = x.get(key)
        if isinstance(val, list) and any(_is_item_like(i) for i in val[:20]):
            return True
    return False


def _item_list(x: Any) -> list[Any] | None:
    """Items under ``items`` or ``data`` (the input-items list endpoint), if that is the shape."""
    if isinstance(x, dict) and "input" not in x and "output" not in x:
        for key in ("items", "data"):
            val = x.get(key)
            if isinstance(val, list) and val and all(_is_item_like(i) for i in val[:20]):
                return val
    return None


def _usage(u: Any, into: Usage) -> None:
    if not isinstance(u, dict):
        return
    inp = as_int(u.get("input_tokens", u.get("prompt_tokens")))
    out = as_int(u.get("output_tokens", u.get("completion_tokens")))
    if inp is not None:
        into.input_tokens = (into.input_tokens or 0) + inp
    if out is not None:
        into.output_tokens = (into.output_tokens or 0) + out


def _trajectory(b: ItemSteps, source: Source) -> Trajectory | None:
    steps = b.finish()
    if not steps:
        return None
    task = next((s.text for s in steps if s.role == "user" and s.text.strip()), "")
    meta: dict[str, Any] = {}
    if b.unknown:
        meta["unknown_items"] = dict(b.unknown)
    return Trajectory(source=source, task=task, steps=steps, meta=meta)


def _from_record(rec: dict[str, Any], path: Path, line: int | None, ctx: ReadContext,
                 where: ItemLines, record_index: int | None = None) -> Trajectory | None:
    b = ItemSteps()
    ts = parse_time(rec.get("created_at"))
    instructions = rec.get("instructions")
    if isinstance(instructions, str) and instructions.strip():
        b.add({"type": "message", "role": "system", "content": instructions}, ts)
    for key in ("input", "output"):
        val = rec.get(key)
        if isinstance(val, str):
            if val.strip():
                b.add({"type": "message", "role": "user" if key == "input" else "assistant",
                       "content": val}, ts)
            continue
        if not isinstance(val, list):
            continue
        for i, item in enumerate(val):
            why = item_problem(item)
            if why:
                prefix = "" if record_index is None else f"record {record_index}: "
                ctx.problem(path, f"{prefix}{key}[{i}]: {why}", where.line(key, i))
                continue
            b.add(item, parse_time(item.get("timestamp") or item.get("created_at")) or ts)
    src = Source(format=NAME, file=str(path), line=line,
                 record=as_str(rec.get("id")))
    traj = _trajectory(b, src)
    if traj is None:
        ctx.problem(path, "record has no usable input or output items", line)
        return None
    is_api = rec.get("object") == "response"
    traj.outcome = outcome_in(rec, ignore=API_STATUSES if is_api else frozenset())
    traj.model = rec.get("model") if isinstance(rec.get("model"), str) else None
    _usage(rec.get("usage"), traj.usage)
    traj.started_at = ts
    tagged = as_dict(rec.get("metadata"))
    for key in ("task_id", "instance_id"):
        val = rec.get(key, tagged.get(key))
        if val is not None:
            traj.task_id = str(val)
            break
    if isinstance(rec.get("task"), str) and rec["task"].strip():
        traj.task = rec["task"]
    for key in ("id", "previous_response_id", "conversation", "session_id", "user"):
        val = rec.get(key)
        if isinstance(val, dict):
            val = val.get("id")
        if val is not None:
            traj.meta["response_id" if key == "id" else key] = val
    if is_api and rec.get("status"):
        traj.meta["api_status"] = rec["status"]
    return traj


def _from_items(items: Iterator[tuple[int, Any]], path: Path, ctx: ReadContext,
                where: Callable[[int], int | None] | None = None) -> Trajectory | None:
    """One trajectory from ``(position, item)`` pairs; ``where`` maps a position to a line."""
    b = ItemSteps()
    first_line: int | None = None
    for pos, item in items:
        why = item_problem(item)
        if why:
            ctx.problem(path, why, where(pos) if where else pos)
            continue
        if first_line is None:
            first_line = where(pos) if where else pos
        b.add(item, parse_time(item.get("timestamp") or item.get("created_at")))
    traj = _trajectory(b, Source(format=NAME, file=str(path), line=first_line))
    if traj is None:
        ctx.problem(path, "no usable Responses items in file")
    return traj


@register_format
class OpenAIResponsesFormat:
    """Reader for OpenAI Responses item lists and logged request/response objects."""

    name = NAME

    def sniff(self, probe: Probe) -> float:
        """Claim typed Responses items, ``{input, output}`` records and JSONL of either."""
        first = probe.first
        if probe.container == "json" and probe.is_array:
            if _is_record(first):
                return 0.9
            if is_item(first) or (isinstance(first, dict) and "type" not in first
                                  and has_parts(first)):
                return 0.9
            if (isinstance(first, dict) and "role" in first and _HEAD_ITEMS.search(probe.head)
                    and not _HEAD_CHAT.search(probe.head)):
                return 0.85
            return 0.0
        if probe.container == "json":
            return 0.9 if _is_record(first) or _item_list(first) is not None else 0.0
        return 0.9 if jsonl_majority(probe, lambda r: is_item(r) or _is_record(r)) else 0.0

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Yield one trajectory per record, or one for a whole file of items."""
        path = probe.path
        if probe.container == "jsonl":
            yield from self._read_jsonl(probe, ctx)
            return
        if probe.is_array:
            if _is_record(probe.first):
                with reporting_bad_json(path, ctx):
                    for n, (line, rec) in enumerate(iter_json_array(path)):
                        if not _is_record(rec):
                            ctx.problem(path, "array item is not a Responses input/output record",
                                        line)
                            continue
                        t = _from_record(rec, path, line, ctx, ItemLines(path, line, False), n)
                        if t is not None:
                            yield t
                return
            t = _from_items(iter(array_items(path, ctx)), path, ctx)
            if t is not None:
                yield t
            return
        doc = load_document(path, ctx)
        if doc is None:
            return
        listed = _item_list(doc)
        lines = ItemLines(path, None, True)
        if listed is not None:
            key = "items" if doc.get("items") is listed else "data"
            t = _from_items(enumerate(listed), path, ctx, lambda i: lines.line(key, i))
        else:
            t = _from_record(doc, path, None, ctx, lines)
        if t is not None:
            yield t

    def _read_jsonl(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        path = probe.path
        records_mode = _is_record(probe.first)
        good: list[tuple[int, Any]] = []
        for lineno, rec in jsonl_records(path, ctx):
            if records_mode:
                if not _is_record(rec):
                    ctx.problem(path, "line is not a Responses input/output record", lineno)
                    continue
                t = _from_record(rec, path, lineno, ctx, ItemLines(path, lineno, False))
                if t is not None:
                    yield t
            else:
                good.append((lineno, rec))
        if not records_mode:
            t = _from_items(iter(good), path, ctx)
            if t is not None:
                yield t
