"""What the agent saw and how it ended: request stems, the objects tool results described,
and the shape of the final answer (parts of a run's index, computed while it is read)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic_core import from_json

from skillforge.analyze._mine_text import _ID_LIKE, Pool, quote_of


class _Call(Protocol):
    """What the final answer's features read of a call (``_mine_index.Call``)."""

    pos: int
    step: int
    tool: str
    action: bool

_WORD = re.compile(r"[a-z]{3,}")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ed", "es", "s")
_STOP = frozenset({
    "the", "and", "for", "you", "your", "with", "have", "hav", "that", "this", "thi", "can",
    "could", "would", "like", "want", "need", "please", "hello", "there", "help", "some",
    "from", "about", "just", "what", "how", "are", "was", "will", "i'm", "hey", "thank",
    "thanks", "also", "all", "but", "not", "any", "one", "get", "let", "know", "make",
})
MAX_OBS_CHARS = 200_000
MAX_OBJECT_DEPTH = 6
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}:\d{2}")


@dataclass(slots=True)
class ObservedObject:
    """An object a tool result described: its id key, categorical fields, and where."""

    kind: str                 # the key its id sits under (``reservation_id``)
    fields: frozenset[str]    # ``cabin=basic_economy``, ``flights#len=2``, ...
    step: int                 # the observation step that first showed it
    quote: str                # a short exact substring of that step (or a lazy quote)


def stem(word: str) -> str:
    """A light stem: ``cancelling``/``cancellation``/``cancelled`` -> ``cancel``."""
    w = word.lower()
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            w = w[: -len(suf)]
            break
    if len(w) >= 5 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    if len(w) >= 5 and w.endswith("e"):
        w = w[:-1]
    return w


def intent_stems(text: str) -> frozenset[str]:
    """Stems of the content words of a request (the first 600 characters)."""
    return frozenset(stem(w) for w in _WORD.findall(text[:600].lower()) if w not in _STOP)


def request_words(text: str) -> tuple[str, ...]:
    """The content words of a request (the first 600 characters), sorted, for display."""
    return tuple(sorted({w for w in _WORD.findall(text[:600].lower()) if w not in _STOP}))


def stem_words(texts: Iterable[str]) -> dict[str, str]:
    """For each stem, the word that most often produced it in ``texts`` (for display)."""
    seen: dict[str, dict[str, int]] = {}
    for text in texts:
        for w in _WORD.findall(text[:600].lower()):
            if w not in _STOP:
                d = seen.setdefault(stem(w), {})
                d[w] = d.get(w, 0) + 1
    return {s: min(d, key=lambda w: (-d[w], len(w), w)) for s, d in seen.items()}


def _scalar_feature(v: Any) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) and 0 <= v <= 10:
        return str(v)
    if isinstance(v, str):
        s = v.strip()
        if 0 < len(s) <= 32 and not _ID_LIKE.match(s) and not _DATE_LIKE.match(s) and (
                " " not in s or len(s.split()) <= 3) and not any(ch.isdigit() for ch in s):
            return s.lower()
    return None


def _object_features(d: dict[str, Any]) -> set[str]:
    feats: set[str] = set()
    for k, v in d.items():
        if not isinstance(k, str) or len(k) > 40:
            continue
        f = _scalar_feature(v)
        if f is not None:
            feats.add(f"{k}={f}")
        elif isinstance(v, list):
            feats.add(f"{k}#len={min(len(v), 3)}")
            for item in v[:50]:
                if isinstance(item, dict):
                    for k2, v2 in item.items():
                        f2 = _scalar_feature(v2)
                        if f2 is not None and isinstance(k2, str) and len(k2) <= 40:
                            feats.add(f"{k}[].{k2}={f2}")
    return feats


