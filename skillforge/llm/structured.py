"""Structured output: ask for JSON matching a pydantic model, validate, repair once.

The request carries ``response_format: json_schema`` (endpoints that reject it are asked
again without it, and the client remembers that) and the schema is also stated in the system
message, so models without constrained decoding can follow it. The reply is parsed leniently
(code fences and prose around the object are tolerated), validated with pydantic, and on
failure the model gets one repair turn quoting the validation error. Only answers that
validate are cached, so a resumed run replays exactly the calls that finished.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from skillforge.llm.client import Completion, LLMClient, Message
from skillforge.llm.errors import InvalidOutput

__all__ = ["Structured", "extract_json", "response_format_for", "run_sync", "structured",
           "with_schema_instruction"]

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.S)


@dataclass
class Structured(Generic[T]):
    """A validated answer and the completions that produced it."""

    value: T
    completions: list[Completion]
    repaired: bool


def response_format_for(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``response_format`` asking for JSON matching ``schema``."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "output"
    return {"type": "json_schema", "json_schema": {"name": safe, "schema": schema,
                                                   "strict": False}}


def with_schema_instruction(messages: Sequence[Message], schema: dict[str, Any]) -> list[Message]:
    """``messages`` with the output schema stated at the end of the system message."""
    note = ("Reply with exactly one JSON object that conforms to this JSON Schema, and nothing "
            "else (no prose, no code fences):\n"
            + json.dumps(schema, separators=(",", ":"), ensure_ascii=False))
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0].get('content') or ''}\n\n{note}"
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def extract_json(text: str) -> Any:
    """The JSON value in a model's reply: the whole text, a fenced block, or the first object."""
    s = text.strip()
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        pass
    for block in _FENCE.findall(s):
        try:
            return json.loads(block)
        except json.JSONDecodeError:
            continue
    dec = json.JSONDecoder()
    for i, ch in enumerate(s):
        if ch in "{[":
            try:
                return dec.raw_decode(s, i)[0]
            except json.JSONDecodeError:
                continue
    raise ValueError("the reply holds no JSON object")


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors()[:6]:
            loc = ".".join(str(p) for p in e["loc"]) or "(root)"
            parts.append(f"{loc}: {e['msg']}")
        more = len(exc.errors()) - 6
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return str(exc)


def _parse(output: type[T], completion: Completion) -> tuple[T | None, str]:
    try:
        return output.model_validate(extract_json(completion.content)), ""
    except (ValueError, ValidationError) as exc:
        cut = " (the reply was cut off at the token limit)" if (
            completion.finish_reason == "length") else ""
        return None, _problem(exc) + cut


async def structured(client: LLMClient, messages: Sequence[Message], output: type[T], *,
                     schema: dict[str, Any] | None = None, name: str | None = None,
                     temperature: float | None = 0.0,
                     max_tokens: int | None = None) -> Structured[T]:
    """Ask ``client`` for an ``output`` instance; one repair retry; InvalidOutput if it fails.

    ``schema`` overrides the model's JSON schema sent to the endpoint (e.g. with an ``enum``
    added); the answer is still validated against ``output``.
    """
    schema = schema or output.model_json_schema()
    fmt = response_format_for(schema, name or output.__name__)
    msgs = with_schema_instruction(messages, schema)
    first = await client.complete(msgs, response_format=fmt, temperature=temperature,
                                  max_tokens=max_tokens, store=False)
    value, problem = _parse(output, first)
    if value is not None:
        await client.remember(first)
        return Structured(value, [first], False)
    client.usage.repairs += 1
    repair = [*msgs, {"role": "assistant", "content": first.content[:6000]},
              {"role": "user", "content": (
                  f"That reply is not valid: {problem}. Reply again with only the corrected "
                  "JSON object that conforms to the schema; keep it short.")}]
    second = await client.complete(repair, response_format=fmt, temperature=temperature,
                                   max_tokens=max_tokens, store=False)
    value, problem2 = _parse(output, second)
    if value is None:
        raise InvalidOutput(
            f"{client.model} gave output that does not match {output.__name__}, even after a "
            f"repair request: {problem2}",
            hint="try a stronger model, or one that supports response_format json_schema")
    await client.remember(first)
    await client.remember(second)
    return Structured(value, [first, second], True)


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine to the end from synchronous code, also when called inside a running
    event loop (then in a worker thread with a loop of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
