"""inspect_ai eval logs: ``.eval`` archives and ``.json`` logs; one trajectory per sample.

An ``.eval`` file is a zip: ``header.json`` (the log without samples: ``eval``, ``plan``,
``results``, ``stats``), one ``samples/<id>_epoch_<n>.json`` per sample, ``summaries.json``,
``reductions.json`` and a ``_journal/`` folder (``start.json`` and partial summaries) that is
all a crashed or running eval has in place of the header. A ``.json`` log is the same
EvalLog with ``samples`` inline.

Each sample gives ``task_id`` (sample id), ``attempt`` (epoch), its messages as steps, its
first scorer's value as the outcome (``C``/``I``, ``P`` as reward 0.5, ``N`` as 0, numbers as
rewards), and ``model_usage`` as usage. The model comes from the eval header. ``target`` is
the gold answer: it is kept in ``meta["target"]`` and never becomes a step.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skillforge.traces._common import as_int, flatten_text, outcome_from, parse_args, parse_time
from skillforge.traces._io import Probe
from skillforge.traces._records import load_expected
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces._steps import as_text, call_text, link_results, mark_final, obj
from skillforge.traces.model import Outcome, Source, Step, Trajectory, Usage

_SAMPLE = re.compile(r"^samples/(.+)_epoch_(\d+)\.json$")
_ATTACHMENT = "attachment://"
ZIP_ZSTANDARD = 93
_MAX_MEMBER = 512 * 1024 * 1024


def _is_header(doc: Any) -> bool:
    ev = doc.get("eval") if isinstance(doc, dict) else None
    return isinstance(ev, dict) and "task" in ev and ("model" in ev or "run_id" in ev)


def _is_json_log(doc: Any) -> bool:
    return _is_header(doc) and ("samples" in doc or "status" in doc or "plan" in doc)


def _resolve(value: Any, attachments: dict[str, Any]) -> Any:
    """Replace ``attachment://<hash>`` references with the attachment's content."""
    if not attachments:
        return value
    if isinstance(value, str):
        if value.startswith(_ATTACHMENT):
            return attachments.get(value[len(_ATTACHMENT):], value)
        return value
    if isinstance(value, list):
        return [_resolve(v, attachments) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, attachments) for k, v in value.items()}
    return value


def _content(content: Any) -> tuple[str, str]:
    """``(text, reasoning)`` of a message's content: a string or a list of content blocks."""
    if isinstance(content, str):
        return content, ""
    texts, thoughts = [], []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            texts.append(as_text(block))
        elif block.get("type") == "reasoning":
            r = block.get("reasoning") or block.get("summary") or ""
            if r and not block.get("redacted"):
                thoughts.append(as_text(r))
        elif block.get("type") in ("image", "audio", "video", "document"):
            texts.append(f"[{block['type']}]")
        else:
            texts.append(flatten_text(block))
    return "\n".join(t for t in texts if t), "\n".join(thoughts)


def _tool_times(events: Any) -> dict[str, tuple[Any, Any]]:
    times: dict[str, tuple[Any, Any]] = {}
    for ev in events if isinstance(events, list) else []:
        if isinstance(ev, dict) and ev.get("event") == "tool" and ev.get("id"):
            times[str(ev["id"])] = (parse_time(ev.get("timestamp")),
                                   parse_time(ev.get("completed") or ev.get("timestamp")))
    return times


def _steps(messages: list[Any], events: Any) -> list[Step]:
    times = _tool_times(events)
    steps: list[Step] = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        text, reasoning = _content(m.get("content"))
        if role in ("system", "user"):
            if text.strip():
                steps.append(Step(index=0, role=role, kind="message", text=text))
        elif role == "assistant":
            if reasoning.strip():
                steps.append(Step(index=0, role="assistant", kind="thought", text=reasoning))
            if text.strip():
                steps.append(Step(index=0, role="assistant", kind="message", text=text))
            for call in m.get("tool_calls") or []:
                if not isinstance(call, dict):
                    continue
                name = call.get("function")
                args = parse_args(call.get("arguments")) or {}
                if call.get("parse_error"):
                    args = {**args, "_parse_error": call["parse_error"]}
                cid = call.get("id")
                steps.append(Step(
                    index=0, role="assistant", kind="tool_call", tool_name=name, tool_args=args,
                    call_id=cid, text=call_text(name, args),
                    timestamp=times.get(str(cid), (None, None))[0]))
        elif role == "tool":
            err = obj(m.get("error"))
            is_err = bool(err)
            if is_err:
                detail = f"{err.get('type', 'error')}: {err.get('message', '')}".strip()
                text = f"{text}\n{detail}" if text.strip() else detail
            cid = m.get("tool_call_id")
            steps.append(Step(
                index=0, role="tool", kind="error" if is_err else "observation", text=text,
                tool_name=m.get("function"), call_id=cid, is_error=is_err,
                timestamp=times.get(str(cid), (None, None))[1]))
    link_results(steps)
    mark_final(steps)
    return steps


