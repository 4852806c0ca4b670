"""Large skillforge JSONL files are ingested by worker processes: same store, same report.

Workers take native files that DuckDB does not read (``_native_sql``: labels to apply, say);
these tests turn DuckDB's path off to compare the workers with the Python path in one process.
"""

import json

import skillforge._native_parallel as par
import skillforge._native_sql as native_sql
from skillforge import ingest
from skillforge.settings import Settings
from skillforge.store import connect
from skillforge.traces import Source, Step, Trajectory
from skillforge.traces.native import dump_line

ROWS = ("SELECT id, format, source_file, source_line, task_id, task, success, reward, n_steps, "
        "meta FROM trajectories ORDER BY id")
STEPS = "SELECT * FROM steps ORDER BY trajectory_id, idx"


def _file(path):
    lines = []
    for i in range(300):
        steps = [Step(index=0, role="user", kind="message", text=f"task {i}"),
                 Step(index=1, role="assistant", kind="tool_call", tool_name="get",
                      tool_args={"id": i, "token": "ghp_" + "a" * 36 if i == 7 else "x"},
                      text=f"get({i})"),
                 Step(index=2, role="tool", kind="observation", text=f"ok {i}")]
        t = Trajectory(source=Source(format="skillforge", file="gen"), task_id=str(i % 40),
                       task=f"task {i}", steps=steps)
        t.outcome.success = i % 3 == 0
        lines.append(dump_line(t.finalize()))
    lines.insert(50, "{not json")
    lines.insert(120, lines[10])  # the same trajectory twice
    path.write_text("\n".join(lines) + "\n")


def _dump(settings):
    con = connect(settings.db_path, read_only=True)
    try:
        return con.execute(ROWS).fetchall(), con.execute(STEPS).fetchall()
    finally:
        con.close()


def test_parallel_ingest_matches_the_single_process_path(tmp_path, monkeypatch):
    monkeypatch.setattr(native_sql, "ENABLED", False)
    f = tmp_path / "runs.jsonl"
    _file(f)
    serial = Settings.load(tmp_path / "serial")
    rep_s = ingest([f], settings=serial)
    monkeypatch.setattr(par, "MIN_FILE_BYTES", 1)
    monkeypatch.setattr(par, "CHUNK_BYTES", 8 << 10)  # many small chunks
    assert par.worth_it(f) and len(list(par._chunks(f))) > 3
    parallel = Settings.load(tmp_path / "parallel")
    rep_p = ingest([f], settings=parallel)
    assert (rep_p.added, rep_p.duplicates, rep_p.steps) == (rep_s.added, rep_s.duplicates,
                                                            rep_s.steps) == (300, 1, 903)
    assert [(p.line, p.reason) for p in rep_p.problems] == [
        (p.line, p.reason) for p in rep_s.problems] and rep_p.problems[0].line == 51
    assert rep_p.redactions == rep_s.redactions == {"github-token": 1}
    assert rep_p.trajectory_ids == rep_s.trajectory_ids
    assert _dump(parallel) == _dump(serial)
    again = ingest([f], settings=parallel)
    assert (again.added, again.duplicates) == (0, 301)
    assert "ghp_" not in json.dumps(_dump(parallel), default=str)


def test_unguarded_scripts_stay_in_one_process(tmp_path, monkeypatch):
    import sys
    import types

    guarded = tmp_path / "guarded.py"
    guarded.write_text("import skillforge\nif __name__ == '__main__':\n    skillforge.ingest([])\n")
    unguarded = tmp_path / "unguarded.py"
    unguarded.write_text("import skillforge\nskillforge.ingest(['runs/'])\n")
    for path, safe in ((guarded, True), (unguarded, False)):
        fake = types.ModuleType("__main__")
        fake.__file__ = str(path)
        monkeypatch.setitem(sys.modules, "__main__", fake)
        assert par.main_is_import_safe() is safe
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # python -c
    assert par.main_is_import_safe() is True


def test_many_small_files_go_to_one_pool_by_total_size(tmp_path, monkeypatch):
    import importlib

    ing = importlib.import_module("skillforge.ingest")  # the module (the package's name is
    # the function)
    monkeypatch.setattr(native_sql, "ENABLED", False)

    folder = tmp_path / "runs"
    folder.mkdir()
    _file(folder / "a.jsonl")
    _file(folder / "b.jsonl")  # the same runs again: duplicates across files
    (folder / "c.json").write_text(json.dumps([{"role": "user", "content": "hi"},
                                               {"role": "assistant", "content": "hello"}]))
    _file(folder / "d.jsonl")
    serial = Settings.load(tmp_path / "serial")
    rep_s = ingest([folder], settings=serial)
    size = (folder / "a.jsonl").stat().st_size
    files = sorted(folder.iterdir())
    assert par.parallel_groups(files, ing._is_native) == []  # below the total: one process
    monkeypatch.setattr(par, "MIN_FILE_BYTES", 2 * size)  # no single file is enough
    groups = par.parallel_groups(files, ing._is_native)
    assert groups == [[folder / "a.jsonl", folder / "b.jsonl"]]  # d alone is too small
    calls = []
    real = ing.ingest_native_files

    def spy(con, paths, **kw):
        calls.append([p.name for p in paths])
        return real(con, paths, **kw)

    monkeypatch.setattr(ing, "ingest_native_files", spy)
    parallel = Settings.load(tmp_path / "parallel")
    rep_p = ingest([folder], settings=parallel)
    assert calls == [["a.jsonl", "b.jsonl"]]
    assert (rep_p.files, rep_p.files_ok, rep_p.added, rep_p.duplicates, rep_p.steps) == (
        rep_s.files, rep_s.files_ok, rep_s.added, rep_s.duplicates, rep_s.steps)
    # 300 distinct runs (+ the chat file's one); each .jsonl holds 301 lines of them
    assert rep_p.added == 300 + 1 and rep_p.duplicates == 3 * 301 - 300
    assert [(p.file, p.line, p.reason) for p in rep_p.problems] == [
        (p.file, p.line, p.reason) for p in rep_s.problems]
    assert rep_p.trajectory_ids == rep_s.trajectory_ids
    assert rep_p.formats == rep_s.formats
    assert _dump(parallel) == _dump(serial)
