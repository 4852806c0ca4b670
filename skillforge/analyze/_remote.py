"""The LLM analysts in shards, for an executor whose pieces run elsewhere (Ray workers).

The store stays in this process. For each shard of trajectories this process reads them,
answers what the response cache already holds right here (a resumed run sends nothing
again), and hands the rest to a worker with the miner's context for each as a string. The
worker runs the same analysts through the same fan-out and client (its own retries, breaker
and a scratch cache), and returns the outcomes, the failures, the cache rows it wrote and
its usage. Back here the outcomes go to the lesson sink and the cache rows into the store
as each shard finishes, so a killed run keeps every finished shard.

``--concurrency`` stays the bound on calls in flight over the whole cluster: it is split
over the shards in flight. A token budget is split the same way (a shard never gets more
than what is left divided by the shards in flight), and the run's deadline goes to each
shard as the time left. When a shard reports the endpoint dead (breaker open, deadline
passed), no more shards are sent, and the trajectories not yet analysed are listed as
failed (a re-run retries them).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from skillforge.analyze.fanout import fan_out
from skillforge.analyze.llm_analysts import AnalystOutcome, LLMAnalyst
from skillforge.analyze.vocab import Vocabulary
from skillforge.errors import LLMError
from skillforge.executors import Executor, ExecutorError
from skillforge.llm.client import LLMClient, LLMUsage
from skillforge.settings import LLMSettings
from skillforge.traces.model import Trajectory

__all__ = ["SHARD", "ShardItem", "ShardResult", "ShardSpec", "analyze_shard",
           "analyze_sharded"]

SHARD = 32  # trajectories per shard


@dataclass
class ShardSpec:
    """What every shard of one run shares (put into the object store once)."""

    settings: LLMSettings
    concurrency: int
    vocab: Vocabulary
    facts: dict[str, dict[str, Any]]


@dataclass
class ShardItem:
    """One shard: its trajectories, the miner's context for each, and its share of limits."""

    trajectories: list[Trajectory]
    contexts: dict[str, str]
    deadline_s: float | None
    token_budget: int | None


@dataclass
class ShardResult:
    """What a worker sends back: outcomes, failures, new cache rows, usage."""

    outcomes: list[AnalystOutcome] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # id, error kind, message
    cache_rows: list[tuple[Any, ...]] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)


def analyze_shard(spec: ShardSpec, item: ShardItem) -> ShardResult:
    """Run the analysts on one shard (on a worker): the fan-out, a scratch cache, no store."""
    import duckdb

    from skillforge.llm.cache import ResponseCache
    from skillforge.llm.structured import run_sync
    from skillforge.store import migrate

    settings = spec.settings.model_copy(update={"deadline_s": item.deadline_s,
                                                "token_budget": item.token_budget})
    con = duckdb.connect(":memory:")
    try:
        migrate(con)
        cache = ResponseCache(con)
        client = LLMClient(settings, cache=cache, concurrency=spec.concurrency)
        analyst = LLMAnalyst(client, spec.vocab, facts=spec.facts,
                             context_for=lambda t: item.contexts.get(t.id, ""))
        out = ShardResult()

        def failed(t: Trajectory, err: LLMError) -> None:
            out.failed.append((t.id, type(err).__name__, str(err)))

        async def run() -> None:
            try:
                await fan_out(item.trajectories, analyst.analyze,
                              concurrency=2 * spec.concurrency,
                              on_result=lambda _t, o: out.outcomes.append(o), on_error=failed)
            finally:
                await client.aclose()

        run_sync(run())  # in a thread of its own when called inside an event loop
        out.cache_rows = cache.rows()
        out.usage = client.usage
        return out
    finally:
        con.close()


class _NotCached(Exception):
    """The probe's provider: the answer is not in the cache, so the shard goes to a worker."""


class _CacheOnly:
    name = "cache-only"

    async def send(self, request: dict[str, Any]) -> Any:
        raise _NotCached

    async def aclose(self) -> None:
        return None


def _error(kind: str, message: str) -> LLMError:
    """The worker's error again, as its LLMError class when that takes a message alone."""
    from skillforge.llm import errors

    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, LLMError):
        try:
            return cls(message)
        except TypeError:
            pass
    return LLMError(message)


