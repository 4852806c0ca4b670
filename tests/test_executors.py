"""Executors (skillforge.executors) without Ray: what the Ray path ships, in one process.

``PicklingExecutor`` runs every piece here but only on pickled copies of its inputs, and
hands back a pickled copy of its result, as Ray would: the held-out gate and the sharded LLM
analysis must give what the in-process path gives, and the shards must answer from the
store's cache on a re-run. The Ray test itself is tests/test_executor_ray.py.
"""

from __future__ import annotations

import json
import pickle
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, TAU_AIRLINE, need_shared
from helpers import cli

from skillforge.analyze.miner import mine_store
from skillforge.analyze.run import analyze_llm_into
from skillforge.errors import UsageError
from skillforge.executors import ExecutorError, LocalExecutor, open_executor
from skillforge.ingest import ingest
from skillforge.settings import Settings
from skillforge.store import connect, load_lessons
from skillforge.verify.crossval import CrossvalConfig, crossval_gate


class PicklingExecutor(LocalExecutor):
    """Runs pieces here, on pickled copies, and counts them (a stand-in for Ray)."""

    name = "pickling"
    remote = True
    parallelism = 2

    def __init__(self) -> None:
        self.pieces = 0
        self.shipped = 0  # bytes of pickled inputs

    def share(self, obj: Any) -> Any:
        data = pickle.dumps(obj)
        self.shipped += len(data)
        return data

    def submit(self, fn: Any, shared: Any, item: Any) -> Future:
        self.pieces += 1
        fn = pickle.loads(pickle.dumps(fn))  # a module-level function, shipped by name
        data = pickle.dumps(item)
        self.shipped += len(data)
        out = super().submit(lambda s, i: pickle.dumps(fn(pickle.loads(s), pickle.loads(i))),
                             shared, data)
        fut: Future = Future()
        if out.exception() is not None:
            fut.set_exception(out.exception())
        else:
            fut.set_result(pickle.loads(out.result()))
        return fut

    def map(self, fn: Any, shared: Any, items: Any) -> list:
        handle = self.share(shared)
        return [self.result(self.submit(fn, handle, i)) for i in items]


def _gate_view(rep) -> tuple[list, list]:
    return ([(k.id, k.content, json.dumps(k.meta["heldout"], sort_keys=True)) for k in rep.kept],
            [(x.lesson.id, x.gate, x.reason) for x in rep.rejected])


@pytest.fixture(scope="module")
def tau_store(tmp_path_factory):
    """The tau-bench airline runs in a store, mined once."""
    need_shared()
    settings = Settings.load(tmp_path_factory.mktemp("tau") / "home")
    ingest([TAU_AIRLINE], settings=settings, show_progress=False)
    con = connect(settings.db_path)
    mined = mine_store(con)
    lessons = load_lessons(con)
    con.close()
    return settings, mined.runs, lessons


def test_fold_miners_shipped_as_pickles_give_the_same_gate(tau_store):
    _settings, runs, lessons = tau_store
    cfg = CrossvalConfig(folds=5)
    here = crossval_gate(lessons, runs, cfg)
    ex = PicklingExecutor()
    shipped = crossval_gate(lessons, runs, cfg, executor=ex)
    assert _gate_view(shipped) == _gate_view(here)
    assert here.kept and ex.pieces == 5  # one piece per fold, the runs shared once
    assert ex.shipped < 200 * 20_000  # compact: well under 20 kB per run


def _llm_lessons(con) -> list[tuple[str, int, str]]:
    return sorted((les.id, les.support, les.content)
                  for les in load_lessons(con, where="starts_with(analyst, 'llm-')"))


