"""Small text and value helpers of the miner's index: quotes, error signatures, argument
leaves and their compact form, and a pool of shared values.

A run the miner keeps holds no argument text longer than ``LONG_VALUE`` characters: a longer
string (a file's content, a long command, free text) becomes a short *token* that compares
equal exactly when the values' canonical JSON does, and that no pattern can mistake for an
id, an id shape or a category (it starts with ``"\\x00/"``). Values that are id-like or
have an id shape are kept whole, whatever their length.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any

QUOTE_CHARS = 72
ERROR_QUOTE_CHARS = 120
LONG_VALUE = 64          # argument strings longer than this are kept as tokens

_DIGIT_TOKEN = re.compile(r"[A-Za-z_\-]*\d[\w\-.:/]*")
_ID_SHAPE = re.compile(r"^([A-Za-z][A-Za-z_\-]*?)[_\-]?\d{3,}$")
_ID_LIKE = re.compile(r"^(?:(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{5,}|(?=.*[A-Z])[A-Z0-9]{5,12})$")


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def quote_of(text: str, limit: int = QUOTE_CHARS) -> str:
    """A short exact substring of ``text`` to cite: its first line, cut at ``limit`` chars."""
    line = first_line(text)
    if not line:
        return ""
    start = text.find(line)
    cut = line[:limit]
    if len(line) > limit:
        sp = cut.rfind(" ")
        if sp > limit // 2:
            cut = cut[:sp]
    cut = cut.rstrip()
    return text[start:start + len(cut)] if cut else ""


def error_signature(text: str) -> str:
    """An error's first line with ids, numbers and dates masked, to group the same error."""
    return _DIGIT_TOKEN.sub("#", first_line(text))[:160]


def canon(v: Any) -> str:
    """Canonical JSON of a value (sorted keys), for identity comparisons."""
    return json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)


def value_shape(v: Any) -> str | None:
    """The shape of an id-like string value (``gift_card_123`` -> ``gift_card``), else None."""
    if isinstance(v, str):
        return _str_shape(v)
    return None


@lru_cache(maxsize=1 << 16)
def _str_shape(v: str) -> str | None:
    m = _ID_SHAPE.match(v)
    return m.group(1).rstrip("_-") if m else None


def leaves(v: Any, path: str = "") -> list[tuple[str, Any]]:
    """Flatten nested args into ``(path, scalar)`` pairs; list items share ``path[]``."""
    out: list[tuple[str, Any]] = []
    if isinstance(v, dict):
        for k in sorted(v):
            out.extend(leaves(v[k], f"{path}.{k}" if path else str(k)))
    elif isinstance(v, list):
        out.append((f"{path}#len", len(v)))
        for x in v:
            out.extend(leaves(x, f"{path}[]"))
    else:
        out.append((path, v))
    return out


def is_token(v: Any) -> bool:
    """True for the stand-in of a long or nested value (see the module docstring)."""
    return isinstance(v, str) and v.startswith("\x00/")


def token(v: Any) -> str:
    """The stand-in of a value: equal for values with equal canonical JSON."""
    return "\x00/" + hashlib.blake2b(canon(v).encode(), digest_size=8).hexdigest()


def compact_value(v: Any) -> Any:
    """A leaf value as the index keeps it: itself, or a token for a long plain string."""
    if isinstance(v, str) and len(v) > LONG_VALUE and not _ID_LIKE.match(v) and not (
            _ID_SHAPE.match(v)):
        return token(v)
    return v


class Pool:
    """One shared copy of each small immutable value many runs repeat (tool names, argument
    paths, ids, feature sets). Only values whose equality is their identity are pooled:
    strings, and tuples and frozensets of strings (``1 == True``, so mixed tuples are not)."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d: dict[Any, Any] = {}

    def __call__(self, v: Any) -> Any:
        """The shared copy of ``v`` (``v`` itself the first time)."""
        return self._d.setdefault(v, v)

    def __len__(self) -> int:
        return len(self._d)
