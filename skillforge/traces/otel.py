"""OpenTelemetry GenAI spans, exported as JSON: OTLP, flat span lists, or JSON Lines of either.

Spans follow the GenAI semantic conventions: an ``invoke_agent`` span with ``chat`` and
``execute_tool`` children. ``gen_ai.input.messages``/``gen_ai.output.messages`` hold JSON
``[{role, parts: [{type: text|reasoning|tool_call|tool_call_response, ...}]}]`` (plain
``content`` and OpenAI-style ``tool_calls`` are accepted too); older instrumentations use
indexed ``gen_ai.prompt.N.*``/``gen_ai.completion.N.*`` attributes or ``gen_ai.*.message``
span events. Spans are grouped into one trajectory per conversation (``gen_ai.conversation.id``)
or, without one, per trace, and replayed in time order: a span's input at its start, its
output at its end. Each chat call resends the history, so messages already seen are not
repeated; ``execute_tool`` spans give tool calls their results, linked by
``gen_ai.tool.call.id``. A span with status ERROR becomes an error step. Outcomes come from
``gen_ai.evaluation.result`` events (``score.label``, else ``score.value``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from skillforge.traces._common import as_int, outcome_from, parse_args
from skillforge.traces._io import Probe, iter_json_array, load_json
from skillforge.traces._otel_spans import (
    Span,
    indexed_messages,
    is_span,
    loads_maybe,
    raw_spans,
    to_span,
)
from skillforge.traces._records import jsonl_records, reporting_bad_json
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces._steps import as_text, call_text, link_results, mark_final, obj
from skillforge.traces.model import Outcome, Source, Step, Trajectory, Usage

CHAT_OPS = {"chat", "text_completion", "generate_content", "completion", "responses"}
_ROLES = {"model": "assistant", "ai": "assistant", "developer": "system", "human": "user"}
USAGE_KEYS = (
    ("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
    ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")),
)
_EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool",
                "gen_ai.choice": "assistant"}


def _op(span: Span) -> str:
    op = str(span.attrs.get("gen_ai.operation.name") or span.name.split(" ")[0])
    if op in CHAT_OPS or any(k.startswith(("gen_ai.prompt", "gen_ai.completion"))
                             for k in span.attrs):
        return "chat"
    if op == "execute_tool" or "gen_ai.tool.call.id" in span.attrs:
        return "tool"
    if op in ("invoke_agent", "create_agent") or span.attrs.get("gen_ai.agent.name"):
        return "agent"
    return op


def _relevant(span: Span) -> bool:
    return _op(span) in ("chat", "tool", "agent") or any(
        k.startswith("gen_ai.") for k in span.attrs)


def _parts(msg: Any) -> tuple[str, list[tuple[Any, ...]]]:
    """``(role, parts)``; parts are ``("text"|"reasoning", text)``, ``("call", id, name, args)``
    or ``("response", id, text)``."""
    if isinstance(msg, str):
        return "user", [("text", msg)]
    if not isinstance(msg, dict):
        return "user", []
    role = str(msg.get("role") or "user").lower()
    role = _ROLES.get(role, role)
    raw = msg.get("parts")
    if raw is None:
        content = loads_maybe(msg.get("content"))
        raw = content if isinstance(content, list) else (
            [] if content in (None, "") else [{"type": "text", "content": as_text(content)}])
    parts: list[tuple[Any, ...]] = []
    for p in raw:
        if isinstance(p, str):
            parts.append(("text", p))
            continue
        if not isinstance(p, dict):
            continue
        t = p.get("type", "text")
        if t in ("text", "input_text", "output_text"):
            parts.append(("text", as_text(p.get("content", p.get("text")))))
        elif t in ("reasoning", "thinking"):
            parts.append(("reasoning", as_text(p.get("content", p.get("thinking")))))
        elif t in ("tool_call", "tool_use", "function_call"):
            args = parse_args(p.get("arguments", p.get("input"))) or {}
            parts.append(("call", p.get("id"), p.get("name"), args))
        elif t in ("tool_call_response", "tool_result", "function_call_output"):
            body = p.get("response", p.get("result", p.get("content", p.get("output"))))
            parts.append(("response", p.get("id", p.get("tool_use_id")), as_text(body)))
        else:
            parts.append(("text", f"[{t}]"))
    for call in msg.get("tool_calls") or []:
        if isinstance(call, dict):
            fn = obj(call.get("function")) or call
            parts.append(("call", call.get("id"), fn.get("name"),
                          parse_args(fn.get("arguments")) or {}))
    if role == "tool" and not any(p[0] == "response" for p in parts):
        text = "\n".join(p[1] for p in parts if p[0] == "text")
        parts = [("response", msg.get("tool_call_id") or msg.get("id"), text)]
    return role, parts


def _messages(span: Span, side: str, ctx: ReadContext, path: Any) -> list[Any]:
    """The span's input (``side="input"``) or output messages, whichever convention it uses."""
    a = span.attrs
    key = f"gen_ai.{side}.messages"
    msgs: list[Any] = []
    if side == "input" and a.get("gen_ai.system_instructions") is not None:
        sys = loads_maybe(a["gen_ai.system_instructions"])
        msgs.append({"role": "system", "parts": sys if isinstance(sys, list) else [as_text(sys)]})
    if a.get(key) is not None:
        val = loads_maybe(a[key])
        if isinstance(val, str):
            ctx.problem(path, f"span {span.name!r} ({span.span_id}): {key} is not a JSON list "
                              "of messages; kept as plain text", span.line)
            val = [{"role": "user" if side == "input" else "assistant", "content": val}]
        return msgs + (val if isinstance(val, list) else [val])
    legacy = "prompt" if side == "input" else "completion"
    indexed = indexed_messages(a, legacy)
    if indexed:
        return msgs + indexed
    whole = a.get(f"gen_ai.{legacy}")
    if whole is None:  # very old instrumentations: gen_ai.content.prompt/completion events
        whole = next((ev["attrs"][f"gen_ai.{legacy}"] for ev in span.events
                      if f"gen_ai.{legacy}" in ev["attrs"]), None)
    if whole is not None:
        val = loads_maybe(whole)
        if isinstance(val, list):
            return msgs + val
        who = "user" if side == "input" else "assistant"
        return msgs + [{"role": who, "content": as_text(val)}]
    for ev in span.events:
        role = _EVENT_ROLES.get(ev["name"])
        if role is None or (side == "output") != (ev["name"] == "gen_ai.choice"):
            continue
        body = loads_maybe(ev["attrs"].get("gen_ai.event.content", ev["attrs"].get("content")))
        if isinstance(body, dict):
            body = body.get("message", body)
            msgs.append({"role": role, **body} if "role" not in body else body)
        elif body is not None:
            msgs.append({"role": role, "content": as_text(body)})
    return msgs


