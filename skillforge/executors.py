"""Where the independent pieces of a distill run: in this process, or as tasks on Ray.

Two pieces of a distill split cleanly: re-mining the held-out gate's folds
(``skillforge.verify.crossval``: each fold is an independent miner run over the other folds)
and the LLM analysts' calls (``skillforge.analyze.run``: shards of trajectories). Both go
through an :class:`Executor`:

- :class:`LocalExecutor` (``--executor local``, the default) runs each piece in this
  process, in order: exactly what a distill did before executors existed;
- :class:`RayExecutor` (``--executor ray``, the optional ``ray`` extra) runs them as Ray
  tasks, on a cluster that is already running (``ray.init(address=...)``) or on a local
  Ray instance this process starts. What a task receives is pickled: a compact list of
  per-run records put into Ray's object store once (:meth:`Executor.share`), and a small
  item per task. The store never leaves this process: results come back here and are
  written here, so a task that is lost costs its piece, never the store.

The work functions are module-level functions ``fn(shared, item)``, so Ray ships them by
name; the workers need the same skillforge installed (checked at start, see
:func:`code_fingerprint`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from skillforge.errors import SkillforgeError, UsageError

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "RayExecutor",
           "code_fingerprint", "open_executor"]

S = TypeVar("S")
I = TypeVar("I")  # noqa: E741 (an item)
R = TypeVar("R")

EXECUTORS = ("local", "ray")
RAY_INSTALL = "pip install 'skillforge[ray]'  (or: pip install 'ray>=2.9')"
CONNECT_TIMEOUT_S = 5.0


class ExecutorError(SkillforgeError):
    """The executor could not start, or lost a piece of work (a Ray node or worker died)."""


class Executor(Protocol):
    """Runs ``fn(shared, item)`` pieces; ``share`` hands a large input over once."""

    name: str

    @property
    def parallelism(self) -> int:
        """How many pieces can run at the same time."""
        ...

    @property
    def remote(self) -> bool:
        """True when pieces run outside this process (inputs and results are pickled)."""
        ...

    def share(self, obj: Any) -> Any:
        """A handle to ``obj`` that :meth:`submit` passes to every piece as ``shared``."""
        ...

    def submit(self, fn: Callable[[Any, Any], R], shared: Any, item: Any) -> Future[R]:
        """Start ``fn(shared, item)``; its result (or exception) comes in the future."""
        ...

    def map(self, fn: Callable[[Any, Any], R], shared: Any, items: Sequence[Any]) -> list[R]:
        """``[fn(shared, item) for item in items]``, the pieces run by the executor."""
        ...

    def result(self, fut: Future[R]) -> R:
        """The result of a submitted piece (its exception raised again)."""
        ...

    def close(self) -> None:
        """Release what the executor started."""
        ...


class LocalExecutor:
    """Runs every piece at once, in this process: the behaviour without an executor."""

    name = "local"
    parallelism = 1
    remote = False

    def share(self, obj: Any) -> Any:
        """The object itself."""
        return obj

    def submit(self, fn: Callable[[Any, Any], R], shared: Any, item: Any) -> Future[R]:
        """Run ``fn(shared, item)`` now; the future is already done."""
        fut: Future[R] = Future()
        try:
            fut.set_result(fn(shared, item))
        except BaseException as exc:  # handed to the caller through the future
            fut.set_exception(exc)
        return fut

    def map(self, fn: Callable[[Any, Any], R], shared: Any, items: Sequence[Any]) -> list[R]:
        """``[fn(shared, item) for item in items]``."""
        return [fn(shared, item) for item in items]

    def result(self, fut: Future[R]) -> R:
        """The piece's result."""
        return fut.result()

    def close(self) -> None:
        """Nothing to release."""


def _call(fn: Callable[[Any, Any], R], shared: Any, item: Any) -> R:
    """What a Ray task runs (Ray resolves ``shared`` from the object store first)."""
    return fn(shared, item)


def _call_each(shared: tuple[Callable[[Any, Any], R], Any], items: list[Any]) -> list[R]:
    """Several pieces in one task: ``shared`` is unpickled once for all of them."""
    fn, inner = shared
    return [fn(inner, item) for item in items]


def _worker_fingerprint(_shared: Any, _item: Any) -> str:
    return code_fingerprint()


