"""Secret detection and redaction: the one mechanism used at ingest, before every LLM call
and by ``validate``.

Detection is detect-secrets' plugins (keywords, high-entropy strings, AWS, GitHub, GitLab,
Slack, OpenAI, Stripe, JWT, private keys, credentials in URLs) plus a few plugins of the same
kind for formats it does not know (see ``_secret_plugins``), and bare high-entropy tokens
(an AWS secret access key given with no ``aws_secret_access_key=`` in front) scored with
detect-secrets' Shannon entropy.

Only values are replaced, never code: in ``self.password = x`` or ``password=get_pw()`` the
right side is an expression, not a secret, and stays; ``$ANTHROPIC_API_KEY``, ``${TOKEN}``,
``{{ secret }}`` and ``<password>`` are references or placeholders, not secrets. A replaced
value becomes ``[REDACTED:<kind>]``.

* :func:`find_secrets` -- the spans of the secrets in one text (``validate`` reports them);
* :class:`Redactor` -- redacts texts, nested JSON values and whole trajectories, and counts
  the distinct secrets it replaced;
* :func:`redact_messages` -- what the LLM client calls on every request it sends;
* :func:`stable_id` -- a trajectory's id as if it were redacted, so that ingesting the same
  run raw and redacted does not store it twice.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import pydantic_core

from skillforge.traces._precheck import may_hold, precheck_sql
from skillforge.traces._secret_plugins import (
    ALL_TRIGGERS,
    BARE_TOKEN,
    DETECTORS,
    ENTROPY,
)
from skillforge.traces.model import Trajectory

__all__ = ["KINDS", "Redactor", "SecretHit", "blob_may_hold", "find_secrets", "holds_secret",
           "precheck_sql", "redact_messages", "stable_id", "warn_unredacted"]

KINDS = tuple(dict.fromkeys([d.kind for d in DETECTORS] + ["aws-secret-key"]))
_PRIORITY = {k: i for i, k in enumerate(
    ["private-key", "anthropic-key", "openai-key", "aws-access-key", "aws-secret-key",
     "github-token", "gitlab-token", "slack-token", "stripe-key", "google-api-key",
     "huggingface-token", "sendgrid-key", "npm-token", "pypi-token", "azure-storage-key",
     "jwt", "bearer-token", "url-password", "password", "high-entropy"])}

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-]*")
_JWT_TAIL = re.compile(r"[A-Za-z0-9_\-.+/=]*")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|---- END SSH2 [A-Z ]+----")
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_IDENT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|->|::)[A-Za-z_][A-Za-z0-9_]*)*")
_PLACEHOLDER = re.compile(r"(?i)^(?:\*+|x{4,}|\.{3,}|-+|<[^>]*>|\[[^\]]*\]|\{\{?[^}]*\}\}?|"
                          r"%\(?\w*\)?s|none|null|nil|true|false|undefined|changeme|"
                          r"your[_\-]?\w*|redacted\W*\w*)$")
_UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_HEX = re.compile(r"(?i)^[0-9a-f]+$")
_MIN_TEXT = 8
QUOTED = re.compile(r"""(['"`])[A-Za-z0-9+/=_\-]{20,}\1""")
QUOTED_B = re.compile(rb"""(?:'|\\"|`)[A-Za-z0-9+/=_\-]{20,}(?:'|\\"|`)""")


@dataclass(frozen=True)
class SecretHit:
    """One secret in a text: its kind and where it is (``text[start:end]`` is the value)."""

    kind: str
    start: int
    end: int


def _is_reference(value: str) -> bool:
    """True for a value that names or computes a secret instead of being one."""
    v = value.strip("\"'`")
    if len(v) < 4 or v.startswith(("$", "%", "&", "@", "[REDACTED")) or _PLACEHOLDER.match(v):
        return True
    return bool(v.startswith(("{", "<")) and v.endswith(("}", ">")))


def _is_code_value(value: str) -> bool:
    """An unquoted assignment value that is an expression (identifier, call, attribute)."""
    if _is_reference(value):
        return True
    if any(c in value for c in "()[]{}<>") or value.endswith((",", ";")):
        return True
    if _IDENT_PATH.fullmatch(value):
        # a dotted or snake_case name is code (``self.pw``, ``pw_from_env``), unless a part
        # of it is a random mix of letters and digits (``ya29.a0AfH6SMBx3k9Qz``); a bare
        # word is a password when it holds digits
        parts = re.split(r"\.|->|::", value)
        if any(len(p) >= 8 and any(c.isdigit() for c in p) and any(c.isupper() for c in p)
               and any(c.islower() for c in p) for p in parts):
            return False
        if len(parts) > 1 or "_" in value:
            return True
        return not any(c.isdigit() for c in value)
    return False


def _looks_random(tok: str, *, bare: bool) -> bool:
    """A token with the entropy and mix of characters of a generated key."""
    core = tok.rstrip("=")
    if len(core) < (32 if bare else 20) or _UUID.match(core) or _HEX.match(core):
        return False
    if not (any(c.isupper() for c in core) and any(c.islower() for c in core)
            and any(c.isdigit() for c in core)):
        return False
    if bare and (core.count("/") > 3 or core.startswith("/") or "_" in core and "-" in core
                 and core.count("_") + core.count("-") > 4):
        return False  # paths and slugs
    return bool(ENTROPY.calculate_shannon_entropy(core) > ENTROPY.entropy_limit)


def _line_spans(lines_of: str) -> Iterable[tuple[int, str, str]]:
    """``(offset, line, lowercased line)`` for each line of a text."""
    pos = 0
    for line in lines_of.splitlines(keepends=True):
        yield pos, line, line.lower()
        pos += len(line)


def _extend(kind: str, text: str, start: int, end: int) -> int:
    if kind == "private-key":
        m = _PEM_END.search(text, end)
        return m.end() if m else len(text)
    if kind == "jwt":
        return _JWT_TAIL.match(text, end).end()  # type: ignore[union-attr]
    return _TOKEN_CHARS.match(text, end).end()  # type: ignore[union-attr]


def find_secrets(text: str) -> list[SecretHit]:
    """The secrets in ``text``, in order, without overlaps; empty for most texts."""
    if not text or len(text) < _MIN_TEXT:
        return []
    low = text.lower()
    found = {t for t in ALL_TRIGGERS if t in low}
    quoted = QUOTED.search(text) is not None
    bare = BARE_TOKEN.search(text) is not None
    if not found and not bare and not quoted:
        return []
    active = [d for d in DETECTORS if d.kind != "high-entropy" and found.intersection(d.triggers)]
    one_line = "\n" not in text and "\r" not in text
    hits: list[SecretHit] = []
    for off, line, lline in _line_spans(text):
        here = found if one_line else {t for t in found if t in lline}
        for d in active:
            if not here.intersection(d.triggers):
                continue
            for value in set(d.plugin.analyze_string(line)):
                if not value:
                    continue
                kind = d.kind
                if kind == "private-key":
                    i = line.find(value)
                    s = line.rfind("-----", 0, i) if "-----" in line[:i] else i
                    s = max(s, 0)
                    hits.append(SecretHit(kind, off + s, _extend(kind, text, off + i, off + i)))
                    continue
                if not d.token:
                    if kind == "password":  # an unquoted value ends at a space
                        value = value.split()[0] if value.split() else value
                        value = value.rstrip(",;.") if len(value) > 1 else value
                    if kind == "password" and _is_code_value(value):
                        continue
                    if kind in ("url-password", "bearer-token") and _is_reference(value):
                        continue
                if kind == "aws-access-key" and not value.startswith(
                        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")):
                    kind = "aws-secret-key"
                if kind == "password" and _AWS_SECRET.fullmatch(value) and "aws" in lline:
                    kind = "aws-secret-key"
                for m in re.finditer(re.escape(value), line):
                    s, e = off + m.start(), off + m.end()
                    if d.token:
                        e = _extend(kind, text, s, e)
                    hits.append(SecretHit(kind, s, e))
        if quoted and QUOTED.search(line):
            for value in set(DETECTORS[-1].plugin.analyze_string(line)):
                if _looks_random(value, bare=False) and not _is_reference(value):
                    for m in re.finditer(re.escape(value), line):
                        hits.append(SecretHit("high-entropy", off + m.start(), off + m.end()))
    if bare:
        for m in BARE_TOKEN.finditer(text):
            tok = m.group(0)
            if _looks_random(tok, bare=True):
                kind = "aws-secret-key" if _AWS_SECRET.fullmatch(tok) else "high-entropy"
                hits.append(SecretHit(kind, m.start(), m.end()))
    return _resolve(hits)


def _resolve(hits: list[SecretHit]) -> list[SecretHit]:
    """Drop overlaps: the longer span wins, then the more specific kind."""
    if len(hits) <= 1:
        return hits
    hits.sort(key=lambda h: (h.start, -(h.end - h.start), _PRIORITY.get(h.kind, 99)))
    out: list[SecretHit] = []
    for h in hits:
        if out and h.start < out[-1].end:
            last = out[-1]
            if h.end > last.end:  # partial overlap: merge into the first, keep its kind
                out[-1] = SecretHit(last.kind, last.start, h.end)
            elif (h.start, h.end) == (last.start, last.end) and \
                    _PRIORITY.get(h.kind, 99) < _PRIORITY.get(last.kind, 99):
                out[-1] = h
            continue
        out.append(h)
    return out


_SECRET_KEY = re.compile(r"(?i)(?:^|[_\-.])(?:password|passwd|passphrase|pwd|secret|"
                         r"api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|"
                         r"client[_\-]?secret|(?:access|auth|refresh|session|api|bearer)?"
                         r"[_\-]?token|credentials?|authorization)$")


@dataclass
class Redactor:
    """Redacts secrets and counts the distinct secrets it replaced, by kind.

    A secret seen twice (say in the task and again in the first user step, or in a tool
    call's text and its arguments) counts once.
    """

    counts: dict[str, int] = field(default_factory=dict)
    _seen: set[int] = field(default_factory=set, repr=False)

    @property
    def total(self) -> int:
        """How many secrets were replaced."""
        return sum(self.counts.values())

    def _count(self, kind: str, value: str) -> None:
        key = hash(value)
        if key not in self._seen:
            self._seen.add(key)
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def text(self, s: str) -> str:
        """Redact one string (the same object back when it holds no secret)."""
        hits = find_secrets(s)
        if not hits:
            return s
        parts: list[str] = []
        pos = 0
        for h in hits:
            self._count(h.kind, s[h.start:h.end])
            parts.append(s[pos:h.start])
            parts.append(f"[REDACTED:{h.kind}]")
            pos = h.end
        parts.append(s[pos:])
        return "".join(parts)

    def value(self, v: Any, key: str | None = None) -> Any:
        """Redact strings inside any JSON-like value, at any depth (walked without recursion).

        A string under a key that names a secret (``password``, ``api_key``, ``token``...)
        is replaced whole unless it is a reference (``$VAR``) or a placeholder.
        """
        root: list[Any] = [v]
        stack: list[tuple[Any, Any, Any, str | None]] = [(root, 0, v, key)]
        while stack:
            box, slot, x, k = stack.pop()
            if isinstance(x, str):
                red = self.text(x)
                if red is not x:
                    box[slot] = red  # a known format, named by its kind
                elif k and _SECRET_KEY.search(k) and x.strip() and not _is_reference(x.strip()):
                    self._count("password", x)
                    box[slot] = "[REDACTED:password]"
            elif isinstance(x, dict):
                new = dict(x)
                box[slot] = new
                for kk, y in new.items():
                    stack.append((new, kk, y, kk if isinstance(kk, str) else None))
            elif isinstance(x, list):
                new_l = list(x)
                box[slot] = new_l
                for i, y in enumerate(new_l):
                    stack.append((new_l, i, y, k))
        return root[0]

    @staticmethod
    def _named_secrets(args: Any) -> list[str]:
        """Strings held under secret-named keys in these arguments (and their JSON-escaped
        spellings), longest first: what ``value`` replaces whole, to find in texts too."""
        found: set[str] = set()
        stack: list[tuple[Any, str | None]] = [(a, None) for a in args]
        while stack:
            x, k = stack.pop()
            if isinstance(x, dict):
                stack.extend((y, kk if isinstance(kk, str) else None) for kk, y in x.items())
            elif isinstance(x, list):
                stack.extend((y, k) for y in x)
            elif isinstance(x, str) and k and _SECRET_KEY.search(k):
                v = x.strip()
                if len(v) >= 4 and not _is_reference(v):
                    found.add(x)
                    found.add(json.dumps(x)[1:-1])
        return sorted(found, key=lambda v: (-len(v), v))

    @staticmethod
    def may_hold_secret(t: Trajectory, content: bytes | None = None) -> bool:
        """One cheap pass over everything a trajectory stores (texts, arguments, metadata).

        ``content`` is the trajectory's :meth:`~Trajectory.content_json` when the caller has
        it already (ingest hashes it anyway), so the check costs no extra serialization.
        """
        blob = t.content_json() if content is None else content
        if _blob_may_hold(blob):
            return True
        extra = t.source.file.encode()
        if t.meta:
            extra += pydantic_core.to_json(t.meta, fallback=str)
        return _blob_may_hold(extra)

    def trajectory(self, t: Trajectory) -> Trajectory:
        """Redact a trajectory's task, step texts, tool arguments, metadata and file name."""
        t.task = self.text(t.task)
        if t.task_id:
            t.task_id = self.text(t.task_id)
        t.source.file = self.text(t.source.file)
        if t.source.record:
            t.source.record = self.text(t.source.record)
        named = self._named_secrets(s.tool_args for s in t.steps if s.tool_args)
        for s in t.steps:
            red = self.text(s.text)
            for raw in named:  # a value under "token"/"password" is in the call's text too
                if raw in red:
                    red = red.replace(raw, "[REDACTED:password]")
            if red != s.text:
                s.text = red
            if s.tool_args:
                s.tool_args = self.value(s.tool_args)
        if t.meta:
            t.meta = self.value(t.meta)
        return t


def _blob_may_hold(blob: bytes) -> bool:
    """Whether serialized content may hold a secret: one regex pass over its unseen pieces,
    and its key-like runs scored for randomness (see ``_precheck``)."""
    return may_hold(blob, _looks_random_run)


def blob_may_hold(blob: bytes) -> bool:
    """The pre-check :meth:`Redactor.may_hold_secret` runs on each part of a trajectory
    (its content JSON; its file name followed by its meta JSON), on one such part."""
    return _blob_may_hold(blob)


def holds_secret(t: Trajectory) -> bool:
    """Whether :meth:`Redactor.trajectory` changes anything ``t`` stores: its content, meta,
    file name or record. ``t`` is redacted in place on the way; give it one you can drop."""
    before = (t.content_json(), pydantic_core.to_json(t.meta, fallback=str), t.source.file,
              t.source.record)
    r = Redactor()
    r.trajectory(t)
    return r.total > 0 or before != (t.content_json(), pydantic_core.to_json(
        t.meta, fallback=str), t.source.file, t.source.record)


def _looks_random_run(tok: str, bare: bool) -> bool:
    return _looks_random(tok, bare=bare)


def stable_id(t: Trajectory) -> str:
    """The id ``t`` gets when ingested redacted, whether or not it is redacted now."""
    red = Redactor().trajectory(t.model_copy(deep=True))
    return red.content_hash()


def redact_messages(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Chat messages with every secret redacted, and how many were replaced.

    The LLM client runs this on each request before it is cached or sent, so nothing that
    reaches an endpoint holds a secret, whatever the store holds (``--no-redact``).
    """
    r = Redactor()
    out = [r.value(dict(m)) for m in messages]
    return out, r.total


def warn_unredacted(where: str, stream: TextIO | None = None) -> str:
    """Print, once per call site, the loud warning an unredacted ingest gives; return it."""
    msg = (f"WARNING: --no-redact: secrets in these traces are stored IN CLEAR in {where}. "
           "Prompts sent to an LLM are still redacted, and skills whose evidence holds a "
           "secret are held back.")
    print(msg, file=stream or sys.stderr)
    return msg


def has_trigger(text: str) -> bool:
    """True when ``text`` holds a substring some detector starts from (a cheap pre-test)."""
    low = text.lower()
    return any(t in low for t in ALL_TRIGGERS) or BARE_TOKEN.search(text) is not None


def prepare_for_store(t: Trajectory, content: bytes, redactor: Redactor, *,
                      redact: bool) -> tuple[bytes, str | None]:
    """Redact ``t`` for the store (when ``redact``) before its id is set.

    Returns the content to hash and, for an unredacted trajectory that holds a secret, the
    id it must get instead (:func:`stable_id`), so the raw and the redacted copy of one run
    are one row.
    """
    if not redactor.may_hold_secret(t, content):
        return content, None
    if redact:
        redactor.trajectory(t)
        return t.content_json(), None
    return content, stable_id(t)