class _Builder:
    """Replays one conversation's spans into steps, skipping history that chat calls resend."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.seen: Counter[str] = Counter()
        self.calls: set[str] = set()
        self.results: set[str] = set()

    def messages(self, msgs: list[Any], ts: Any, *, resent: bool) -> int:
        local: Counter[str] = Counter()
        before = len(self.steps)
        for msg in msgs:
            role, parts = _parts(msg)
            fp = json.dumps([role, parts], sort_keys=True, default=str)
            local[fp] += 1
            if resent and local[fp] <= self.seen[fp]:
                continue
            self.seen[fp] += 1
            self.emit(role, parts, ts)
        return before

    def emit(self, role: str, parts: list[tuple[Any, ...]], ts: Any) -> None:
        for p in parts:
            if p[0] == "call":
                _, cid, name, args = p
                if cid and cid in self.calls:
                    continue
                if cid:
                    self.calls.add(cid)
                self.steps.append(Step(index=0, role="assistant", kind="tool_call",
                                       tool_name=name, tool_args=args, call_id=cid,
                                       text=call_text(name, args), timestamp=ts))
            elif p[0] == "response":
                self.result(p[1], None, p[2], False, ts)
            elif p[1].strip():
                if role == "assistant":
                    self.steps.append(Step(
                        index=0, role="assistant", text=p[1], timestamp=ts,
                        kind="thought" if p[0] == "reasoning" else "message"))
                elif role == "system":
                    self._system(p[1], ts)
                elif role == "user":
                    self.steps.append(Step(index=0, role="user", kind="message", text=p[1],
                                           timestamp=ts))

    def _system(self, text: str, ts: Any) -> None:
        """System prompts go before the opening user turn they were sent with."""
        at = len(self.steps)
        if all(s.role in ("system", "user") and s.kind == "message" for s in self.steps):
            at = next((i for i, s in enumerate(self.steps) if s.role == "user"), at)
        self.steps.insert(at, Step(index=0, role="system", kind="message", text=text,
                                   timestamp=ts))

    def result(self, cid: Any, name: Any, text: str, err: bool, ts: Any) -> None:
        if cid and cid in self.results:
            return
        if cid:
            self.results.add(cid)
        self.steps.append(Step(index=0, role="tool", kind="error" if err else "observation",
                               text=text, tool_name=name, call_id=cid, is_error=err,
                               timestamp=ts))


def _timeline(spans: list[Span]) -> list[tuple[Span, str]]:
    """Each span's start and end phase, in the order they happened."""
    depth: dict[str, int] = {}
    by_id = {s.span_id: s for s in spans}

    def d(s: Span) -> int:
        if s.span_id not in depth:
            depth[s.span_id] = 0  # guards against parent cycles
            p = by_id.get(s.parent_id or "")
            depth[s.span_id] = d(p) + 1 if p is not None else 0
        return depth[s.span_id]

    if all(s.start is not None and s.end is not None for s in spans):
        phases = [(s.start, 1, d(s), s.order, 0, s, "start") for s in spans]
        phases += [(s.end, 0, -d(s), s.order, 1, s, "end") if s.end > s.start  # type: ignore[operator]
                   else (s.start, 1, d(s), s.order, 1, s, "end") for s in spans]
        phases.sort(key=lambda x: x[:5])
        return [(p[5], p[6]) for p in phases]
    agents = [s for s in spans if _op(s) == "agent"]
    rest = [s for s in sorted(spans, key=lambda s: s.order) if _op(s) != "agent"]
    return ([(s, "start") for s in agents]
            + [(s, ph) for s in rest for ph in ("start", "end")]
            + [(s, "end") for s in reversed(agents)])


