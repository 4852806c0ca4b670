"""Compact per-run records the miner works on, built in one pass over a trajectory's steps.

A ``Run`` keeps only what the patterns need (tool calls, their observations, the user's
replies before each call, the objects tool results described, the request's word stems), so
mining stays linear in the number of trajectories and a whole store fits in memory. Each
call's features (argument leaves, targets, identity) are computed once, when it is read:

- arguments are kept as leaves with long strings replaced by tokens (``_mine_text``); the
  argument dict itself is not kept (``Call.args`` gives the top-level arguments);
- ``key`` and ``obs_hash`` are small integers that identify equal calls and equal results
  *within the run* (all the patterns compare), ordered as the canonical texts were;
- shared values (tool names, paths, ids, word and feature sets) are pooled across runs;
- runs read from the store (``_mine_read``) carry *lazy* quotes: a marker saying which
  quote of the cited step a lesson needs (the step's first line, cut at 72 or 120
  characters), filled in from the store when the lessons are written. Error messages, which
  lesson texts quote, are kept. Runs indexed from a ``Trajectory`` carry the quotes.

Steps come in as ``StepRow`` tuples: ``(index, role, kind, text, tool_name, tool_args,
call_id, is_error)``, ``tool_args`` a dict, its JSON text, or None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from skillforge.analyze._mine_seen import (
    _SUBMIT,
    ObservedObject,
    final_features,
    intent_stems,
    is_test_tool,
    observed_objects,
    request_words,
    stem,
    stem_words,
)
from skillforge.analyze._mine_text import (
    _ID_LIKE,
    ERROR_QUOTE_CHARS,
    QUOTE_CHARS,
    Pool,
    canon,
    compact_value,
    error_signature,
    first_line,
    leaves,
    quote_of,
    token,
    value_shape,
)
from skillforge.analyze._shell import ParsedShell, shell_call
from skillforge.analyze._shell_fail import classify_output
from skillforge.analyze.vocab import families_for, is_action_tool
from skillforge.traces.model import Trajectory

__all__ = ["ERROR_QUOTE_CHARS", "LAZY_QUOTES", "QUOTE_CHARS", "_SUBMIT", "Call",
           "ObservedObject", "Pool", "Run", "StepRow", "affirmative", "call_leaves", "canon",
           "error_signature", "final_features", "first_line", "index_run", "index_steps",
           "intent_stems", "is_test_tool", "leaves", "observed_objects", "quote_of", "stem",
           "stem_words", "target_values", "value_shape"]

_AFFIRM = re.compile(
    r"\b(yes|yeah|yep|yup|confirm|confirmed|proceed|go ahead|please do|do it|sounds good|"
    r"that works)\b", re.I)
_NEGATE = re.compile(r"^\W*(no|nope|don't|do not|wait|stop)\b", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{4,}")

# Lazy quotes: which quote of the cited step (its first line, cut at this many characters)
LAZY_CALL, LAZY_OBS, LAZY_USER, LAZY_OBJECT = "\x00call", "\x00obs", "\x00user", "\x00object"
LAZY_QUOTES = {LAZY_CALL: QUOTE_CHARS, LAZY_OBS: ERROR_QUOTE_CHARS, LAZY_USER: QUOTE_CHARS,
               LAZY_OBJECT: QUOTE_CHARS}

StepRow = tuple[int, str, str, str, str | None, Any, str | None, bool]

_is_action = lru_cache(maxsize=1 << 12)(is_action_tool)


def call_leaves(c: Call) -> tuple[tuple[str, Any], ...]:
    """The call's argument leaves (``leaves(args)``, long strings as tokens), computed once."""
    return c.flat if c.flat is not None else ()


def target_values(args: dict[str, Any] | None) -> frozenset[str]:
    """The id-like string values of a call (what it acts on): used to link calls to each other."""
    if not args:
        return frozenset()
    return frozenset(v for _, v in leaves(args) if isinstance(v, str) and _ID_LIKE.match(v))


