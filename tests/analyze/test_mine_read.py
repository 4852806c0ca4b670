"""Runs read straight from the store (streamed columns, lazy quotes) are the runs the miner
would index from the stored trajectories, and they keep no step text or long argument."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import REPO, TAU_AIRLINE, need_shared

from skillforge.analyze import mine, mine_store
from skillforge.analyze._mine_index import LAZY_QUOTES, Run, index_run, quote_of
from skillforge.analyze._mine_read import read_runs, resolve_quotes
from skillforge.store import connect, iter_trajectories, write_trajectories
from skillforge.traces.model import Outcome, Source, Step, Trajectory


def _quote(q: str, step: int | None, texts: dict[int, str]) -> str:
    if q in LAZY_QUOTES:
        return quote_of(texts.get(step or 0, ""), LAZY_QUOTES[q])
    return q


def _view(run: Run, texts: dict[int, str]) -> dict[str, Any]:
    """Everything a run holds, lazy quotes filled in from the trajectory's step texts."""
    calls = []
    for c in run.calls:
        calls.append({
            "pos": c.pos, "step": c.step, "tool": c.tool, "args": c.args, "key": c.key,
            "quote": _quote(c.quote, c.step, texts), "action": c.action,
            "targets": sorted(c.targets), "obs_step": c.obs_step, "obs_error": c.obs_error,
            "obs_quote": _quote(c.obs_quote, c.obs_step, texts), "obs_sig": c.obs_sig,
            "obs_hash": c.obs_hash, "obs_empty": c.obs_empty, "user_step": c.user_step,
            "user_quote": _quote(c.user_quote, c.user_step, texts), "confirmed": c.confirmed,
            "unseen": c.unseen, "shell": None if c.shell is None else c.shell.raw,
            "flat": c.flat})
    objects = {k: (o.kind, sorted(o.fields), o.step, _quote(o.quote, o.step, texts))
               for k, o in run.objects.items()}
    return {"id": run.id, "task_id": run.task_id, "success": run.success,
            "families": run.families, "intent": sorted(run.intent), "words": run.words,
            "final": sorted(run.final), "objects": objects, "calls": calls}


def _store(tmp_path: Path, folders: list[Path]) -> duckdb.DuckDBPyConnection:
    from skillforge import ingest
    from skillforge.settings import Settings

    settings = Settings.load(tmp_path / "home")
    ingest(folders, settings=settings, show_progress=False)
    return connect(settings.db_path)


@pytest.mark.parametrize("folder", ["tau", "traces", "agents"])
def test_store_runs_are_the_runs_of_the_stored_trajectories(folder: str, tmp_path: Path):
    need_shared()
    shared = TAU_AIRLINE.parent
    folders = {"tau": [TAU_AIRLINE], "traces": [REPO / "traces"],
               "agents": [shared / "mini-swe-agent-gruckion", shared / "swe-agent",
                          shared / "claude-code-v2.1-spotter", shared / "openhands",
                          shared / "codex-rollouts"]}[folder]
    con = _store(tmp_path, folders)
    trajs = list(iter_trajectories(con))
    streamed = read_runs(con)
    assert [r.id for r in streamed] == [t.id for t in trajs]
    for t, r in zip(trajs, streamed, strict=True):
        texts = {s.index: s.text for s in t.steps}
        assert _view(r, texts) == _view(index_run(t), texts), t.id
    some = [t.id for t in trajs[::3]]
    assert [r.id for r in read_runs(con, ids=some)] == sorted(some)


def _traj(task_id: str, steps: list[Step], success: bool | None = True,
          **kw: Any) -> Trajectory:
    return Trajectory(source=Source(format="test", file="built"), task_id=task_id,
                      outcome=Outcome(success=success), steps=steps, **kw).finalize()


def _call(i: int, tool: str, args: dict[str, Any], result: str, err: bool = False) -> list[Step]:
    return [Step(index=i, role="assistant", kind="tool_call", tool_name=tool, tool_args=args,
                 call_id=f"c{i}", text=f"{tool}({json.dumps(args)})"),
            Step(index=i + 1, role="tool", kind="error" if err else "observation",
                 call_id=f"c{i}", text=result, is_error=err)]


