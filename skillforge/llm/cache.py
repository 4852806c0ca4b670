"""The response cache: the ``llm_cache`` table, keyed by a hash of the request.

The key is the SHA-256 of the canonical JSON of the fields that decide the answer (model,
messages, response format, sampling parameters). The API key, the base URL and headers are
never part of the request dict that is hashed or stored, so the same request to a moved
endpoint still hits, and no secret lands in the store.

The ``request`` column holds a digest of the request (parameters, and per message its role,
length and hash), not the prompts themselves: the prompts are rebuilt from the store's
trajectories, and writing tens of kilobytes per call would dominate the cost of a cached run.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

__all__ = ["KEY_FIELDS", "CachedResponse", "ResponseCache", "canonical_request", "request_digest",
           "request_key"]

KEY_FIELDS = ("model", "messages", "response_format", "temperature", "max_tokens",
              "max_completion_tokens", "seed", "top_p", "stop", "tools", "tool_choice")


def canonical_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a chat request that decides its answer (what is hashed and stored)."""
    return {k: request[k] for k in KEY_FIELDS if request.get(k) is not None}


def request_key(request: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical request JSON (sorted keys, no whitespace)."""
    text = json.dumps(canonical_request(request), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_digest(request: Mapping[str, Any]) -> dict[str, Any]:
    """What the cache stores about a request: parameters, and each message's role, size, hash."""
    req = canonical_request(request)
    out: dict[str, Any] = {k: v for k, v in req.items() if k not in ("messages",
                                                                     "response_format")}
    fmt = req.get("response_format")
    if isinstance(fmt, Mapping):
        schema = fmt.get("json_schema")
        out["response_format"] = {"type": fmt.get("type"), "name": schema.get("name")
                                  if isinstance(schema, Mapping) else None}
    msgs = []
    for m in req.get("messages") or []:
        text = m.get("content") if isinstance(m.get("content"), str) else json.dumps(
            m.get("content"), ensure_ascii=False, default=str)
        msgs.append({"role": m.get("role"), "chars": len(text or ""),
                     "sha256": hashlib.sha256((text or "").encode("utf-8")).hexdigest()[:16]})
    out["messages"] = msgs
    return out


@dataclass
class CachedResponse:
    """A stored answer."""

    content: str
    finish_reason: str | None
    input_tokens: int
    output_tokens: int


class ResponseCache:
    """Read and write ``llm_cache`` rows on one DuckDB connection.

    ``lock`` serializes use of the connection with other writers of the same run (DuckDB
    connections must not be used from two threads at once).
    """

    # Up to this many keys are held in memory, so misses cost no query.
    KEY_SET_LIMIT = 1_000_000

    def __init__(self, con: duckdb.DuckDBPyConnection, lock: threading.Lock | None = None):
        self.con = con
        self.lock = lock or threading.Lock()
        self._keys: set[str] | None = None
        self._loaded = False

    def may_have(self, key: str) -> bool:
        """False when ``key`` is certainly not cached (checked in memory, no query)."""
        if not self._loaded:
            with self.lock:
                self._load_keys()
        return self._keys is None or key in self._keys

    def _load_keys(self) -> None:
        if self._loaded:
            return
        n = (self.con.execute("SELECT count(*) FROM llm_cache").fetchone() or (0,))[0]
        if n <= self.KEY_SET_LIMIT:
            self._keys = {r[0] for r in self.con.execute("SELECT key FROM llm_cache").fetchall()}
        self._loaded = True

    def get(self, key: str) -> CachedResponse | None:
        """The stored answer for ``key``, or None."""
        with self.lock:
            row = self.con.execute(
                "SELECT response, input_tokens, output_tokens FROM llm_cache WHERE key = ?",
                [key]).fetchone()
        if row is None:
            return None
        resp = json.loads(row[0])
        return CachedResponse(content=resp.get("content") or "",
                              finish_reason=resp.get("finish_reason"),
                              input_tokens=row[1] or 0, output_tokens=row[2] or 0)

    def put(self, key: str, request: Mapping[str, Any], response: CachedResponse) -> None:
        """Store (or replace) the answer for ``key``."""
        req = request_digest(request)
        row = [key, req.get("model"), json.dumps(req, ensure_ascii=False, default=str),
               json.dumps({"content": response.content, "finish_reason": response.finish_reason},
                          ensure_ascii=False),
               response.input_tokens, response.output_tokens, datetime.now(UTC)]
        insert = "INSERT INTO llm_cache VALUES (?, ?, ?, ?, ?, ?, ?)"
        with self.lock:
            self._load_keys()
            # A plain INSERT is several times cheaper than INSERT OR REPLACE; replace only
            # when the key may already be there.
            if self._keys is None or key in self._keys:
                self.con.execute("DELETE FROM llm_cache WHERE key = ?", [key])
            try:
                self.con.execute(insert, row)
            except duckdb.ConstraintException:
                self.con.execute("DELETE FROM llm_cache WHERE key = ?", [key])
                self.con.execute(insert, row)
            if self._keys is not None:
                self._keys.add(key)

    def add_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        """Store ``llm_cache`` rows another cache wrote (a Ray worker's); keys it lacks only.

        Returns how many were added.
        """
        with self.lock:
            self._load_keys()
            keys = [r[0] for r in rows]
            have = self._keys if self._keys is not None else {k for (k,) in self.con.execute(
                "SELECT key FROM llm_cache WHERE key IN (SELECT unnest(?::VARCHAR[]))",
                [keys]).fetchall()}
            new = {r[0]: list(r) for r in rows if r[0] not in have}
            if new:
                self.con.executemany("INSERT INTO llm_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     list(new.values()))
                if self._keys is not None:
                    self._keys.update(new)
        return len(new)

    def rows(self) -> list[tuple[Any, ...]]:
        """Every stored row, as :meth:`add_rows` takes them."""
        with self.lock:
            return self.con.execute("SELECT key, model, request, response, input_tokens, "
                                    "output_tokens, created_at FROM llm_cache").fetchall()

    def count(self) -> int:
        """Number of cached answers."""
        with self.lock:
            row = self.con.execute("SELECT count(*) FROM llm_cache").fetchone()
        return int(row[0]) if row else 0