async def analyze_sharded(
    executor: Executor, analyst: LLMAnalyst, ids: Sequence[str], *,
    read: Callable[[list[str]], dict[str, Trajectory]], concurrency: int,
    on_result: Callable[[str, AnalystOutcome], Awaitable[None]],
    on_error: Callable[[str, LLMError], None],
) -> None:
    """Analyse ``ids`` in shards on ``executor``; results arrive through the callbacks.

    ``analyst`` is this process's analyst (its client holds the store's cache, usage and
    limits); ``read`` loads trajectories by id.
    """
    client = analyst.client
    window = max(1, min(executor.parallelism, concurrency))
    spec = executor.share(ShardSpec(client.settings, max(1, math.ceil(concurrency / window)),
                                    analyst.vocab, analyst.facts))
    probe = _probe_analyst(analyst)
    flying: dict[asyncio.Future[ShardResult], list[str]] = {}
    dead = ""

    async def settle(done: asyncio.Future[ShardResult], shard: list[str]) -> None:
        nonlocal dead
        try:
            res = done.result()
        except LLMError as err:
            for tid in shard:
                on_error(tid, err)
            return
        except ExecutorError as err:
            for tid in shard:
                on_error(tid, LLMError(f"the worker analysing it was lost: {err.message}"))
            return
        if res.cache_rows and client.cache is not None:
            await asyncio.to_thread(client.cache.add_rows, res.cache_rows)
        client.add_usage(res.usage)
        for o in res.outcomes:
            await on_result(o.trajectory_id, o)
        for tid, kind, msg in res.failed:
            on_error(tid, _error(kind, msg))
        if res.usage.breaker_open or res.usage.deadline_hit:
            dead = next((m for _t, k, m in res.failed if k in ("CircuitOpen",
                                                                "DeadlineExceeded")), "")
            dead = dead or "the endpoint stopped answering"

    async def wait_for(room: int) -> None:
        while len(flying) > room:
            finished, _ = await asyncio.wait(list(flying), return_when=asyncio.FIRST_COMPLETED)
            for f in finished:
                await settle(f, flying.pop(f))

    def submit(trajs: list[Trajectory], contexts: dict[str, str]) -> None:
        left = client.budget.remaining
        item = ShardItem(trajs, contexts, client.remaining_s(),
                         None if left is None else max(0, left // window))
        fut: Future[ShardResult] = executor.submit(analyze_shard, spec, item)
        flying[_awaitable(executor, fut)] = [t.id for t in trajs]

    pending: list[Trajectory] = []
    contexts: dict[str, str] = {}
    todo = list(ids)
    for start in range(0, len(todo), SHARD):
        chunk = todo[start:start + SHARD]
        if dead:
            for tid in chunk:
                on_error(tid, LLMError(f"not sent: {dead}"))
            continue
        got = await asyncio.to_thread(read, chunk)
        for tid in chunk:
            traj = got[tid]
            hit = await _from_cache(probe, traj, client)
            if isinstance(hit, AnalystOutcome):
                await on_result(tid, hit)
            elif isinstance(hit, LLMError):
                on_error(tid, hit)
            else:
                pending.append(traj)
                contexts[tid] = analyst.context_for(traj) if analyst.context_for else ""
        if len(pending) >= SHARD or (pending and start + SHARD >= len(todo)):
            await wait_for(window - 1)
            if dead:
                for t in pending:
                    on_error(t.id, LLMError(f"not sent: {dead}"))
            else:
                submit(pending, contexts)
            pending, contexts = [], {}
    await wait_for(0)


def _awaitable(executor: Executor, fut: Future[ShardResult]) -> asyncio.Future[ShardResult]:
    """An asyncio future for a submitted shard, with the executor's error mapping applied."""
    loop = asyncio.get_running_loop()
    out: asyncio.Future[ShardResult] = loop.create_future()

    def done(f: Future[ShardResult]) -> None:
        try:
            value: Any = executor.result(f)
        except BaseException as exc:  # handed over to the awaiting side
            loop.call_soon_threadsafe(_set, out, None, exc)
            return
        loop.call_soon_threadsafe(_set, out, value, None)

    fut.add_done_callback(done)
    return out


def _set(out: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if out.done():
        return
    if exc is not None:
        out.set_exception(exc)
    else:
        out.set_result(value)


def _probe_analyst(analyst: LLMAnalyst) -> LLMAnalyst | None:
    """An analyst like ``analyst`` whose client answers from the store's cache only."""
    client = analyst.client
    if client.cache is None or client.cache.count() == 0:
        return None
    probe = LLMClient(client.settings, cache=client.cache, provider=_CacheOnly(),
                      concurrency=client.concurrency)
    return LLMAnalyst(probe, analyst.vocab, context_for=analyst.context_for,
                      facts=analyst.facts)


_COUNTERS = ("calls", "cache_hits", "retries", "repairs", "input_tokens", "output_tokens",
             "secrets_redacted")


async def _from_cache(probe: LLMAnalyst | None, traj: Trajectory,
                      owner: LLMClient) -> AnalystOutcome | LLMError | None:
    """The outcome for ``traj`` from cached answers alone; its error; None when not cached.

    Only a trajectory answered here counts its usage (into ``owner``, the run's client);
    the worker counts the others', so hits and redactions are not counted twice.
    """
    if probe is None:
        return None
    used = probe.client.usage
    before = {k: getattr(used, k) for k in _COUNTERS}
    try:
        out: AnalystOutcome | LLMError = await probe.analyze(traj)
    except _NotCached:
        return None
    except LLMError as err:
        out = err
    owner.add_usage(LLMUsage(**{k: getattr(used, k) - before[k] for k in _COUNTERS}))
    return out
