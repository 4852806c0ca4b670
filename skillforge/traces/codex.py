"""Codex CLI rollout JSONL (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``).

Each line is ``{timestamp, type, payload}``: ``session_meta`` (id, cwd, model_provider),
``turn_context`` (model), ``response_item`` (Responses items, converted by ``_responses``),
``event_msg`` and ``compacted``. ``event_msg`` user, agent and reasoning messages repeat the
text of response items: they are dropped when a response item holds the same text and kept
when none does. Exit codes from ``exec_command_end`` / ``patch_apply_end`` /
``mcp_tool_call_end`` events settle whether a call failed. Older rollouts (a first line
``{id, timestamp, instructions}`` followed by bare items) are read too. Unknown record types
are counted in ``meta.unknown_records``. One file is one session, one trajectory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from skillforge.traces._common import as_int, as_str, parse_time
from skillforge.traces._io import Probe
from skillforge.traces._records import jsonl_majority, jsonl_records
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces._responses import (
    CONTEXT_PREFIXES,
    ItemSteps,
    is_item,
    item_problem,
    message_text,
    reasoning_parts,
)
from skillforge.traces.model import Role, Source, Step, Trajectory, Usage

NAME = "codex"
RECORD_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg",
                          "compacted"})
_CONTEXT_KINDS = ("user_instructions", "environment_context")
_META_KEYS = ("cwd", "model_provider", "cli_version", "originator", "source")


def _is_line(r: Any) -> bool:
    return isinstance(r, dict) and as_str(r.get("type")) in RECORD_TYPES and isinstance(
        r.get("payload"), dict)


def _is_legacy_meta(r: Any) -> bool:
    return isinstance(r, dict) and "type" not in r and "id" in r and "timestamp" in r


def _norm(text: str) -> str:
    return " ".join(text.split())


Record = tuple[int, datetime | None, str, dict[str, Any]]  # (line, time, type, payload)


def _records(probe: Probe, ctx: ReadContext) -> list[Record]:
    """Check every line; return ``(line, time, type, payload)`` for the usable ones."""
    out: list[Record] = []
    first = True
    for lineno, rec in jsonl_records(probe.path, ctx):
        if not isinstance(rec, dict):
            ctx.problem(probe.path, f"expected a JSON object, got {type(rec).__name__}", lineno)
            continue
        ts = parse_time(rec.get("timestamp"))
        if "payload" in rec:
            typ, payload = rec.get("type"), rec["payload"]
            if not isinstance(typ, str):
                ctx.problem(probe.path, "rollout line has no 'type'", lineno)
                continue
            if not isinstance(payload, dict):
                ctx.problem(probe.path, f"'{typ}' line whose 'payload' is not an object", lineno)
                continue
        elif first and _is_legacy_meta(rec):
            typ, payload = "session_meta", rec
        elif rec.get("record_type") == "state":
            continue
        elif "type" in rec or "role" in rec:
            typ, payload = "response_item", rec
        else:
            ctx.problem(probe.path, "line is neither a rollout record nor a Responses item",
                        lineno)
            continue
        first = False
        if typ == "response_item":
            why = item_problem(payload)
            if why:
                ctx.problem(probe.path, f"response_item: {why}", lineno)
                continue
        out.append((lineno, ts, typ, payload))
    return out


def _item_texts(records: list[Record]) -> Counter[tuple[str, str]]:
    """The message and reasoning texts response items hold, to drop event_msg duplicates."""
    seen: Counter[tuple[str, str]] = Counter()
    for _, _, typ, p in records:
        if typ != "response_item":
            continue
        if p.get("type", "message") == "message":
            seen[(p.get("role") or "", _norm(message_text(p)))] += 1
        elif p.get("type") == "reasoning":
            for part in reasoning_parts(p):
                seen[("reasoning", _norm(part))] += 1
    return seen


class _Session:
    def __init__(self) -> None:
        self.b = ItemSteps()
        self.meta: dict[str, Any] = {}
        self.models: list[str] = []
        self.usage = Usage()
        self.unknown: Counter[str] = Counter()

    def event(self, p: dict[str, Any], ts: datetime | None, seen: Counter[tuple[str, str]]) -> None:
        et = p.get("type")
        if et in ("user_message", "agent_message", "agent_reasoning",
                  "agent_reasoning_raw_content"):
            text = str(p.get("message") or p.get("text") or "")
            who = {"user_message": "user", "agent_message": "assistant"}.get(str(et), "reasoning")
            key = (who, _norm(text))
            if not key[1]:
                return
            if seen[key] > 0:
                seen[key] -= 1
                return
            role: Role = "assistant" if who != "user" else "user"
            if who == "reasoning":
                self.b.add_step(Step(index=0, role=role, kind="thought", text=text, timestamp=ts))
                return
            if who == "user" and (p.get("kind") in _CONTEXT_KINDS
                                  or text.lstrip().startswith(CONTEXT_PREFIXES)):
                role = "system"
            self.b.add_step(Step(index=0, role=role, kind="message", text=text, timestamp=ts))
        elif et == "token_count":
            info = p.get("info")
            total = info.get("total_token_usage") if isinstance(info, dict) else None
            if isinstance(total, dict):
                self.usage = Usage(input_tokens=as_int(total.get("input_tokens")),
                                   output_tokens=as_int(total.get("output_tokens")))
            elif "input_tokens" in p:  # older rollouts: one turn's usage per event
                self.usage.input_tokens = (self.usage.input_tokens or 0) + (
                    as_int(p.get("input_tokens")) or 0)
                self.usage.output_tokens = (self.usage.output_tokens or 0) + (
                    as_int(p.get("output_tokens")) or 0)
        elif et == "exec_command_end" and isinstance(p.get("exit_code"), int):
            self.b.settle(p.get("call_id"), p["exit_code"] != 0)
        elif et == "patch_apply_end" and isinstance(p.get("success"), bool):
            self.b.settle(p.get("call_id"), not p["success"])
        elif et == "mcp_tool_call_end" and isinstance(p.get("result"), dict):
            res = p["result"]
            ok = res.get("Ok")
            failed = "Err" in res or (isinstance(ok, dict) and bool(ok.get("isError")))
            self.b.settle(p.get("call_id"), failed)
        elif et in ("error", "stream_error") and p.get("message"):
            self.b.add_step(Step(index=0, role="environment", kind="error", is_error=True,
                                 text=str(p["message"]), timestamp=ts))
        elif et == "turn_aborted":
            reason = str(p.get("reason") or "aborted")
            self.meta["aborted"] = reason
            self.b.add_step(Step(index=0, role="environment", kind="error", is_error=True,
                                 text=f"turn aborted: {reason}", timestamp=ts))
        elif et == "task_complete":
            self.meta["turns_completed"] = self.meta.get("turns_completed", 0) + 1

    def record(self, typ: str, p: dict[str, Any], ts: datetime | None,
               seen: Counter[tuple[str, str]]) -> None:
        if typ == "response_item":
            self.b.add(p, ts)
        elif typ == "event_msg":
            self.event(p, ts, seen)
        elif typ == "session_meta":
            if "session_id" not in self.meta and p.get("id") is not None:
                self.meta["session_id"] = str(p["id"])
                self.meta.update({k: p[k] for k in _META_KEYS if p.get(k) is not None})
                if isinstance(p.get("git"), dict) and p["git"]:
                    self.meta["git"] = p["git"]
        elif typ == "turn_context":
            model = p.get("model")
            if isinstance(model, str) and model and model not in self.models:
                self.models.append(model)
            for key in ("approval_policy", "effort"):
                if p.get(key) is not None:
                    self.meta[key] = p[key]
        elif typ == "compacted":
            self.meta["compactions"] = self.meta.get("compactions", 0) + 1
            text = str(p.get("message") or "")
            if text.strip():
                self.b.add_step(Step(index=0, role="system", kind="message",
                                     text=f"[compacted history] {text}", timestamp=ts))
        else:
            self.unknown[typ] += 1


@register_format
class CodexFormat:
    """Reader for Codex CLI session rollouts."""

    name = NAME

    def sniff(self, probe: Probe) -> float:
        """Claim JSONL whose lines are ``{timestamp, type, payload}`` rollout records."""
        if probe.container == "json":
            first = probe.first
            return 0.95 if _is_line(first) and first.get("type") == "session_meta" else 0.0
        if jsonl_majority(probe, _is_line):
            return 0.95
        if probe.container != "jsonl" or not probe.records:
            return 0.0
        recs = probe.records
        if _is_legacy_meta(recs[0]) and any(is_item(r) for r in recs[1:]):
            return 0.95
        return 0.0

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Yield the session as one trajectory."""
        records = _records(probe, ctx)
        if not records:
            return
        seen = _item_texts(records)
        sess = _Session()
        for _, ts, typ, payload in records:
            sess.record(typ, payload, ts, seen)
        steps = sess.b.finish()
        if not steps:
            ctx.problem(probe.path, "rollout has no messages or tool calls", records[0][0])
            return
        meta = sess.meta
        if sess.b.unknown:
            meta["unknown_items"] = dict(sess.b.unknown)
        if sess.unknown:
            meta["unknown_records"] = dict(sess.unknown)
        if len(sess.models) > 1:
            meta["models"] = sess.models
        task = next((s.text for s in steps if s.role == "user" and s.kind == "message"
                     and s.text.strip()), "")
        session = meta.get("session_id")
        yield Trajectory(
            source=Source(format=NAME, file=str(probe.path), line=records[0][0],
                          record=f"session {session}" if session else None),
            task=task, agent="codex", model=sess.models[0] if sess.models else None,
            steps=steps, usage=sess.usage, meta=meta,
        )
