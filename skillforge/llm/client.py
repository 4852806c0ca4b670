"""The LLM client: cache, token budget, bounded concurrency and retries around a provider.

``LLMClient.complete`` is what every stage calls. It looks the request up in the response
cache, checks the token budget, then sends it through the provider under a semaphore,
retrying retryable errors (timeouts, 429, 5xx, dropped connections, unreadable bodies) with
exponential backoff and jitter. Errors that cannot succeed on a second try are raised at once.

Faults are bounded: each attempt has a hard timeout (``timeout_s``), the client's calls share a
deadline (``deadline_s`` from the client's creation), and a circuit breaker opens after
``breaker_failures`` consecutive failed attempts (timeouts, refused or dropped connections,
5xx, auth failures), after which every call fails at once with ``CircuitOpen`` instead of
waiting on a dead endpoint. Every request is redacted (``skillforge.traces.redact``) before it
is cached or sent, whatever the store holds.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skillforge.llm._provider import Provider, RawCompletion
from skillforge.llm.budget import TokenBudget, estimate_messages, estimate_tokens
from skillforge.llm.cache import CachedResponse, ResponseCache, request_key
from skillforge.llm.errors import (
    BadRequest,
    CircuitOpen,
    DeadlineExceeded,
    InvalidOutput,
    LLMError,
    LLMTimeout,
    RateLimited,
)
from skillforge.llm.spec import is_fake
from skillforge.settings import LLMSettings

__all__ = ["Completion", "LLMClient", "LLMUsage", "RetryPolicy", "make_provider"]

Message = dict[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, for retryable errors only."""

    max_retries: int = 4
    base_s: float = 1.0
    max_s: float = 30.0

    def delay(self, attempt: int, err: LLMError, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        cap = min(self.max_s, self.base_s * (2 ** attempt))
        wait = rng.uniform(cap / 2, cap)
        if isinstance(err, RateLimited) and err.retry_after:
            wait = max(wait, min(err.retry_after, self.max_s))
        return wait


@dataclass
class Completion:
    """An answer, where it came from, and the request that produced it."""

    content: str
    finish_reason: str | None
    input_tokens: int
    output_tokens: int
    cached: bool
    key: str
    request: dict[str, Any]
    # Native tool calls the model made: [{"id", "name", "arguments" (JSON text)}].
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LLMUsage:
    """Counters of one client's work."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    repairs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    secrets_redacted: int = 0
    breaker_open: bool = False
    deadline_hit: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"calls": self.calls, "cache_hits": self.cache_hits, "retries": self.retries,
                "repairs": self.repairs, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "errors": dict(self.errors),
                "secrets_redacted": self.secrets_redacted, "breaker_open": self.breaker_open,
                "deadline_hit": self.deadline_hit}


def make_provider(settings: LLMSettings) -> Provider:
    """The fake provider for ``fake/...`` models, else the OpenAI-compatible one."""
    if not settings.model:
        from skillforge.errors import UsageError

        raise UsageError("no LLM model configured",
                         hint="pass --llm MODEL[@BASE_URL] or set SKILLFORGE_LLM_MODEL")
    if is_fake(settings.model):
        from skillforge.llm.fake import FakeProvider

        return FakeProvider(settings.model)
    from skillforge.llm._openai import OpenAIProvider

    return OpenAIProvider(settings)


def _adapt(request: dict[str, Any], err: LLMError) -> bool:
    """Change a request an endpoint rejected for an unsupported parameter; True if changed."""
    msg = err.message.lower()
    if "response_format" in request and ("response_format" in msg or "json_schema" in msg):
        del request["response_format"]
        return True
    if "max_tokens" in request and "max_tokens" in msg and "max_completion_tokens" in msg:
        request["max_completion_tokens"] = request.pop("max_tokens")
        return True
    if "temperature" in request and "temperature" in msg:
        del request["temperature"]
        return True
    return False


class LLMClient:
    """Cached, budgeted, concurrency-bounded, retrying access to one model.

    ``cache`` (optional) stores answers in the store's ``llm_cache`` table; ``concurrency``
    bounds requests in flight; ``retry`` is the backoff policy; ``budget`` caps tokens.
    """

    def __init__(self, settings: LLMSettings, *, cache: ResponseCache | None = None,
                 provider: Provider | None = None, concurrency: int | None = None,
                 retry: RetryPolicy | None = None, budget: TokenBudget | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, seed: int = 0):
        self.settings = settings
        self.model = settings.model or ""
        self.provider = provider or make_provider(settings)
        self.cache = cache
        self.concurrency = max(1, concurrency or settings.concurrency)
        self.retry = retry or RetryPolicy(max_retries=settings.max_retries,
                                          base_s=settings.retry_backoff_s)
        self.budget = budget or TokenBudget(settings.max_input_tokens, settings.token_budget)
        self.usage = LLMUsage()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._sems: dict[int, asyncio.Semaphore] = {}
        self._adaptations: list[str] = []
        self.timeout_s = settings.timeout_s
        self.breaker_failures = max(1, settings.breaker_failures)
        self._deadline = (time.monotonic() + settings.deadline_s
                          if settings.deadline_s is not None else None)
        self._failures_in_row = 0
        self._open_reason = ""

    def _semaphore(self) -> asyncio.Semaphore:
        loop = id(asyncio.get_running_loop())
        sem = self._sems.get(loop)
        if sem is None:
            sem = asyncio.Semaphore(self.concurrency)
            self._sems = {loop: sem}
        return sem

    def build_request(self, messages: Sequence[Message], *,
                      response_format: dict[str, Any] | None = None,
                      temperature: float | None = 0.0, max_tokens: int | None = None,
                      seed: int | None = None,
                      tools: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The chat-completions keyword arguments for these messages (no secrets in it).

        Every secret in the messages is redacted here, the one way into a request.
        """
        from skillforge.traces.redact import redact_messages

        clean, n = redact_messages(messages)
        self.usage.secrets_redacted += n
        req: dict[str, Any] = {"model": self.model, "messages": clean,
                               "max_tokens": max_tokens or self.settings.max_output_tokens}
        if tools:
            req["tools"] = list(tools)
        if temperature is not None:
            req["temperature"] = temperature
        if response_format is not None:
            req["response_format"] = response_format
        if seed is not None:
            req["seed"] = seed
        for key in self._adaptations:
            _apply_adaptation(req, key)
        return req

    async def remember(self, completion: Completion) -> None:
        """Store a completion in the cache (no-op without a cache or when it came from it).

        The write runs in a worker thread, so the event loop keeps serving other calls.
        """
        if self.cache is not None and not completion.cached:
            await asyncio.to_thread(self.cache.put, completion.key, completion.request,
                                    CachedResponse(completion.content, completion.finish_reason,
                                                   completion.input_tokens,
                                                   completion.output_tokens))

    async def _lookup(self, key: str) -> CachedResponse | None:
        if self.cache is None or not self.cache.may_have(key):
            return None
        return await asyncio.to_thread(self.cache.get, key)

    async def complete(self, messages: Sequence[Message], *,
                       response_format: dict[str, Any] | None = None,
                       temperature: float | None = 0.0, max_tokens: int | None = None,
                       seed: int | None = None, store: bool = True,
                       tools: Sequence[dict[str, Any]] | None = None) -> Completion:
        """Answer a chat request: from the cache, or from the provider with retries.

        With ``store=False`` a fresh answer is not cached (the caller validates it first and
        then calls :meth:`remember`). With ``tools`` (chat-completions tool definitions) the
        model may answer with native tool calls (``Completion.tool_calls``); such requests
        bypass the cache, which keeps text answers only.
        """
        request = self.build_request(messages, response_format=response_format,
                                     temperature=temperature, max_tokens=max_tokens, seed=seed,
                                     tools=tools)
        while True:
            key = request_key(request)
            hit = None if tools else await self._lookup(key)
            if hit is not None:
                self.usage.cache_hits += 1
                return Completion(hit.content, hit.finish_reason, hit.input_tokens,
                                  hit.output_tokens, True, key, request)
            try:
                raw = await self._send(request)
            except BadRequest as err:
                before = dict(request)
                if _adapt(request, err):
                    self._remember_adaptation(before, request)
                    continue
                raise
            calls = list(raw.tool_calls or [])
            done = Completion(raw.content, raw.finish_reason,
                              raw.input_tokens or estimate_messages(request["messages"]),
                              raw.output_tokens or estimate_tokens(
                                  raw.content + (json.dumps(calls) if calls else "")),
                              False, key, request, calls)
            if store and not tools:
                await self.remember(done)
            return done

    def _remember_adaptation(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        for key in ("response_format", "max_tokens", "temperature"):
            if key in before and key not in after and key not in self._adaptations:
                self._adaptations.append(key)

    async def _send(self, request: dict[str, Any]) -> RawCompletion:
        extra = json.dumps(request.get("response_format") or "") + (
            json.dumps(request["tools"]) if request.get("tools") else "")
        estimate = estimate_messages(request["messages"], extra=extra)
        self.budget.check_request(estimate)
        out_cap = request.get("max_tokens") or request.get("max_completion_tokens") or 0
        held = self.budget.reserve(estimate + out_cap)
        used = 0
        try:
            attempt = 0
            while True:
                try:
                    async with self._semaphore():
                        self._check_open()
                        self.usage.calls += 1
                        raw = await self._bounded(self.provider.send(request))
                    self._failures_in_row = 0
                    used = (raw.input_tokens or estimate) + (
                        raw.output_tokens or estimate_tokens(raw.content))
                    self.usage.input_tokens += raw.input_tokens or estimate
                    self.usage.output_tokens += raw.output_tokens or estimate_tokens(raw.content)
                    return raw
                except LLMError as err:
                    name = type(err).__name__
                    self.usage.errors[name] = self.usage.errors.get(name, 0) + 1
                    if isinstance(err, CircuitOpen | DeadlineExceeded):
                        raise
                    self._note_failure(err)
                    if not err.is_retryable() or attempt >= self.retry.max_retries:
                        raise
                    self.usage.retries += 1
                    wait = self.retry.delay(attempt, err, self._rng)
                    left = self._left()
                    if left is not None and wait >= left:
                        raise self._deadline_error() from err
                    await self._sleep(wait)
                    attempt += 1
        finally:
            self.budget.settle(held, used)

    def _left(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def remaining_s(self) -> float | None:
        """Seconds left before the run's deadline (None: no deadline)."""
        return self._left()

    def add_usage(self, other: LLMUsage) -> None:
        """Count another client's work (one that ran elsewhere for this run) as this one's."""
        u = self.usage
        for name in ("calls", "cache_hits", "retries", "repairs", "input_tokens",
                     "output_tokens", "secrets_redacted"):
            setattr(u, name, getattr(u, name) + getattr(other, name))
        for kind, n in other.errors.items():
            u.errors[kind] = u.errors.get(kind, 0) + n
        u.breaker_open = u.breaker_open or other.breaker_open
        u.deadline_hit = u.deadline_hit or other.deadline_hit
        self.budget.settle(0, other.input_tokens + other.output_tokens)

    def _deadline_error(self) -> DeadlineExceeded:
        self.usage.deadline_hit = True
        return DeadlineExceeded(f"the run's LLM deadline ({self.settings.deadline_s:g}s) "
                                "passed; no more calls this run")

    def _check_open(self) -> None:
        """Raise at once when the breaker is open or the deadline has passed."""
        if self._open_reason:
            raise CircuitOpen(self._open_reason)
        left = self._left()
        if left is not None and left <= 0:
            raise self._deadline_error()

    def _note_failure(self, err: LLMError) -> None:
        """Count a failed attempt; open the breaker after enough of them in a row."""
        if isinstance(err, BadRequest | InvalidOutput | RateLimited):
            self._failures_in_row = 0  # the endpoint answered: it is alive
            return
        self._failures_in_row += 1
        if self._failures_in_row >= self.breaker_failures and not self._open_reason:
            self.usage.breaker_open = True
            self._open_reason = (
                f"the endpoint failed {self._failures_in_row} calls in a row (last: "
                f"{type(err).__name__}: {err.message[:120]}); not calling it again this run")

    async def _bounded(self, call: Awaitable[RawCompletion]) -> RawCompletion:
        """Await one provider call under the per-call timeout and the run's deadline.

        The OpenAI provider's own client times out at ``timeout_s``; this is the backstop
        (for any provider) a little after it, so the two do not race.
        """
        limit = self.timeout_s * 1.5 + 1.0
        left = self._left()
        if left is not None:
            limit = min(limit, max(left, 0.001))
        try:
            async with asyncio.timeout(limit):  # in this task: a KeyboardInterrupt stays one
                return await call
        except TimeoutError:
            if left is not None and left <= limit:
                raise self._deadline_error() from None
            raise LLMTimeout(f"no answer within {self.timeout_s:g}s") from None

    @property
    def dead(self) -> bool:
        """True once the breaker opened or the deadline passed: no call will succeed."""
        left = self._left()
        return bool(self._open_reason) or (left is not None and left <= 0)

    async def aclose(self) -> None:
        """Release the provider's connections."""
        await self.provider.aclose()


def _apply_adaptation(req: dict[str, Any], key: str) -> None:
    if key == "response_format":
        req.pop("response_format", None)
    elif key == "temperature":
        req.pop("temperature", None)
    elif key == "max_tokens" and "max_tokens" in req:
        req["max_completion_tokens"] = req.pop("max_tokens")
