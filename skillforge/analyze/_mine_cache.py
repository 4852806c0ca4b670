"""The miner's per-run features, kept in the store: a grown folder indexes only its new runs.

Reading a trajectory's steps back and reducing them to a compact ``Run`` (``_mine_read``,
``_mine_index``: JSON arguments parsed, shell commands lexed, tool results' objects read) is
about half of the mine stage. A ``Run`` depends only on the trajectory's stored rows, and
those never change for an id: the id is the SHA-256 of the task and the steps, the first copy
of an id wins, and steps are never rewritten. So each indexed run is kept in ``mine_cache``
(migration 0008), keyed by the id and by the *index code key*: a hash of the Python version,
skillforge's version and the source of every module that builds a ``Run``
(``INDEX_MODULES``). Other code, other key: nothing is read back that this code would not
have built. What can change for an id (its label, its task id's grouping) is taken from
``trajectories`` on every read, never from the cache.

Runs are kept in chunks of up to ``CHUNK_RUNS``: a pickle of the list (protocol 5, values
shared within a chunk as the read's ``Pool`` shared them), compressed with zlib. Chunks are
read with a restricted unpickler that builds only the classes a ``Run`` is made of
(``_ALLOWED``) and refuses anything else, so a store from elsewhere cannot run code through
it. A chunk that does not read (damaged, foreign, refused) is dropped and its runs are
indexed from their steps again: the cache can cost a re-read, never a result.

Writes (only on a connection that may write): the newly indexed runs as new chunks; and,
when chunks hold runs no longer in the store (a grown session's earlier version removed, a
rendering folded) or there are more than ``MAX_CHUNKS`` chunks, the live runs are written
again as full chunks and the old ones deleted, so what a removed trajectory said does not
outlive it in the cache. Chunks of other index code keys are deleted on the first write.
Each chunk is one row, so a run that stops midway leaves whole chunks or none.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import sys
import zlib
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

import duckdb

from skillforge.analyze._mine_index import Run

__all__ = ["CHUNK_RUNS", "INDEX_MODULES", "MAX_CHUNKS", "MineCache", "index_code_key"]

CHUNK_RUNS = 2_048
MAX_CHUNKS = 64
# Every module whose code decides what a ``Run`` holds (tests/analyze/test_mine_cache.py checks
# that these import no other part of skillforge.analyze).
INDEX_MODULES = (
    "skillforge.analyze._mine_cache",
    "skillforge.analyze._mine_index",
    "skillforge.analyze._mine_read",
    "skillforge.analyze._mine_seen",
    "skillforge.analyze._mine_text",
    "skillforge.analyze._shell",
    "skillforge.analyze._shell_fail",
    "skillforge.analyze._shell_names",
    "skillforge.analyze.vocab",
)
# (module, name) of every class a chunk may build; builtins are pickle's own opcodes
_ALLOWED = frozenset({
    ("skillforge.analyze._mine_index", "Run"),
    ("skillforge.analyze._mine_index", "Call"),
    ("skillforge.analyze._mine_seen", "ObservedObject"),
    ("skillforge.analyze._shell", "ParsedShell"),
    ("skillforge.analyze._shell", "SimpleCommand"),
})


@cache
def index_code_key() -> str:
    """Hash of what a cached ``Run`` was built by: Python, skillforge, the index modules."""
    from skillforge._version import __version__

    h = hashlib.sha256(f"{sys.version_info[:2]}|{__version__}|{pickle.HIGHEST_PROTOCOL}".encode())
    for name in INDEX_MODULES:
        src = getattr(import_module(name), "__file__", None)
        h.update(name.encode() + b"\0")
        if src:
            h.update(Path(src).read_bytes())
    return h.hexdigest()[:32]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"the miner's cache may not build {module}.{name}")
        return super().find_class(module, name)


def _loads(data: bytes) -> list[Run]:
    runs = _Unpickler(io.BytesIO(zlib.decompress(data))).load()
    if not isinstance(runs, list) or not all(type(r) is Run for r in runs):
        raise pickle.UnpicklingError("a chunk of the miner's cache is not a list of runs")
    return runs


def _dumps(runs: Sequence[Run]) -> bytes:
    return zlib.compress(pickle.dumps(list(runs), protocol=5), 1)


class MineCache:
    """The cache as one read sees it: which chunks hold which runs, for this index code."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, write: bool) -> None:
        self.con = con
        self.key = index_code_key()
        self.write = write
        self.chunks: dict[int, list[str]] = {}
        self.dropped = 0       # chunks that did not read (indexed again from the steps)
        self.loaded = 0        # runs taken from the cache by the last ``load``
        self.stored = 0        # runs written by the last ``save``
        self._foreign = False  # chunks of another code key are there
        for chunk, code, ids in con.execute(
                "SELECT chunk, code, ids FROM mine_cache ORDER BY chunk").fetchall():
            if code == self.key:
                self.chunks[chunk] = ids
            else:
                self._foreign = True

    @classmethod
    def open(cls, con: duckdb.DuckDBPyConnection) -> MineCache | None:
        """The store's cache, or None where it has none (a store from before migration 0008)."""
        try:
            write = con.execute("SELECT current_setting('access_mode')").fetchone()
            return cls(con, write=(write or [""])[0] != "read_only")
        except duckdb.CatalogException:
            return None

    def load(self, wanted: set[str]) -> dict[str, Run]:
        """The cached runs of the ``wanted`` ids (the chunks holding any of them are read)."""
        out: dict[str, Run] = {}
        need = [c for c, ids in self.chunks.items() if not wanted.isdisjoint(ids)]
        for start in range(0, len(need), 16):
            rows = self.con.execute(
                "SELECT chunk, data FROM mine_cache WHERE code = ? AND chunk IN "
                "(SELECT unnest(?::BIGINT[]))", [self.key, need[start:start + 16]]).fetchall()
            for chunk, data in rows:
                try:
                    runs = _loads(data)
                except Exception:  # damaged or refused: its runs are indexed from the steps
                    self.dropped += 1
                    self.chunks.pop(chunk, None)
                    self._forget([chunk])
                    continue
                out.update((r.id, r) for r in runs if r.id in wanted)
        self.loaded = len(out)
        return out

    def save(self, new: Iterable[Run], live: set[str], kept: dict[str, Run]) -> None:
        """Keep the ``new`` runs; rewrite the chunks when they hold runs not ``live`` (or are
        too many), from ``kept`` (every cached run of a live id, as just loaded)."""
        if not self.write:
            return
        new = list(new)
        stale = [c for c, ids in self.chunks.items() if not live.issuperset(ids)]
        if self._foreign:
            self.con.execute("DELETE FROM mine_cache WHERE code <> ?", [self.key])
            self._foreign = False
        if stale or len(self.chunks) + -(-len(new) // CHUNK_RUNS) > MAX_CHUNKS:
            held = {i for ids in self.chunks.values() for i in ids if i in live}
            if not held.issubset(kept):  # the rewrite needs every live cached run in hand
                held_runs = self.load(held)
            else:
                held_runs = {i: kept[i] for i in held}
            self._forget(list(self.chunks))
            self.chunks.clear()
            new = sorted({**held_runs, **{r.id: r for r in new}}.values(), key=lambda r: r.id)
        self.stored = 0
        row = self.con.execute("SELECT coalesce(max(chunk), 0) FROM mine_cache").fetchone()
        last = int(row[0]) if row else 0
        for start in range(0, len(new), CHUNK_RUNS):
            part = new[start:start + CHUNK_RUNS]
            last += 1
            chunk = last
            ids = [r.id for r in part]
            self.con.execute("INSERT INTO mine_cache VALUES (?, ?, ?, ?, now())",
                             [self.key, chunk, ids, _dumps(part)])
            self.chunks[chunk] = ids
            self.stored += len(part)

    def _forget(self, chunks: list[int]) -> None:
        if self.write and chunks:
            self.con.execute("DELETE FROM mine_cache WHERE chunk IN (SELECT unnest(?::BIGINT[]))",
                             [chunks])