def _evaluation(spans: list[Span]) -> tuple[Outcome, list[dict[str, Any]]]:
    evals = []
    for s in spans:
        for ev in s.events:
            if ev["name"] == "gen_ai.evaluation.result":
                a = ev["attrs"]
                evals.append({k.removeprefix("gen_ai.evaluation."): v for k, v in a.items()
                              if k.startswith("gen_ai.evaluation.")})
    for e in evals:
        label, value = e.get("score.label"), e.get("score.value")
        out = outcome_from(label) if label is not None else Outcome()
        if out.success is None and value is not None:
            out = outcome_from(value)
        if out.success is not None:
            if value is not None and isinstance(value, int | float):
                out.reward = float(value)
            return out, evals
    return Outcome(), evals


def _build(key: str, spans: list[Span], path: Any, ctx: ReadContext, fmt: str) -> Trajectory | None:
    b = _Builder()
    usage, agent_usage = Usage(), Usage()
    model = agent_model = agent_name = None
    for span, phase in _timeline(spans):
        op, a = _op(span), span.attrs
        ts = span.start if phase == "start" else span.end
        if op == "tool":
            cid = a.get("gen_ai.tool.call.id")
            name = a.get("gen_ai.tool.name") or span.name.removeprefix("execute_tool ").strip()
            if phase == "start":
                args = parse_args(loads_maybe(a.get("gen_ai.tool.call.arguments"))) or {}
                b.emit("assistant", [("call", cid, name, args)], ts)
            else:
                text = as_text(loads_maybe(a.get("gen_ai.tool.call.result")))
                if span.error and not text:
                    text = span.status_message or str(a.get("error.type") or "tool failed")
                b.result(cid, name, text, span.error, ts)
            continue
        if op not in ("chat", "agent"):
            continue
        if phase == "start":
            b.messages(_messages(span, "input", ctx, path), ts, resent=True)
            if op == "agent":
                agent_name = agent_name or a.get("gen_ai.agent.name")
            continue
        out_at = b.messages(_messages(span, "output", ctx, path), ts, resent=op == "agent")
        target = usage if op == "chat" else agent_usage
        for attr, keys in USAGE_KEYS:
            n = next((as_int(a[k]) for k in keys if as_int(a.get(k)) is not None), None)
            if n is not None:
                setattr(target, attr, (getattr(target, attr) or 0) + n)
        cost = a.get("gen_ai.usage.cost")
        if isinstance(cost, int | float):
            target.cost = (target.cost or 0.0) + float(cost)
        m = a.get("gen_ai.response.model") or a.get("gen_ai.request.model")
        if op == "chat":
            model = model or m
            out_tokens = next((as_int(a[k]) for k in USAGE_KEYS[1][1]
                               if as_int(a.get(k)) is not None), None)
            if out_tokens is not None and out_at < len(b.steps):
                b.steps[out_at].tokens = out_tokens
        else:
            agent_model = agent_model or m
        if span.error:
            what = "model call" if op == "chat" else f"agent {a.get('gen_ai.agent.name') or ''}"
            why = span.status_message or str(a.get("error.type") or "status ERROR")
            b.steps.append(Step(index=0, role="environment", kind="error", is_error=True,
                                text=f"{what.strip()} failed: {why}", timestamp=ts))
    steps = b.steps
    if not steps:
        return None
    link_results(steps)
    mark_final(steps)
    outcome, evals = _evaluation(spans)
    head = min(spans, key=lambda s: s.order)
    attrs_all: dict[str, Any] = {}
    for s in sorted(spans, key=lambda s: s.order, reverse=True):
        attrs_all.update({k: v for k, v in s.attrs.items() if v is not None})
    meta = {
        "trace_ids": sorted({s.trace_id for s in spans}),
        "conversation_id": attrs_all.get("gen_ai.conversation.id"),
        "agent_id": attrs_all.get("gen_ai.agent.id"),
        "provider": attrs_all.get("gen_ai.provider.name") or attrs_all.get("gen_ai.system"),
        "service": head.resource.get("service.name"),
        "spans": len(spans), "evaluations": evals or None,
    }
    has_chat_usage = usage.input_tokens is not None or usage.output_tokens is not None
    return Trajectory(
        source=Source(format=fmt, file=str(path), line=head.line, record=key),
        task=next((s.text for s in steps if s.role == "user"), ""),
        agent=agent_name or attrs_all.get("gen_ai.agent.name") or head.resource.get("service.name"),
        model=model or agent_model, outcome=outcome,
        steps=steps, usage=usage if has_chat_usage else agent_usage,
        meta={k: v for k, v in meta.items() if v is not None},
    )