def test_steps_stored_apart_or_missing_and_a_request_only_in_the_task(tmp_path: Path):
    con = connect(tmp_path / "s.duckdb")
    a = _traj("t1", [Step(index=0, role="user", kind="message", text="Cancel ORD12345X"),
                     *_call(1, "cancel_order", {"order_id": "ORD12345X"}, '{"ok": true}')])
    b = _traj("t2", _call(0, "get_order", {"order_id": "ORD999Y"},
                          '{"order_id": "ORD999Y", "status": "pending"}'),
              task="Please refund the pending order")
    empty = _traj("t3", [], task="Nothing happened here")
    write_trajectories(con, [a, b, empty])
    # store the steps of ``a`` apart, around ``b``'s, and out of order: read by themselves
    rows = con.execute("SELECT * FROM steps ORDER BY trajectory_id, idx").fetchall()
    mine_a = [x for x in rows if x[0] == a.id]
    con.execute("DELETE FROM steps")
    order = [mine_a[-1], *(x for x in rows if x[0] != a.id), *reversed(mine_a[:-1])]
    con.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", order)
    got = {r.id: r for r in read_runs(con)}
    assert set(got) == {a.id, b.id, empty.id}
    for t in (a, b, empty):
        texts = {s.index: s.text for s in t.steps}
        assert _view(got[t.id], texts) == _view(index_run(t), texts)
    assert "refund" in got[b.id].intent and got[empty.id].intent >= {"noth", "happen"}


def _strings(o: Any, seen: set[int]) -> list[str]:
    if id(o) in seen:
        return []
    seen.add(id(o))
    if isinstance(o, str):
        return [o]
    if isinstance(o, dict):
        return [s for k, v in o.items() for s in _strings(k, seen) + _strings(v, seen)]
    if isinstance(o, list | tuple | set | frozenset):
        return [s for x in o for s in _strings(x, seen)]
    if hasattr(o, "__slots__"):
        return [s for n in o.__slots__ if hasattr(o, n) for s in _strings(getattr(o, n), seen)]
    return []


def _writes(n: int) -> list[Trajectory]:
    """Runs that write a long file, fail on the same long content and retry with other
    content, or loop on an identical long call."""
    out = []
    for i in range(n):
        body = f"def f{i % 2}():\n" + "    return 1\n" * 300
        steps = [Step(index=0, role="user", kind="message", text=f"Write module m{i} please")]
        steps += _call(1, "write_file", {"path": f"src/m{i}.py", "content": body},
                       "Error: disk quota exceeded for " + body, err=True)
        steps += _call(3, "write_file", {"path": f"src/m{i}.py", "content": body + "# v2\n"},
                       "written " + "x" * 5000)
        steps += _call(5, "write_file", {"path": f"src/m{i}.py", "content": body + "# v2\n"},
                       "written " + "x" * 5000)
        out.append(_traj(f"t{i}", steps, success=i % 3 != 0))
    return out


def test_runs_keep_no_step_text_or_long_argument_and_still_compare_them(tmp_path: Path):
    trajs = _writes(9)
    con = connect(tmp_path / "s.duckdb")
    write_trajectories(con, trajs)
    runs = read_runs(con)
    longest = max(len(s) for s in _strings(runs, set()))
    assert longest <= 200, longest     # the error message's quote and signature at most
    r = runs[0]
    first, retry, again = r.calls
    assert first.key != retry.key == again.key          # identical calls, told apart exactly
    assert first.args["content"] != retry.args["content"]
    assert first.args["path"] == retry.args["path"] and first.args["path"].startswith("src/")
    lessons = mine(trajs)
    recovery = [les for les in lessons if les.meta.get("pattern") == "recovery"]
    assert recovery and recovery[0].meta["changed"] == {"content": 9}
    loop = [les for les in lessons if les.meta.get("pattern") == "loop"]
    assert loop and loop[0].meta["repeats"] == 9


def test_mine_store_fills_in_every_quote(tmp_path: Path):
    need_shared()
    con = _store(tmp_path, [TAU_AIRLINE])
    rep = mine_store(con)
    steps = {(t.id, s.index): s.text for t in iter_trajectories(con) for s in t.steps}
    from skillforge.store import load_lessons

    for les in [*rep.stats.lessons, *load_lessons(con, where="analyst = 'miner'")]:
        for e in les.evidence:
            assert e.quote not in LAZY_QUOTES and e.quote in steps[(e.trajectory_id,
                                                                   e.step_index)]
    assert resolve_quotes(con, rep.stats.lessons) == 0   # nothing left to fill in
