"""skillforge JSONL read by DuckDB (``_native_sql``) stores what the Python path stores.

Every test ingests the same files twice, once with DuckDB's path turned off (the Python path:
pydantic, the pre-check and the redactor for every line) and once with it on, and compares
the report and everything the store holds: trajectories, steps, signals, the files
remembered. Inputs: the shared real traces exported as skillforge JSONL (their secrets kept,
ingested unredacted first), the hostile corpus with its planted secrets, synthetic runs of
the bench's shape, hand-made lines of every kind DuckDB and pydantic could read apart, and
generated trajectories.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import SHARED, need_shared
from hostile import corpus
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

import skillforge._native_sql as native_sql
from skillforge import ingest
from skillforge.settings import Settings
from skillforge.store import connect, iter_trajectories
from skillforge.traces import Outcome, Source, Step, Trajectory, Usage
from skillforge.traces.native import dump_line

ING = importlib.import_module("skillforge.ingest")  # the module (skillforge.ingest is the function)

TABLES = {
    "trajectories": "SELECT * EXCLUDE (ingest_run, ingested_at) FROM trajectories ORDER BY id",
    "steps": "SELECT * FROM steps ORDER BY trajectory_id, idx",
    "signals": "SELECT * EXCLUDE (run_id, created_at) FROM signals ORDER BY trajectory_id",
    "files": "SELECT * EXCLUDE (run_id, ingested_at) FROM ingested_files ORDER BY path_sha",
}


def _same(v):
    return "NaN" if isinstance(v, float) and v != v else v  # NaN is not equal to itself


def _store(settings: Settings) -> dict[str, list]:
    con = connect(settings.db_path, read_only=True)
    try:
        return {k: [tuple(map(_same, r)) for r in con.execute(q).fetchall()]
                for k, q in TABLES.items()}
    finally:
        con.close()


def _report(rep) -> dict:
    d = rep.to_dict()
    d.pop("run_id")
    d.pop("seconds")
    d["trajectory_ids"] = rep.trajectory_ids  # in reading order
    return d


def _both(monkeypatch, tmp_path: Path, paths: list[Path], *, redact: bool = True,
          name: str = "run") -> tuple[dict, dict]:
    """Ingest ``paths`` by the Python path and by DuckDB's; assert the two agree."""
    out = []
    for engine in (False, True):
        monkeypatch.setattr(native_sql, "ENABLED", engine)
        settings = Settings.load(tmp_path / f"{name}-{'sql' if engine else 'python'}")
        rep = ingest(paths, settings=settings, redact=redact, show_progress=False)
        out.append((_report(rep), _store(settings)))
    (rep_py, store_py), (rep_sql, store_sql) = out
    assert rep_sql == rep_py
    for table in TABLES:
        assert store_sql[table] == store_py[table], table
    return rep_sql, store_sql


def _count_fast(monkeypatch) -> list[int]:
    """How many lines DuckDB's path kept, per file parsed (filled as ingest runs)."""
    kept: list[int] = []
    real = native_sql.NativeSQL.lines

    def spy(self, file_no):
        n = 0
        for unit, ln in real(self, file_no):
            n += ln.fast
            yield unit, ln
        kept.append(n)

    monkeypatch.setattr(native_sql.NativeSQL, "lines", spy)
    return kept


def _traj(i: int, **kw) -> Trajectory:
    t0 = datetime(2024, 5, 20, 10, 0, tzinfo=UTC) + timedelta(minutes=i)
    steps = [
        Step(index=0, role="system", kind="message", text="You are an airline agent."),
        Step(index=1, role="user", kind="message", text=f"Change reservation R{i:05d}.",
             timestamp=t0),
        Step(index=2, role="assistant", kind="tool_call", tool_name="get_reservation",
             tool_args={"reservation_id": f"R{i:05d}", "n": i, "ok": True, "note": None},
             call_id=f"c{i}", text=f'get_reservation({{"reservation_id": "R{i:05d}"}})',
             timestamp=t0 + timedelta(seconds=5)),
        Step(index=3, role="tool", kind="observation", tool_name="get_reservation",
             call_id=f"c{i}", text=json.dumps({"status": "ok", "flights": [i, i + 1]}),
             is_error=i % 9 == 0),
        Step(index=4, role="assistant", kind="final", text="Done: café ✓ 🚀"),
    ]
    t = Trajectory(source=Source(format="openai-chat", file="gen.json", record=f"r{i}"),
                   task_id=str(i % 13), task=f"Change reservation R{i:05d}.", agent="bench",
                   model="m-1", attempt=i % 3, steps=steps,
                   outcome=Outcome(success=i % 4 != 0, reward=float(i % 4 != 0),
                                   detail="pass" if i % 4 else "fail"),
                   usage=Usage(input_tokens=100 + i, output_tokens=20, cost=0.25))
    for k, v in kw.items():
        setattr(t, k, v)
    return t.finalize()