def test_sharded_llm_analysis_matches_the_fan_out_and_reuses_the_cache(tmp_path):
    need_shared()
    homes = []
    for name in ("fan-out", "shards"):
        s = Settings.load(tmp_path / name)
        ingest([TAU_AIRLINE], settings=s, show_progress=False)
        homes.append(s)
    con_a, con_b = connect(homes[0].db_path), connect(homes[1].db_path)
    try:
        a = analyze_llm_into(con_a, homes[0], llm="fake/schema", concurrency=4, limit=70,
                             show_progress=False)
        ex = PicklingExecutor()
        b = analyze_llm_into(con_b, homes[1], llm="fake/schema", concurrency=4, limit=70,
                             show_progress=False, executor=ex)
        assert (b.selected, b.analyzed, b.failed) == (a.selected, a.analyzed, a.failed)
        assert (b.analyzed, b.failed) == (70, [])
        assert b.usage["calls"] == a.usage["calls"] == 70 and b.lessons == a.lessons
        assert _llm_lessons(con_b) == _llm_lessons(con_a)
        assert ex.pieces == 3  # 70 trajectories in shards of 32
        cached = con_b.execute("SELECT count(*) FROM llm_cache").fetchone()[0]
        assert cached == 70  # the workers' answers came back into the store's cache
        # a re-run answers from the cache here: no call, no shard sent
        ex2 = PicklingExecutor()
        again = analyze_llm_into(con_b, homes[1], llm="fake/schema", concurrency=4, limit=70,
                                 redo=True, show_progress=False, executor=ex2)
        assert again.analyzed == 70 and again.usage["calls"] == 0
        assert again.usage["cache_hits"] == 70 and ex2.pieces == 0
        assert _llm_lessons(con_b) == _llm_lessons(con_a)
    finally:
        con_a.close()
        con_b.close()


class LosingExecutor(PicklingExecutor):
    """Loses every second shard, as a Ray cluster that loses a node would."""

    def submit(self, fn: Any, shared: Any, item: Any) -> Future:
        if self.pieces % 2 == 1:
            self.pieces += 1
            fut: Future = Future()
            fut.set_exception(ExecutorError("Ray lost a task: NodeDiedError"))
            return fut
        return super().submit(fn, shared, item)


def test_a_lost_shard_is_listed_as_failed_and_the_rest_is_kept(tmp_path):
    need_shared()
    s = Settings.load(tmp_path / "home")
    ingest([TAU_AIRLINE], settings=s, show_progress=False)
    con = connect(s.db_path)
    try:
        rep = analyze_llm_into(con, s, llm="fake/schema", concurrency=2, limit=64,
                               show_progress=False, executor=LosingExecutor())
        assert rep.analyzed == 32 and len(rep.failed) == 32
        assert all("worker analysing it was lost" in f["error"] for f in rep.failed)
        done = con.execute("SELECT count(*) FROM analyzed WHERE analyzer = 'llm:fake/schema'"
                           ).fetchone()[0]
        assert done == 32  # the finished shard is in the store; a re-run does the other
        lost = {f["trajectory_id"] for f in rep.failed}
        again = analyze_llm_into(con, s, llm="fake/schema", concurrency=2, limit=32,
                                 show_progress=False, executor=PicklingExecutor())
        assert again.analyzed == 32 and again.failed == []
        done = {r[0] for r in con.execute(
            "SELECT trajectory_id FROM analyzed WHERE analyzer = 'llm:fake/schema'").fetchall()}
        assert lost <= done
    finally:
        con.close()


def test_executor_names_and_addresses_are_checked():
    assert isinstance(open_executor("local"), LocalExecutor)
    with pytest.raises(UsageError, match="unknown executor 'dask'"):
        open_executor("dask")
    with pytest.raises(UsageError, match="--ray-address goes with --executor ray"):
        open_executor("local", address="10.0.0.1:6379")


def test_executor_ray_without_ray_says_how_to_install_it(isolated_home, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    res = cli("distill", str(REPO / "traces" / "openai-chat"), "--executor", "ray")
    assert res.code == 1
    assert "--executor ray needs Ray" in res.err and "pip install 'skillforge[ray]'" in res.err
    assert not (isolated_home / "store.duckdb").exists()  # nothing was read or written


def test_an_unreachable_ray_address_fails_fast_and_changes_nothing(isolated_home):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    if ray.is_initialized():
        pytest.skip("Ray is already initialized in this process (it would be used as is)")
    import socket

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    res = cli("distill", str(REPO / "traces" / "openai-chat"), "--executor", "ray",
              "--ray-address", f"127.0.0.1:{port}")
    assert res.code == 1
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in res.err
    assert "nothing was read or written" in res.err
    assert not (isolated_home / "store.duckdb").exists()
    assert not ray.is_initialized()


def test_distill_records_the_executor(isolated_home):
    res = cli("distill", str(REPO / "traces" / "openai-chat"), "--executor", "local", "--json")
    assert res.code in (0, 2), res.err
    run_id = json.loads(res.out)["run_id"]
    con = connect(Path(isolated_home) / "store.duckdb", read_only=True)
    try:
        config = json.loads(con.execute("SELECT config FROM runs WHERE id = ?",
                                        [run_id]).fetchone()[0])
    finally:
        con.close()
    assert config["executor"] == "local"
