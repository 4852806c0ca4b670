"""``--executor ray`` on a local Ray instance gives the lessons the local executor gives.

Runs with the ``ray`` extra installed (``make test`` installs it); without it the module is
skipped and says why. The instance is started here (two CPUs, no dashboard) and stopped at
the end; distill finds it initialized and uses it as it is.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO, TAU_AIRLINE, need_shared
from helpers import cli

ray = pytest.importorskip(
    "ray", reason="the ray extra is not installed (pip install 'skillforge[ray]')")

from skillforge import distill  # noqa: E402
from skillforge.settings import Settings  # noqa: E402
from skillforge.store import connect, load_lessons  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def _outcome(settings: Settings, rep) -> dict:
    con = connect(settings.db_path, read_only=True)
    try:
        lessons = sorted((les.id, les.analyst, les.support, les.content)
                         for les in load_lessons(con))
    finally:
        con.close()
    return {
        "skills": sorted((s.name, s.status, sorted(st.text for st in s.package.statements))
                         for s in rep.skills),
        "gate": rep.heldout_gate, "rejected": sorted(rep.rejected_lessons),
        "lessons": lessons,
        "counts": {k: rep.counts.get(k) for k in ("lessons", "miner_lessons", "llm_lessons",
                                                  "llm_calls", "llm_failed")},
    }


def _distill_both(tmp_path, monkeypatch, src, llm=None) -> dict:
    runs = {}
    for name in ("local", "ray"):
        settings = Settings.load(tmp_path / name / "home")
        if name == "ray":  # nothing of the gate's folds or the LLM fan-out runs in here
            import skillforge.analyze.run as run_mod
            from skillforge.executors import LocalExecutor

            def here(*_a, **_k):
                raise AssertionError("ran in the driver, not on Ray")

            monkeypatch.setattr(run_mod, "fan_out", here)
            monkeypatch.setattr(LocalExecutor, "map", here)
        rep = distill([src], settings=settings, out=tmp_path / name / "lib", llm=llm,
                      show_progress=False, executor=name)
        assert rep.exit_code == 0, rep.faults
        runs[name] = _outcome(settings, rep)
    return runs


@pytest.mark.slow
def test_ray_fold_miners_give_the_lessons_of_the_local_executor(tmp_path, local_ray,
                                                                 monkeypatch):
    need_shared()
    runs = _distill_both(tmp_path, monkeypatch, TAU_AIRLINE)
    assert runs["local"]["skills"] and runs["local"]["rejected"]
    assert runs["ray"] == runs["local"]


@pytest.mark.slow
def test_ray_llm_shards_give_the_lessons_of_the_local_fan_out(tmp_path, local_ray,
                                                               monkeypatch):
    need_shared()
    data = json.loads((TAU_AIRLINE / "gpt-4o-airline.json").read_text(encoding="utf-8"))
    tasks = sorted({r["task_id"] for r in data})[:12]
    src = tmp_path / "airline-12-tasks.json"
    src.write_text(json.dumps([r for r in data if r["task_id"] in tasks]), encoding="utf-8")
    runs = _distill_both(tmp_path, monkeypatch, src, llm="fake/schema")
    local = runs["local"]
    assert local["counts"]["llm_calls"] == 48 and local["counts"]["llm_failed"] == 0
    assert any(les[1].startswith("llm-") for les in local["lessons"])
    assert runs["ray"] == local


@pytest.mark.slow
def test_distill_command_runs_on_ray(isolated_home, local_ray):
    res = cli("distill", str(REPO / "traces" / "openai-chat"), "--executor", "ray", "--json")
    assert res.code in (0, 2), res.err
    run_id = json.loads(res.out)["run_id"]
    con = connect(isolated_home / "store.duckdb", read_only=True)
    try:
        config = json.loads(con.execute("SELECT config FROM runs WHERE id = ?",
                                        [run_id]).fetchone()[0])
    finally:
        con.close()
    assert config["executor"] == "ray"
    assert ray.is_initialized()  # the caller's Ray is left as it was
