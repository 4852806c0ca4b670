"""The one-pass secret pre-check a whole serialized trajectory goes through before redaction.

Most trajectories hold no secret; this decides, cheaply, which ones may, so that the others
never reach the detectors. It must be a superset of what the detectors find:

* one compiled regex (a trie of the trigger stems, every one implied by some detector's
  triggers, and of the JSON keys whose values are redacted whole) run once over the text,
  and the shape of a URL with a password where the text holds ``://``;
* runs of key characters 20+ long, found with C-speed ``translate`` + ``find`` and scored for
  randomness, for the high-entropy and bare-token detectors.

None of these patterns crosses a ``"`` (the key names end at one), so each lies inside one
piece of the JSON cut at its quotes. Pieces already seen clean (tool names, JSON keys,
repeated tool results) are remembered in a bounded set, and only new pieces are scanned;
memory stays bounded whatever the folder size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# The cheap test a whole serialized trajectory goes through first (most hold no secret):
# fewer, shorter stems, each implied by some detector's triggers (``_secret_plugins``), so it
# costs about as much as the old hand-written pattern list did; "://" is replaced by the shape
# of a URL with a password, since plain URLs are everywhere. Kept here, apart from the
# detectors, so the pre-check runs without importing them.
BLOB_TRIGGERS = ("private key", "putty-user", "sk-", "akia", "asia", "aws", "ghp_", "gho_",
                 "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glrt-", "xox",
                 "hooks.slack", "k_live_", "k_test_", "aiza", "hf_", "sg.", "pypi-", "eyj",
                 "bearer", "passw", "_pass", "dbpass", "pwd", "secret", "_key", "apikey",
                 "authkey", "privkey", "privatekey", "contrase", "_token", "-token",
                 "accesstoken", "authtoken", "accountkey")
ENTROPY_LIMIT = 4.5  # the high-entropy detectors' Shannon limit (detect-secrets' base64 one)

# JSON keys whose string values Redactor.value replaces whole (see redact._SECRET_KEY), as
# they end in serialized JSON (``"api_key":``), beyond what BLOB_TRIGGERS already covers
_KEY_ENDS = ('token"', "credential", 'authorization"', 'passphrase"', 'accesskey"', '-key"')
_URL_CRED = re.compile(rb"://[^\s/:@\"'\\]+:[^\s/@\"'\\]+@")


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of ``words`` (as a prefix trie, so a position tries few branches)."""
    root: dict[str, dict] = {}
    for w in sorted(set(words)):
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        if "" in node:
            return ""  # a shorter word ends here: it matches whatever follows
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items())]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(root)


PATTERN = re.compile(_trie(BLOB_TRIGGERS + _KEY_ENDS).encode())
_KEY_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=")
_RUN_MAP = bytes(ord("k") if c in _KEY_CHARS else 32 for c in range(256))
_RUN = b"k" * 20
_DIGITS = b"0123456789"
_CLEAN_MAX = 100_000  # remembered clean pieces (each at most _PIECE_MAX bytes: <= ~16 MB)
_PIECE_MAX = 128
_clean: set[bytes] = set()


def _random_runs(text: bytes, looks_random: Callable[[str, bool], bool]) -> bool:
    """Whether ``text`` holds a run of 20+ key characters random enough to be a key."""
    mapped = text.translate(_RUN_MAP)
    i = mapped.find(_RUN)
    while i >= 0:
        start = mapped.rfind(b" ", 0, i) + 1
        end = mapped.find(b" ", i)
        end = len(mapped) if end < 0 else end
        tok = text[start:end]
        # a key mixes upper, lower and digits: cheap C-speed tests before the entropy score
        if tok.lower() != tok and tok.upper() != tok and tok.translate(None, _DIGITS) != tok \
                and looks_random(tok.decode("ascii", "replace"), end - start >= 32):
            return True
        i = mapped.find(_RUN, end)
    return False


def may_hold(blob: bytes, looks_random: Callable[[str, bool], bool]) -> bool:
    """Whether serialized content may hold a secret (False means: no detector finds one)."""
    pieces = set(blob.split(b'"'))
    new = pieces - _clean if _clean else pieces
    if not new:
        return False
    # no raw newline inside JSON: pieces stay apart; each keeps the quote that ended it
    text = b'"\n'.join(new) + b'"'  # the last one too
    if PATTERN.search(text.lower()) is not None or _random_runs(text, looks_random):
        return True
    if b"://" in text and _URL_CRED.search(text) is not None:
        return True
    if len(_clean) > _CLEAN_MAX:
        _clean.clear()
    _clean.update(p for p in new if len(p) <= _PIECE_MAX)
    return False


def sql_prefilter(text: str, entropy_limit: float) -> str:
    """A DuckDB boolean expression over the SQL string expression ``text`` that is true
    wherever :func:`may_hold` may say True for the same text: the trigger regex (RE2,
    case-insensitive), the shape of a URL with a password, and any run of 20+ key
    characters that mixes upper, lower and digits and whose Shannon entropy (DuckDB's
    ``entropy`` over its characters) reaches ``entropy_limit``. It is a superset, never the
    verdict: what it passes goes to :func:`may_hold`, what it does not pass may_hold would
    pass as clean."""
    trigger = "(?i)" + PATTERN.pattern.decode()
    url = _URL_CRED.pattern.decode()
    mixed = (f"list_filter(regexp_extract_all({text}, '[A-Za-z0-9+/_=-]{{20,}}'), lambda r: "
             "regexp_matches(r, '[A-Z]') AND regexp_matches(r, '[a-z]') "
             "AND regexp_matches(r, '[0-9]'))")
    random_run = ("lambda r: length(rtrim(r, '=')) >= 20 AND "
                  "list_aggregate(string_split(rtrim(r, '='), ''), 'entropy') > "
                  f"{entropy_limit - 1e-6!r}")
    return (f"(regexp_matches({text}, {_sql_str(trigger)}) "
            f"OR (contains({text}, '://') AND regexp_matches({text}, {_sql_str(url)})) "
            f"OR len(list_filter({mixed}, {random_run})) > 0)")


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def precheck_sql(text: str) -> str:
    """A DuckDB expression over the SQL string ``text`` that is true wherever
    ``blob_may_hold`` may be true for it (a superset, to run before it in SQL)."""
    return sql_prefilter(text, ENTROPY_LIMIT)