@cache
def code_fingerprint() -> str:
    """A hash of skillforge's own source files: equal on two machines, same lessons."""
    root = Path(__file__).resolve().parent
    h = hashlib.blake2b(digest_size=8)
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _check_reachable(address: str) -> None:
    """Fail fast when ``host:port`` does not answer (Ray itself retries for minutes)."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return  # "auto", "local", or a form Ray resolves itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach the Ray cluster at {address}: {exc}",
            hint="start one with `ray start --head`, or check --ray-address / RAY_ADDRESS; "
                 "nothing was read or written") from None


class RayExecutor:
    """Runs pieces as Ray tasks (one CPU each) on the cluster ``ray.init`` connects to.

    ``address``: a running cluster (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``); None
    uses ``RAY_ADDRESS`` or, without it, a Ray instance already running on this machine,
    or starts a local one. When Ray is already initialized in this process (a notebook, a
    test), that connection is used as it is and left open at the end.
    """

    name = "ray"
    remote = True

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise UsageError("--executor ray needs Ray, which is not installed",
                             hint=f"install it: {RAY_INSTALL}") from None
        self._ray = ray
        self._started = False
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            if address:
                _check_reachable(address)
            try:
                ray.init(address=address, num_cpus=num_cpus, include_dashboard=False,
                         logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ExecutorError(
                    f"cannot connect to Ray{f' at {address}' if address else ''}: {exc}",
                    hint="check --ray-address / RAY_ADDRESS (`ray status` on the head node "
                         "shows it); a cluster with token authentication also needs "
                         "RAY_AUTH_MODE=token and its token here (~/.ray/auth_token or "
                         "RAY_AUTH_TOKEN); nothing was read or written") from None
            self._started = True
        self._task: Any = ray.remote(num_cpus=1, max_retries=2)(_call)
        try:
            self._check_workers()
        except BaseException:
            self.close()
            raise

    def _check_workers(self) -> None:
        """The workers import skillforge and run the same code as this process."""
        try:
            theirs = self.submit(_worker_fingerprint, None, None).result()
        except Exception as exc:
            raise ExecutorError(
                f"a Ray worker could not run skillforge: {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''}",
                hint=f"install the same skillforge on every node ({RAY_INSTALL})") from None
        if theirs != code_fingerprint():
            raise ExecutorError(
                f"the Ray workers run other skillforge code than this process (source "
                f"fingerprint {theirs}, here {code_fingerprint()}): their lessons could differ",
                hint="install the same skillforge version on every node")

    @property
    def parallelism(self) -> int:
        """CPUs in the cluster (at least 1)."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def share(self, obj: Any) -> Any:
        """Put ``obj`` into the object store once; tasks receive it without a copy per task."""
        return self._ray.put(obj)

    def submit(self, fn: Callable[[Any, Any], R], shared: Any, item: Any) -> Future[R]:
        """Start ``fn(shared, item)`` as a Ray task."""
        ref = self._task.remote(fn, shared, item)
        fut: Future[R] = ref.future()
        return fut

    def map(self, fn: Callable[[Any, Any], R], shared: Any, items: Sequence[Any]) -> list[R]:
        """The pieces as Ray tasks, results in item order; a lost task is an ExecutorError.

        The pieces are dealt round-robin into one task per CPU (at most): a task unpickles
        ``shared`` once, and that costs about as much as mining a fold does.
        """
        items = list(items)
        n = min(len(items), self.parallelism)
        if n == 0:
            return []
        handle = self.share((fn, shared))
        groups = [list(range(g, len(items), n)) for g in range(n)]
        futures: list[Future[list[R]]] = [
            self.submit(_call_each, handle, [items[i] for i in idx]) for idx in groups]
        out: list[Any] = [None] * len(items)
        for idx, fut in zip(groups, futures, strict=True):
            got: list[R] = self.result(fut)
            for i, value in zip(idx, got, strict=True):
                out[i] = value
        return out

    def result(self, fut: Future[R]) -> R:
        """A task's result; its own exception is raised again, a lost task as ExecutorError."""
        from ray.exceptions import RayError, RayTaskError

        try:
            return fut.result()
        except RayTaskError as exc:
            raise exc.as_instanceof_cause() from None
        except RayError as exc:
            raise ExecutorError(f"Ray lost a task: {type(exc).__name__}: {exc}",
                                hint="the store holds what was done; run the command "
                                     "again") from None

    def close(self) -> None:
        """Disconnect from Ray (and stop the local instance) if this executor started it."""
        if self._started:
            self._started = False
            self._ray.shutdown()


def open_executor(name: str = "local", *, address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``), started and checked."""
    if name == "local":
        if address:
            raise UsageError("--ray-address goes with --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address)
    raise UsageError(f"unknown executor {name!r}: use one of {', '.join(EXECUTORS)}")