def _write(path: Path, lines: list[str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n"
                              for x in lines))
    return path


def test_synthetic_runs_go_through_duckdb_and_store_the_same(tmp_path, monkeypatch):
    lines = [dump_line(_traj(i)) for i in range(120)]
    lines.insert(30, lines[3])  # the same run twice
    unlabeled = _traj(500, outcome=Outcome())
    lines.append(dump_line(unlabeled))
    f = _write(tmp_path / "in" / "runs.jsonl", lines)
    kept = _count_fast(monkeypatch)
    rep, store = _both(monkeypatch, tmp_path, [f])
    assert kept == [len(lines)]  # every line was staged by DuckDB
    assert (rep["added"], rep["duplicates"], rep["steps"]) == (121, 1, 122 * 5)
    ts = {r[0]: r[17:19] for r in store["trajectories"]}
    assert ts[_traj(7).id] == (_traj(7).steps[1].timestamp, _traj(7).steps[2].timestamp)
    assert store["files"] and rep["formats"] == {"skillforge": 122}


def test_many_batches_and_units_keep_the_order_of_the_python_path(tmp_path, monkeypatch):
    # a run stored first without a label and later with one: in another batch the later
    # copy fills the label in, in the same batch the first copy wins (write_trajectories)
    monkeypatch.setattr(ING, "BATCH_STEPS", 12)
    monkeypatch.setattr(native_sql, "UNIT_BYTES", 3000)
    bare = _traj(1, outcome=Outcome())
    labelled = bare.model_copy(deep=True)
    labelled.outcome = Outcome(success=True, reward=1.0, detail="pass")
    a = [dump_line(_traj(i)) for i in range(2, 12)]
    b = [dump_line(_traj(i)) for i in range(12, 30)]
    files = [
        _write(tmp_path / "in" / "a.jsonl", [dump_line(bare), *a, dump_line(labelled)]),
        _write(tmp_path / "in" / "b.json", [json.dumps([{"role": "user", "content": "hi"},
                                                        {"role": "assistant", "content": "ok"}])]),
        _write(tmp_path / "in" / "c.jsonl", [dump_line(labelled), "{broken", *b,
                                             dump_line(bare)]),
        _write(tmp_path / "in" / "d.jsonl", b[:3]),
    ]
    kept = _count_fast(monkeypatch)
    rep, store = _both(monkeypatch, tmp_path, [tmp_path / "in"])
    assert kept == [12, 20, 3]
    assert [(Path(p["file"]).name, p["line"]) for p in rep["problems"]] == [("c.jsonl", 2)]
    assert rep["duplicates"] == 3 + 3 and len(files) == 4
    assert any(r[10] is True for r in store["trajectories"] if r[0] == bare.id)


