"""The miner's lessons on the shared real data are exactly those recorded in
``data/miner_golden.json`` (written by ``miner_golden.py`` from the code before the
memory-flat rewrite): same ids (title and content), capabilities, support, claims, figures,
evidence, and held-out verdicts."""

from __future__ import annotations

import json

import pytest
from conftest import need_shared
from miner_golden import CASES, OUT, record


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(OUT.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_miner_output_is_unchanged_on_real_data(case: str, golden: dict, tmp_path) -> None:
    need_shared()
    got = json.loads(json.dumps(record(case, tmp_path / "home")))
    want = golden[case]
    assert got["trajectories"] == want["trajectories"]
    assert got["signal_labelled"] == want["signal_labelled"]
    assert got["families"] == want["families"]
    got_l = {x["id"]: x for x in got["lessons"]}
    want_l = {x["id"]: x for x in want["lessons"]}
    missing = sorted(want_l[i]["title"] for i in set(want_l) - set(got_l))
    extra = sorted(got_l[i]["title"] for i in set(got_l) - set(want_l))
    assert not missing and not extra, {"missing": missing, "extra": extra}
    for i, w in want_l.items():
        assert got_l[i] == w, w["title"]
    assert got["gate"] == want["gate"]
    assert got == want


@pytest.mark.slow
@pytest.mark.parametrize("case", ["tau-bench-airline", "agents"])
def test_miner_output_is_unchanged_when_runs_come_from_its_cache(case: str, golden: dict,
                                                                 tmp_path) -> None:
    """A store mined once, then grown by more folders (or the same folder again), mined
    again: the runs indexed the first time come from the miner's cache, only the new ones
    are read from their steps, and the record is still the golden one."""
    need_shared()
    counts: dict[str, int] = {}
    got = json.loads(json.dumps(record(case, tmp_path / "home", grow=True, counts=counts)))
    assert counts["before"] > 0
    assert counts["indexed"] == got["trajectories"] - counts["before"]
    assert got == golden[case]