def observed_objects(text: str, into: dict[str, ObservedObject], step: int = 0,
                     call: tuple[Sequence[tuple[str, Any]], frozenset[str]] | None = None, *,
                     quote: str | None = None, pool: Pool | None = None) -> None:
    """Add the objects a JSON tool result describes to ``into`` (id value -> kind, fields).

    An object is a JSON object with an id-like value under ``id`` or a key ending in ``_id``;
    its fields are its categorical scalars (short words, booleans, small counts; never ids,
    dates, prices or free text), list lengths, and the categorical fields of the objects in
    its lists (``flights[].status=landed``). A result object without an id of its own that
    answers ``call`` (a lookup by id: its argument leaves and targets) describes the id the
    call passed. Unparseable or huge text adds nothing. ``quote`` is what an object cites
    (default: the text's own first line); ``pool`` shares the values between runs.
    """
    if len(text) > MAX_OBS_CHARS:
        return
    try:
        doc = from_json(text)  # pydantic-core: faster than json, bounded depth
    except (ValueError, RecursionError):
        return
    pool = pool or Pool()
    q = quote_of(text) if quote is None else quote
    if call is not None and isinstance(doc, dict) and not any(
            isinstance(k, str) and (k == "id" or k.endswith("_id")) for k in doc):
        # the answer to a lookup by id describes that id (get_user_details(user_id=X))
        feats = _object_features(doc)
        flat, targets = call
        for path, v in flat:
            if feats and isinstance(v, str) and v in targets and v not in into:
                into[pool(v)] = ObservedObject(pool(path.replace("[]", "").rsplit(".", 1)[-1]),
                                               pool(frozenset(feats)), step, q)
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_OBJECT_DEPTH:
            continue
        if isinstance(node, dict):
            key = next((k for k in sorted(node, key=str) if isinstance(k, str) and (
                k == "id" or k.endswith("_id")) and isinstance(node[k], str)
                and _ID_LIKE.match(node[k])), None)
            if key is not None:
                feats = _object_features(node)
                old = into.get(node[key])
                if old is not None:
                    old.fields = pool(old.fields | feats)
                elif feats:
                    into[pool(node[key])] = ObservedObject(pool(key), pool(frozenset(feats)),
                                                           step, q)
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node[:200] if isinstance(v, dict | list))


# ------------------------------------------------------------ the final answer

_SUBMIT = re.compile(r"(?:^|_|-|\b)(?:submit|answer|final|finish|respond|reply)", re.I)
_TEST_TOOL = re.compile(r"(?:^|[_\s-])(?:test|tests|pytest|unittest|jest|vitest|tox|nox)"
                        r"(?:$|[_\s-])|^(?:pytest|cargo test|go test|npm test|make test|tox)",
                        re.I)
_NUMBER = re.compile(r"\d")
_LIST_LINE = re.compile(r"^\s*(?:[-*]|\d+[.)])\s+\S", re.M)


def is_test_tool(name: str) -> bool:
    """A tool (or shell pseudo-tool) that runs tests: ``pytest``, ``run_tests``, ``npm test``."""
    return bool(_TEST_TOOL.search(name))


def final_features(final: tuple[int, str] | None, calls: Sequence[_Call],
                   raw_leaves: Sequence[Sequence[tuple[str, Any]]]) -> frozenset[str]:
    """What the run's final answer looked like, and whether tests ran before it.

    ``final`` is the run's last non-blank ``final`` step of the assistant (index, text);
    without one, the final answer is the arguments of the last call of a submit-like tool
    (``submit``, ``submit_answer``, ``final_answer``...; ``raw_leaves[i]`` are call ``i``'s
    argument leaves as given). Features: ``short`` (under 200 characters), ``long`` (over
    1,500), ``code`` (a fenced block), ``number`` (a digit), ``list`` (two or more list
    lines), ``json`` (parses as a JSON object or list), ``tested`` (a test tool ran after the
    last change and before the answer), ``untested`` (a change was made and no test ran after
    it). Empty when there is no final answer.
    """
    text: str | None = None
    end = len(calls)
    if final is not None:
        text = final[1]
        end = sum(1 for c in calls if c.step < final[0])
    else:
        for c in reversed(calls):
            if _SUBMIT.search(c.tool):
                text = " ".join(str(v) for _, v in raw_leaves[c.pos]
                                if isinstance(v, str | int | float))
                end = c.pos
                break
    if text is None:
        return frozenset()
    out = {"answered"}
    body = text.strip()
    if len(body) < 200:
        out.add("short")
    elif len(body) > 1500:
        out.add("long")
    if "```" in body:
        out.add("code")
    if _NUMBER.search(body):
        out.add("number")
    if len(_LIST_LINE.findall(body)) >= 2:
        out.add("list")
    if body[:1] in "[{":
        try:
            if isinstance(json.loads(body), dict | list):
                out.add("json")
        except (ValueError, RecursionError):
            pass
    before = calls[:end]
    last_change = max((c.pos for c in before if c.action and not is_test_tool(c.tool)
                       and not _SUBMIT.search(c.tool)), default=None)
    if last_change is not None:
        tested = any(is_test_tool(c.tool) for c in before[last_change + 1:])
        out.add("tested" if tested else "untested")
    return frozenset(out)


__all__ = ["ObservedObject", "final_features", "intent_stems", "is_test_tool",
           "observed_objects", "request_words", "stem", "stem_words"]
