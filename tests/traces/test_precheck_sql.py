"""The pre-check in SQL (RE2 in DuckDB) lets through every text the pre-check itself does.

``precheck_sql`` runs before ``blob_may_hold`` in the native JSONL fast path: a text it
rejects never reaches the pre-check, so it must be true wherever the pre-check may be.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import duckdb
import pytest
from hostile.corpus import SECRETS
from hypothesis import given, settings
from hypothesis import strategies as st
from test_precheck import CONTEXTS, _traj

from skillforge.traces import _precheck as pre
from skillforge.traces import _precheck_lazy as lazy
from skillforge.traces import blob_may_hold, precheck_sql
from skillforge.traces.redact import _looks_random_run

_CON = duckdb.connect()


def _sql(texts: list[str]) -> list[bool]:
    return _CON.execute(f"SELECT list_transform(?::VARCHAR[], lambda c: {precheck_sql('c')})",
                        [texts]).fetchone()[0]


@pytest.fixture(autouse=True)
def _fresh_cache():
    pre._clean.clear()
    yield
    pre._clean.clear()


def test_every_planted_secret_passes_the_sql_prefilter():
    blobs = [_traj(ctx.format(s=secret)).content_json().decode()
             for secret in SECRETS.values() for ctx in CONTEXTS]
    blobs += [_traj("ok", args={"token": s, "nested": {"password": s}}).content_json().decode()
              for s in SECRETS.values()]
    held = [blob_may_hold(b.encode()) for b in blobs]
    assert sum(held) > len(blobs) // 2  # not vacuous
    assert all(s for s, h in zip(_sql(blobs), held, strict=True) if h)


_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-="


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=list(_KEY) + [" ", '"', ":", "/", "@", "é", "\\", "\n"],
                        max_size=80), min_size=1, max_size=6),
       st.sampled_from(["", "sk-", "password=", "://u:", "ghp_", "Bearer ", "aws_"]))
def test_generated_texts(pieces, stem):
    pre._clean.clear()
    blob = json.dumps([stem + p for p in pieces], ensure_ascii=False)
    if blob_may_hold(blob.encode()):
        assert _sql([blob]) == [True]


def test_the_entropy_shortcut_keeps_every_token_the_detectors_score_random():
    rng = random.Random(5)
    for _ in range(3000):
        alphabet = _KEY[:rng.randint(8, len(_KEY))]
        tok = "".join(rng.choice(alphabet) for _ in range(rng.randint(18, 60)))
        bare = len(tok) >= 32
        if _looks_random_run(tok, bare):
            assert lazy.looks_random(tok, bare), tok


def test_a_clean_ingest_never_loads_the_detectors(tmp_path):
    from skillforge.traces import Source, Step, Trajectory
    from skillforge.traces.native import dump_line

    t = Trajectory(source=Source(format="x", file="y"), task="book a flight",
                   steps=[Step(index=0, role="user", kind="message", text="book a flight")])
    f = tmp_path / "runs.jsonl"
    f.write_text(dump_line(t.finalize()) + "\n")
    code = ("import sys; from skillforge import ingest, Settings; "
            f"r = ingest([{str(f)!r}], settings=Settings.load({str(tmp_path / 'h')!r}), "
            "show_progress=False); print(r.added, 'detect_secrets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["1", "False"]