def _score(scores: Any) -> tuple[Outcome, str | None]:
    if not isinstance(scores, dict) or not scores:
        return Outcome(), None
    name, score = next(iter(scores.items()))
    value = score.get("value") if isinstance(score, dict) else score
    if isinstance(value, str) and value.strip().upper() in ("P", "N"):
        partial = value.strip().upper() == "P"
        return Outcome(success=False, reward=0.5 if partial else 0.0, detail=value), name
    if isinstance(value, dict | list):
        return Outcome(detail=as_text(value)), name
    return outcome_from(value), name


def _usage(model_usage: Any) -> Usage:
    usage = Usage()
    for u in model_usage.values() if isinstance(model_usage, dict) else []:
        if not isinstance(u, dict):
            continue
        for attr, key in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens")):
            n = as_int(u.get(key))
            if n is not None:
                setattr(usage, attr, (getattr(usage, attr) or 0) + n)
        cost = u.get("total_cost")
        if isinstance(cost, int | float):
            usage.cost = (usage.cost or 0.0) + float(cost)
    return usage


def _header_info(header: dict[str, Any]) -> dict[str, Any]:
    ev = obj(header.get("eval"))
    plan = obj(header.get("plan"))
    solvers = [s.get("solver") for s in plan.get("steps") or [] if isinstance(s, dict)]
    agent = ev.get("solver") or (", ".join(s for s in solvers if s) or None)
    return {"task": ev.get("task"), "model": ev.get("model"), "agent": agent,
            "run_id": ev.get("run_id"), "eval_id": ev.get("eval_id"),
            "task_id": ev.get("task_id"), "status": header.get("status")}


def _trajectory(sample: dict[str, Any], info: dict[str, Any], file: str, record: str) -> Trajectory:
    sample = _resolve(sample, sample.get("attachments") or {})
    messages = sample.get("messages") or []
    if not messages:
        inp = sample.get("input")
        messages = [{"role": "user", "content": inp}] if isinstance(inp, str) else list(inp or [])
        out = sample.get("output") or {}
        choices = out.get("choices") if isinstance(out, dict) else None
        if choices and isinstance(choices[0], dict) and isinstance(choices[0].get("message"), dict):
            messages.append(choices[0]["message"])
    steps = _steps(messages, sample.get("events"))
    err = sample.get("error")
    if isinstance(err, dict) and err.get("message"):
        steps.append(Step(index=0, role="environment", kind="error", is_error=True,
                          text=str(err["message"])))
    inp = sample.get("input")
    task = inp if isinstance(inp, str) else next(
        (s.text for s in steps if s.role == "user"), "")
    outcome, scorer = _score(sample.get("scores"))
    if scorer is None and isinstance(err, dict) and err.get("message"):
        outcome.detail = "sample error, not scored"
    out = obj(sample.get("output"))
    meta: dict[str, Any] = {
        "inspect_task": info["task"], "run_id": info["run_id"], "eval_id": info["eval_id"],
        "sample_uuid": sample.get("uuid"), "target": sample.get("target"), "scorer": scorer,
        "scores": sample.get("scores"), "limit": sample.get("limit"),
        "metadata": sample.get("metadata") or None, "eval_status": info["status"],
        "error": err.get("message") if isinstance(err, dict) else None,
    }
    return Trajectory(
        source=Source(format="inspect-ai", file=file, record=record),
        task_id=str(sample.get("id")), task=task, agent=info["agent"],
        model=info["model"] or out.get("model"),
        attempt=as_int(sample.get("epoch")), outcome=outcome, steps=steps,
        usage=_usage(sample.get("model_usage")),
        started_at=parse_time(sample.get("started_at")),
        ended_at=parse_time(sample.get("completed_at")),
        meta={k: v for k, v in meta.items() if v is not None},
    )