def _by_fields(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    # Pickled as a call of the class with its fields in order (the miner's cache and Ray's
    # tasks read many of them back): 5x faster to load than a slotted dataclass's state.
    return type(obj), tuple(getattr(obj, f) for f in obj.__dataclass_fields__)


@dataclass(slots=True)
class Call:
    """One tool call with what came back."""

    pos: int                      # position among the run's calls
    step: int                     # step index of the call
    tool: str
    top: tuple[tuple[str, Any], ...]  # top-level arguments (nested and long values as tokens)
    key: int                      # identity of tool + arguments within the run (see above)
    quote: str                    # short exact substring of the call step's text (or lazy)
    action: bool
    targets: frozenset[str]
    obs_step: int | None = None
    obs_error: bool = False
    obs_quote: str = ""           # first line of the observation (errors: the message)
    obs_sig: str = ""             # masked error first line, "" when not an error
    obs_hash: int = -1            # identity of the observation text within the run
    obs_empty: bool = False       # the observation said nothing (a scratchpad tool)
    user_step: int | None = None  # last user message before the call
    user_quote: str = ""
    confirmed: bool = False       # that user message says yes
    unseen: tuple[str, ...] = ()  # id-like arg paths whose value never appeared before
    shell: ParsedShell | None = None  # a shell call's command; ``tool`` is its pseudo-tool
    flat: tuple[tuple[str, Any], ...] | None = None  # argument leaves (compact)
    items: tuple[tuple[str, str, str | None, str | None], ...] | None = None  # arg features

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _by_fields(self)

    @property
    def args(self) -> dict[str, Any]:
        """Top-level arguments: equal values compare equal (long or nested ones as tokens)."""
        return dict(self.top)


@dataclass(slots=True)
class Run:
    """A trajectory reduced to what the miner needs."""

    id: str
    task_id: str | None
    success: bool | None
    families: tuple[str, ...]
    calls: list[Call] = field(default_factory=list)
    # What the agent saw, for conditions: word stems of the user's first request, and the
    # categorical fields of every object a tool result described, by the object's id value
    # (``"H8Q05L" -> ("reservation_id", {"cabin=basic_economy", "insurance=no", ...})``).
    intent: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()   # the request's content words (pooled), for display
    final: frozenset[str] = frozenset()  # what the final answer looked like (final_features)
    objects: dict[str, ObservedObject] = field(default_factory=dict)
    signal: bool = False          # ``success`` comes from an outcome signal, not a label
    features: Any = None          # contrast features, computed once (``_mine_contrast``)
    _memo: dict[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _by_fields(self)

    @property
    def tools(self) -> set[str]:
        """Names of the tools this run called."""
        return {c.tool for c in self.calls}

    @property
    def memo(self) -> dict[str, Any]:
        """Per-run results patterns reuse (made on first use)."""
        if self._memo is None:
            self._memo = {}
        return self._memo


def affirmative(text: str) -> bool:
    """True when a user message agrees to go ahead ("Yes, please proceed")."""
    head = text.strip()[:240]
    return bool(_AFFIRM.search(head)) and not _NEGATE.match(head)


def index_run(t: Trajectory) -> Run:
    """Reduce one trajectory to a ``Run`` (one pass over its steps; quotes included)."""
    return index_steps(t.id, t.task_id, t.outcome.success, t.task, (
        (s.index, s.role, s.kind, s.text, s.tool_name, s.tool_args, s.call_id, s.is_error)
        for s in t.steps))


def _compact_leaves(pool: Pool, lv: list[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = []
    all_str = True
    for p, v in lv:
        v = compact_value(v)
        if isinstance(v, str):
            out.append(pool((pool(p), pool(v))))
        else:
            all_str = False
            out.append((pool(p), v))
    flat = tuple(out)
    return pool(flat) if all_str else flat


def _top(pool: Pool, args: dict[str, Any], flat: tuple[tuple[str, Any], ...]
         ) -> tuple[tuple[str, Any], ...]:
    if not any(isinstance(v, dict | list) for v in args.values()):
        return flat  # every argument is a scalar: the leaves are the arguments
    return tuple((pool(k), token(v) if isinstance(v, dict | list) else compact_value(v))
                 for k, v in sorted(args.items()))


def index_steps(tid: str, task_id: str | None, success: bool | None, task: str | None,
                steps: Iterable[StepRow], *, pool: Pool | None = None,
                lazy: bool = False) -> Run:
    """Reduce one trajectory's steps (``StepRow``, in step order) to a ``Run``.

    ``pool`` shares values between the runs of one read; ``lazy`` leaves the quotes to be
    filled in from the store (see the module docstring).
    """
    pool = pool if pool is not None else Pool()
    calls: list[Call] = []
    raw: list[list[tuple[str, Any]]] = []   # each call's argument leaves as given
    keys: list[str] = []                    # tool + canonical arguments, per call
    texts: dict[str, int] = {}              # observation text -> its identity in the run
    by_id: dict[str, Call] = {}
    pending: Call | None = None  # last call still waiting for an observation
    last_user: tuple[int, str, bool] | None = None  # (step, quote, says yes)
    seen: set[str] = set()  # id-like tokens that appeared in earlier steps
    first_user: str | None = None
    final: tuple[int, str] | None = None
    json_obs: list[tuple[int, str]] = []
    for idx, role, kind, text, tool_name, targs, call_id, is_error in steps:
        if first_user is None and role == "user" and text.strip():
            first_user = text
        if kind == "final" and role == "assistant" and text.strip():
            final = (idx, text)
        if (role == "tool" or kind == "observation") and text[:1] in ("{", "["):
            json_obs.append((idx, text))
        if kind == "tool_call" and tool_name:
            if isinstance(targs, str):
                targs = json.loads(targs)
            args = targs if isinstance(targs, dict) else {}
            sh = shell_call(tool_name, targs)  # bash -> "pytest", "git diff", ...
            tool = pool((sh.pseudo if sh is not None else "") or tool_name)
            lv = leaves(args)
            targets = pool(frozenset(
                v for _, v in lv if isinstance(v, str) and _ID_LIKE.match(v)))
            flat = _compact_leaves(pool, lv)
            c = Call(pos=len(calls), step=idx, tool=tool, top=_top(pool, args, flat), key=0,
                     quote=(LAZY_CALL if text.strip() else "") if lazy else quote_of(text),
                     action=_is_action(tool), targets=targets, shell=sh, flat=flat)
            if last_user is not None:
                c.user_step, c.user_quote, c.confirmed = last_user
            if targets:
                c.unseen = tuple(sorted({pool(p) for p, v in lv if isinstance(v, str)
                                         and v in targets and v not in seen}))
            keys.append(tool + canon(args))
            raw.append(lv)
            calls.append(c)
            if call_id:
                by_id[call_id] = c
            pending = c
            continue
        if role == "tool" or kind in ("observation", "error"):
            oc = by_id.pop(call_id, None) if call_id else None
            if oc is None or oc.obs_step is not None:
                oc = pending if pending is not None and pending.obs_step is None else None
            if oc is not None:
                _observe(oc, idx, kind, text, is_error, lazy, pool)
                oc.obs_hash = texts.setdefault(text, len(texts))
                if pending is oc:
                    pending = None
        elif role == "user" and kind in ("message", "final") and text.strip():
            last_user = (idx, LAZY_USER if lazy else quote_of(text), affirmative(text))
        if role != "system" and text:
            seen.update(_TOKEN.findall(text))
    rank = {k: i for i, k in enumerate(sorted(set(keys)))}
    for c, k in zip(calls, keys, strict=True):
        c.key = rank[k]
    run = Run(id=tid, task_id=pool(task_id) if task_id is not None else None, success=success,
              families=pool(families_for(c.tool for c in calls)), calls=calls)
    request = first_user or task or ""
    run.intent = pool(intent_stems(request))
    run.words = pool(tuple(pool(w) for w in request_words(request)))
    run.final = pool(final_features(final, calls, raw))
    looked_up = {c.obs_step: c for c in calls if c.obs_step is not None and c.targets}
    for idx, text in json_obs:
        lc = looked_up.get(idx)
        observed_objects(text, run.objects, idx, (raw[lc.pos], lc.targets) if lc else None,
                         quote=LAZY_OBJECT if lazy else None, pool=pool)
    return run


def _observe(oc: Call, idx: int, kind: str, text: str, is_error: bool, lazy: bool,
             pool: Pool) -> None:
    """What came back for call ``oc``: the observation at step ``idx``."""
    oc.obs_step = idx
    oc.obs_error = bool(is_error or kind == "error")
    sig = error_signature(text) if oc.obs_error else ""
    message: str | None = None
    if oc.shell is not None:  # a real failure only, quoted by its error line
        out = classify_output(text, flagged=oc.obs_error, parsed=oc.shell)
        oc.obs_error, sig = out.failed, out.kind
        if out.failed:
            message = out.message
    oc.obs_sig = pool(sig)
    if message is not None:
        oc.obs_quote = quote_of(message, ERROR_QUOTE_CHARS)
    elif lazy and not oc.obs_error:
        oc.obs_quote = LAZY_OBS if text.strip() else ""
    else:
        oc.obs_quote = quote_of(text, ERROR_QUOTE_CHARS)
    oc.obs_empty = not text.strip()


def in_step_order(rows: Sequence[StepRow]) -> bool:
    """True when the rows are in step order (what ``index_steps`` needs)."""
    return all(rows[i][0] < rows[i + 1][0] for i in range(len(rows) - 1))