def _edge_lines() -> list[str | bytes]:
    """Lines DuckDB and pydantic could read apart, each next to its canonical form."""
    t = _traj(3)
    base = dump_line(t)
    obj = json.loads(base)

    def dump(o) -> str:
        return json.dumps(o, separators=(",", ":"), ensure_ascii=False)

    def with_step(**kw) -> str:
        o = json.loads(base)
        o["steps"][2].update(kw)
        return dump(o)

    def with_top(**kw) -> str:
        o = json.loads(base)
        o.update(kw)
        return dump(o)

    def text(s: str) -> str:
        return dump_line(_traj(4, task=s))

    with_naive = json.loads(dump_line(_traj(5)))
    with_naive["steps"][2]["timestamp"] = "2024-05-20T10:00:00"

    lines: list[str | bytes] = [
        base, dump(obj), json.dumps(obj), base[:-1] + ",}", base.replace("]", ",]", 1),
        "{not json", "", "   ", base.replace('"task":', '"task":"other","task":', 1),
        base.replace('"text":', '"text":"first","text":', 1), with_top(extra=1),
        with_step(extra=[1]), with_top(task_id=5), with_step(index="3"), with_step(index=3.0),
        with_step(index=2.5), with_step(is_error=1), with_step(is_error=None),
        with_step(text=None), with_step(text=7), with_step(role="robot"), with_step(role=None),
        with_top(outcome={"success": "true"}), with_top(outcome={"reward": "1.0"}),
        with_top(outcome={"reward": 1e-7, "detail": ""}), with_top(outcome=None),
        with_top(outcome={}), with_top(usage=None), with_top(usage={"cost": 1e300}),
        with_top(meta=None), with_top(meta=[]), with_top(meta={"session_id": "s-1"}),
        with_top(meta={"report": {"resolved": True}, "k": [1.5, {"a": None}]}),
        with_top(meta={"a": 1, "b": {"c": 2.5e-5}}), with_top(steps=[]), with_top(steps=None),
        with_top(steps=[None]), with_top(steps="x"), with_top(source=None),
        with_top(source={"format": "x"}), with_top(id=None), with_top(task=None),
        with_top(attempt=2**40), with_top(started_at="2024-01-01T00:00:00+05:30"),
        with_top(ended_at="2024-01-01T00:00:00"),
        with_step(timestamp="2024-05-20T10:00:00.123456+05:30"),
        with_step(timestamp="2024-05-20T10:00:00.1234567Z"),
        with_step(timestamp="2024-05-20T10:00:00"), with_step(timestamp="2024-02-30T00:00:00Z"),
        with_step(timestamp="2024-05-20 10:00:00Z"), with_step(timestamp="2024-05-20"),
        with_step(timestamp=1716199200), with_step(timestamp="0000-01-01T00:00:00Z"),
        with_step(tokens=2**31), with_step(tokens=-5), with_step(tokens="5"),
        with_step(tool_args={}), with_step(tool_args=[]), with_step(tool_args="x"),
        with_step(tool_args={"x": 1.5, "y": 1e20, "z": -0.0}),
        with_step(tool_args={"o": {"p": [1, {"q": None}], "r": {}}}),
        with_step(tool_args={"big": 123456789012345678901234567890}),
        with_step(tool_args={"deep": json.loads("[" * 195 + "]" * 195)}),
        with_step(tool_args={"deep": json.loads("[" * 198 + "]" * 198)}),
        base.replace('"tool_args":{', '"tool_args":{"n":0,', 1),
        base.replace('"tool_args":{', '"tool_args":{"o":{"a":1,"a":2},', 1),
        base.replace('"outcome":{', '"outcome":{"reward":NaN,', 1),
        base.replace('"tool_args":{', '"tool_args":{"v":NaN,', 1),
        base.replace('"tool_args":{', '"tool_args":{"v":nan,', 1),
        base.replace('"task":', '"ta\\u0073k":', 1), base.replace("café", "caf\\u00e9", 1),
        base.replace("café", "caf\\ud800", 1), base.replace('"schema":', '"schema" :', 1),
        text("ansi \x1b[31mred\x1b[0m and \x0b\x1f tab\t nl\n"),
        text("a literal \\u001B and \\\\u001B, a quote \" and \\"),
        text("line sep \u2028 para \u2029 bom \ufeff nul \x00 del \x7f"),
        base + "\r", base.encode() + b"\xff", b"\xef\xbb\xbf" + base.encode(),
        # lines the Python path once failed the whole ingest on, now a problem each
        dump({**{k: v for k, v in with_naive.items() if k not in ("started_at", "ended_at")}}),
        dump({**json.loads(dump_line(_traj(6))), "attempt": 2**40}),
    ]
    return lines


def test_lines_duckdb_and_pydantic_could_read_apart(tmp_path, monkeypatch):
    lines = _edge_lines()
    f = _write(tmp_path / "in" / "edge.jsonl", lines)
    kept = _count_fast(monkeypatch)
    for redact in (True, False):
        rep, store = _both(monkeypatch, tmp_path, [f], redact=redact, name=f"r{redact}")
        assert len(rep["problems"]) > 20 and rep["added"] > 10
        reasons = {p["line"]: p["reason"] for p in rep["problems"]}
        assert "some timestamps have a time zone" in reasons[len(lines) - 1]
        assert "attempt: 1099511627776 is out of range" in reasons[len(lines)]
    assert 0 < kept[-1] < len(lines)  # some went the fast way, the rest the Python way