def _check_sample(sample: Any) -> str | None:
    if not isinstance(sample, dict):
        return f"expected a sample object, got {type(sample).__name__}"
    if sample.get("id") is None:
        return "sample has no 'id'"
    if not isinstance(sample.get("messages", []), list):
        return "sample 'messages' is not a list"
    return None


# Methods zipfile can decompress (others raise when read; they are reported instead).
_READABLE_COMPRESSION = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
    | ({zipfile.ZIP_ZSTANDARD} if hasattr(zipfile, "ZIP_ZSTANDARD") else set()))


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[Any, str | None]:
    if info.compress_type == ZIP_ZSTANDARD and not hasattr(zipfile, "ZIP_ZSTANDARD"):
        return None, ("compressed with zstandard, which this Python cannot read; convert the "
                      "log with `inspect log convert --to json` and ingest the .json")
    if info.compress_type not in _READABLE_COMPRESSION:
        return None, (f"member uses zip compression method {info.compress_type}, "
                      "which Python cannot read")
    if info.file_size > _MAX_MEMBER:
        return None, f"member is {info.file_size} bytes, over the {_MAX_MEMBER} byte limit"
    try:
        raw = zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        return None, f"corrupt zip member ({exc})"
    try:
        return json.loads(raw.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, "member is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at line {exc.lineno}: {exc.msg}"


@register_format
class InspectAIFormat:
    """Reader for inspect_ai evaluation logs (``.eval`` zip archives and ``.json`` logs)."""

    name = "inspect-ai"

    def sniff(self, probe: Probe) -> float:
        """Claim zips laid out as eval logs, and JSON objects with an EvalLog ``eval`` header."""
        if probe.container == "zip":
            names = set(probe.zip_names)
            if "header.json" in names or "_journal/start.json" in names or any(
                    _SAMPLE.match(n) for n in names):
                return 0.99
            return 0.0
        if probe.container == "json" and not probe.is_array and _is_json_log(probe.first):
            return 0.95
        return 0.0

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Yield one trajectory per sample; bad samples are reported and skipped."""
        if probe.container == "zip":
            yield from self._read_eval(probe.path, ctx)
        else:
            yield from self._read_json(probe.path, ctx)

    def _read_json(self, path: Path, ctx: ReadContext) -> Iterator[Trajectory]:
        doc = load_expected(path, ctx, _is_json_log,
                            "not an inspect_ai log: expected an object with an 'eval' header")
        if doc is None:
            return
        info = _header_info(doc)
        samples = doc.get("samples")
        if not isinstance(samples, list) or not samples:
            ctx.problem(path, "inspect_ai log holds no samples (was it written with "
                              "--log-samples off, or is the eval still running?)")
            return
        for k, sample in enumerate(samples):
            why = _check_sample(sample)
            if why:
                ctx.problem(path, f"samples[{k}]: {why}; skipped")
                continue
            yield _trajectory(sample, info, str(path),
                              f"sample {sample['id']} epoch {sample.get('epoch', 1)}")

    def _read_eval(self, path: Path, ctx: ReadContext) -> Iterator[Trajectory]:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            ctx.problem(path, f"corrupt .eval archive: {exc}")
            return
        with zf:
            members = {i.filename: i for i in zf.infolist()}
            header = None
            for name in ("header.json", "_journal/start.json"):
                if name in members:
                    header, why = _read_member(zf, members[name])
                    if why:
                        ctx.problem(path, f"{name}: {why}")
                    if _is_header(header):
                        break
                    header = None
            if header is None:
                ctx.problem(path, "no readable header.json or _journal/start.json; the samples "
                                  "are read without the eval's model and task")
                header = {"eval": {}}
            info = _header_info(header)
            names = sorted((n for n in members if _SAMPLE.match(n)), key=_sample_order)
            if not names:
                ctx.problem(path, "the .eval archive holds no samples/<id>_epoch_<n>.json")
                return
            for name in names:
                sample, why = _read_member(zf, members[name])
                why = why or _check_sample(sample)
                if why:
                    ctx.problem(path, f"{name}: {why}; sample skipped")
                    continue
                yield _trajectory(sample, info, str(path),
                                  f"sample {sample['id']} epoch {sample.get('epoch', 1)}")


def _sample_order(name: str) -> tuple[int, str, int]:
    m = _SAMPLE.match(name)
    assert m is not None
    sid, epoch = m.group(1), int(m.group(2))
    return (0, f"{int(sid):020d}", epoch) if sid.isdigit() else (1, sid, epoch)