def _looks_otel(r: Any) -> bool:
    return isinstance(r, dict) and (isinstance(r.get("resourceSpans"), list) or is_span(r))


@register_format
class OTelGenAIFormat:
    """Reader for OpenTelemetry GenAI spans exported as JSON or JSON Lines."""

    name = "otel-genai"

    def sniff(self, probe: Probe) -> float:
        """Claim OTLP ``resourceSpans`` documents and exported span lists or lines."""
        first = probe.first
        if not _looks_otel(first):
            return 0.0
        genai = "gen_ai." in probe.head
        if isinstance(first, dict) and "resourceSpans" in first:
            return 0.95 if genai else 0.6
        return 0.9 if genai else 0.5

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Group the file's GenAI spans into conversations and yield one trajectory each."""
        path = probe.path
        spans: list[Span] = []
        with reporting_bad_json(path, ctx):
            for raw, res, where, line in self._records(probe, ctx):
                sp = to_span(raw, res, line, len(spans))
                if isinstance(sp, str):
                    ctx.problem(path, f"{where + ': ' if where else ''}{sp}; skipped", line)
                elif _relevant(sp):
                    spans.append(sp)
        if not spans:
            ctx.problem(path, "no GenAI spans (gen_ai.* attributes) in this trace export")
            return
        conv_of_trace: dict[str, str] = {}
        for s in spans:
            cid = s.attrs.get("gen_ai.conversation.id")
            if cid and s.trace_id not in conv_of_trace:
                conv_of_trace[s.trace_id] = f"conversation {cid}"
        groups: dict[str, list[Span]] = {}
        for s in spans:
            groups.setdefault(conv_of_trace.get(s.trace_id, f"trace {s.trace_id}"), []).append(s)
        for key, group in groups.items():
            traj = _build(key, group, path, ctx, self.name)
            if traj is not None:
                yield traj

    def _records(
        self, probe: Probe, ctx: ReadContext,
    ) -> Iterator[tuple[Any, dict[str, Any], str, int | None]]:
        if probe.container == "jsonl":
            for lineno, rec in jsonl_records(probe.path, ctx):
                for raw, res, where in raw_spans(rec):
                    yield raw, res, where, lineno
            return
        if probe.is_array:
            for lineno, item in iter_json_array(probe.path):
                for raw, res, where in raw_spans(item):
                    yield raw, res, where, lineno
            return
        doc = load_json(probe.path)
        for raw, res, where in raw_spans(doc):
            yield raw, res, where, None