def test_the_same_lines_in_one_unit_each_and_in_small_files(tmp_path, monkeypatch):
    monkeypatch.setattr(native_sql, "UNIT_BYTES", 1)  # a unit per line
    lines = _edge_lines()[:40]
    for k in range(0, len(lines), 7):
        _write(tmp_path / "in" / f"part-{k:03d}.jsonl",
               [dump_line(_traj(900 + k)), *lines[k:k + 7]])
    kept = _count_fast(monkeypatch)
    rep, _ = _both(monkeypatch, tmp_path, [tmp_path / "in"])
    assert rep["added"] >= 6 and rep["problems"]  # each file's good run, and the bad lines
    assert sum(kept) > 0  # the good runs went DuckDB's way, one unit each


def test_hostile_corpus_is_redacted_as_before_and_nothing_leaks(tmp_path, monkeypatch):
    """The hostile corpus (19 kinds of planted secret), read unredacted and exported as
    skillforge JSONL, then ingested: the same redactions, and no secret in the store."""
    need_shared()
    c = corpus.build(tmp_path / "hostile")
    src = Settings.load(tmp_path / "src")
    ingest([c.folder], settings=src, redact=False, show_progress=False)
    s = corpus.SECRETS
    extra = [
        _traj(1, task=f"use {s['github-token']} please"),
        _traj(2, meta={"api_key": "plainvalue123", "nested": {"token": s["stripe-key"]}}),
        _traj(3, task="max_tokens and access_token_url are not secrets"),
        _traj(4, steps=[Step(index=0, role="user", kind="tool_call", tool_name="login",
                             tool_args={"password": "hunter2Hunter2!"},
                             text='login(password="hunter2Hunter2!")')]),
    ]
    con = connect(src.db_path, read_only=True)
    try:
        runs = [dump_line(t) for t in iter_trajectories(con)] + [dump_line(t) for t in extra]
    finally:
        con.close()
    out = tmp_path / "export"
    _write(out / "runs.jsonl", runs)
    _write(out / "secret-folder" / "runs.jsonl", runs[:5])  # a file name the pre-check hits
    kept = _count_fast(monkeypatch)
    for redact in (True, False):
        rep, store = _both(monkeypatch, tmp_path, [out], redact=redact, name=f"r{redact}")
        if redact:
            assert sum(rep["redactions"].values()) > 19
            assert corpus.leaks(json.dumps(store, default=str)) == []
    assert kept and kept[0] > 0  # DuckDB kept the runs without secrets (not the folder
    # whose name the pre-check hits: its lines all went the Python way)


def test_real_traces_exported_as_skillforge_jsonl(tmp_path, monkeypatch):
    need_shared()
    src = Settings.load(tmp_path / "src")
    ingest([SHARED / "data"], settings=src, redact=False, show_progress=False)
    con = connect(src.db_path, read_only=True)
    try:
        runs = [dump_line(t) for t in iter_trajectories(con)]
    finally:
        con.close()
    assert len(runs) > 200
    f = _write(tmp_path / "export" / "all.jsonl", runs)
    kept = _count_fast(monkeypatch)
    rep, store = _both(monkeypatch, tmp_path, [f])
    assert kept == [len(runs)] and rep["added"] == len(runs)
    assert store["signals"]  # unlabeled sessions got their outcome signals as before


def _json_values() -> st.SearchStrategy:
    scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
    return st.recursive(scalars, lambda kids: st.lists(kids, max_size=3)
                        | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=8)


_stamps = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                  timezone(timedelta(hours=-8))]))
_steps = st.builds(
    Step, index=st.integers(0, 5), role=st.sampled_from(["user", "assistant", "tool"]),
    kind=st.sampled_from(["message", "tool_call", "observation"]), text=st.text(max_size=40),
    tool_name=st.none() | st.text(max_size=6),
    tool_args=st.none() | st.dictionaries(st.text(max_size=6), _json_values(), max_size=3),
    call_id=st.none() | st.text(max_size=4), is_error=st.booleans(),
    timestamp=st.none() | _stamps, tokens=st.none() | st.integers(-2**31, 2**31 - 1))
_trajs = st.builds(
    Trajectory, source=st.just(Source(format="x", file="y")),
    task_id=st.none() | st.text(max_size=5), task=st.text(max_size=30),
    outcome=st.builds(Outcome, success=st.none() | st.booleans(),
                      reward=st.none() | st.floats(allow_nan=False, allow_infinity=False)),
    steps=st.lists(_steps, min_size=1, max_size=4),
    meta=st.dictionaries(st.text(max_size=6), _json_values(), max_size=2))


@hyp_settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
@given(runs=st.lists(_trajs, min_size=1, max_size=8), cut=st.integers(0, 50))
def test_generated_trajectories(tmp_path_factory, monkeypatch, runs, cut):
    tmp = tmp_path_factory.mktemp("gen")
    lines: list[str | bytes] = [dump_line(t.finalize()) for t in runs]
    lines.append(lines[0][: cut + 10])  # a line cut short
    rep, _ = _both(monkeypatch, tmp, [_write(tmp / "in" / "runs.jsonl", lines)])
    assert rep["added"] >= 1 and len(rep["problems"]) == 1


@pytest.mark.parametrize("lines", [["{"], [dump_line(_traj(1)), "[1, 2]"]])
def test_a_file_of_bad_lines_reports_them_all(tmp_path, monkeypatch, lines):
    first = [dump_line(_traj(0))]
    rep, _ = _both(monkeypatch, tmp_path, [_write(tmp_path / "in" / "x.jsonl", first + lines)])
    assert rep["problems"]


def test_the_stage_is_gone_after_ingest_on_an_open_store(tmp_path, monkeypatch):
    """distill ingests on its own connection: no staging database or table stays on it."""
    from skillforge.ingest import ingest_into

    monkeypatch.setattr(native_sql, "UNIT_BYTES", 2000)  # several units: one staged ahead
    f = _write(tmp_path / "in" / "runs.jsonl", [dump_line(_traj(i)) for i in range(40)])
    settings = Settings.load(tmp_path / "home")
    con = connect(settings.db_path)
    try:
        rep = ingest_into(con, [f], settings=settings, show_progress=False)
        dbs = {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()")
               .fetchall()}
        n = con.execute("SELECT count(*) FROM trajectories").fetchone()[0]
    finally:
        con.close()
    assert rep.added == n == 40 and native_sql.STAGE not in dbs


@pytest.mark.parametrize("cores", [2, 16])
def test_duckdb_runs_on_the_cores_left_and_gets_its_setting_back(tmp_path, monkeypatch, cores):
    """While the units are read DuckDB has the cores the two ingest threads leave (at least
    one); the connection's own setting is back afterwards, for what distill does next."""
    from skillforge.ingest import ingest_into

    monkeypatch.setattr(native_sql, "UNIT_BYTES", 2000)
    monkeypatch.setattr(native_sql, "_cores", lambda: cores)
    seen: list[str] = []
    real = native_sql.NativeSQL._parse

    def spy(self, u, con):
        seen.append(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        return real(self, u, con)

    monkeypatch.setattr(native_sql.NativeSQL, "_parse", spy)
    f = _write(tmp_path / "in" / "runs.jsonl", [dump_line(_traj(i)) for i in range(40)])
    settings = Settings.load(tmp_path / "home")
    con = connect(settings.db_path)
    try:
        con.execute("SET threads = 8")
        rep = ingest_into(con, [f], settings=settings, show_progress=False)
        after = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    finally:
        con.close()
    assert rep.added == 40 and len(seen) > 1
    assert set(seen) == {1 if cores == 2 else 8} and after == 8


def test_a_unit_duckdb_cannot_read_goes_the_python_way(tmp_path, monkeypatch):
    monkeypatch.setattr(native_sql, "UNIT_BYTES", 2000)
    real = native_sql.NativeSQL.__init__

    def broken(self, *a, **kw):  # the second unit's statement fails in DuckDB
        real(self, *a, **kw)
        ok = self.sql

        class Flaky(str):  # (units are staged by several threads: told apart by table)
            def replace(self, old, new, *rest):
                return "SELECT no_such_function()" if new.endswith(".unit_1") else ok.replace(
                    old, new, *rest)

        self.sql = self.sql_checked = Flaky(ok)

    monkeypatch.setattr(native_sql.NativeSQL, "__init__", broken)
    f = _write(tmp_path / "in" / "runs.jsonl", [dump_line(_traj(i)) for i in range(12)])
    kept = _count_fast(monkeypatch)
    rep, _ = _both(monkeypatch, tmp_path, [f])
    assert rep["added"] == 12 and 0 < kept[0] < 12
