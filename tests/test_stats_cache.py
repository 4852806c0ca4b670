"""`traces stats` answers from kept counts only while the store file is unchanged, and its
quick path (no typer option parsing) prints what the typer command prints. The writers keep
the counts of what they wrote, so the first `traces stats` after `ingest` needs no DuckDB."""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import cli

from skillforge.cli import app
from skillforge.cli._traces import plain_stats_args
from skillforge.settings import Settings
from skillforge.store import connect, home_lock, stats
from skillforge.store import stats_cache as sc


def _chat(path: Path, n: int, tool: str = "cancel_reservation") -> None:
    runs = []
    for i in range(n):
        runs.append({"task_id": i, "reward": float(i % 2), "info": {}, "traj": [
            {"role": "user", "content": f"Cancel reservation R{i:04d} of {path.stem}."},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": f"c{i}", "type": "function", "function": {
                    "name": tool, "arguments": json.dumps({"reservation_id": f"R{i:04d}"})}}]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": "cancelled"},
            {"role": "assistant", "content": "Done."}]})
    path.write_text(json.dumps(runs))


def _duckdb_stats(db: Path) -> dict:
    con = connect(db, read_only=True)
    try:
        return stats(con)
    finally:
        con.close()


@pytest.fixture
def store(tmp_path, settings, monkeypatch):
    _chat(tmp_path / "a.json", 6)
    assert cli("ingest", "--home", str(settings.home), str(tmp_path / "a.json")).code == 0
    assert sc.cached_stats(settings.db_path) is not None  # kept by ingest
    sc.forget(settings.db_path)  # these tests start from a reader that finds none kept
    monkeypatch.setattr(sc, "SETTLE_S", 0.0)  # the store file counts as settled at once
    return settings.db_path


def test_counts_are_kept_and_match_duckdb(store):
    assert sc.cached_stats(store) is None
    first = sc.store_stats(store)
    assert first == _duckdb_stats(store) and first["trajectories"] == 6
    assert (store.parent / sc.STATS_FILE).exists()
    assert sc.cached_stats(store) == first


def test_a_store_write_makes_the_kept_counts_stale(store, tmp_path, settings):
    sc.store_stats(store)
    _chat(tmp_path / "b.json", 4, tool="book_reservation")
    assert cli("ingest", "--home", str(settings.home), str(tmp_path / "b.json")).code == 0
    now = sc.cached_stats(store)  # the reader's counts went; ingest kept its own
    assert now == _duckdb_stats(store) and now["trajectories"] == 10
    assert now["tools"]["book_reservation"] == 4
    # a read-write connection drops them before it writes anything
    connect(store).close()
    assert not (store.parent / sc.STATS_FILE).exists()
    assert sc.store_stats(store) == now


def test_a_write_that_keeps_size_and_times_is_still_seen(store):
    """A file put in the store's place (same size, times set back) is another file."""
    sc.store_stats(store)
    st = store.stat()
    copy = store.with_name("copy.duckdb")
    shutil.copy2(store, copy)
    os.replace(copy, store)
    os.utime(store, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert store.stat().st_size == st.st_size and store.stat().st_mtime_ns == st.st_mtime_ns
    assert sc.cached_stats(store) is None


def test_nothing_is_kept_when_it_could_be_wrong(store, settings, monkeypatch):
    # a write-ahead log: a writer is (or was) in the middle of something
    wal = Path(f"{store}.wal")
    wal.write_bytes(b"")
    assert sc.store_stats(store) == _duckdb_stats(store)
    assert not (store.parent / sc.STATS_FILE).exists()
    wal.unlink()
    # the file changed too recently for its times to tell a later write apart
    monkeypatch.setattr(sc, "SETTLE_S", 1e9)
    sc.store_stats(store)
    assert not (store.parent / sc.STATS_FILE).exists()
    monkeypatch.setattr(sc, "SETTLE_S", 0.0)
    # a writer holds the home: a reader sees its snapshot, not the live file
    with home_lock(settings.home, what="test"):
        sc.store_stats(store)
        assert not (store.parent / sc.STATS_FILE).exists()
    # the lock's holder counts the store as it lets it go
    assert sc.cached_stats(store) == _duckdb_stats(store)
    sc.forget(store)
    sc.store_stats(store)
    assert sc.cached_stats(store) is not None


def test_a_damaged_cache_is_ignored(store):
    (store.parent / sc.STATS_FILE).write_text("{not json")
    assert sc.cached_stats(store) is None
    assert sc.store_stats(store) == _duckdb_stats(store)
    assert sc.cached_stats(store) is not None


def _typer(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rv = app(args=list(args), standalone_mode=False, prog_name="skillforge")
    return (rv if isinstance(rv, int) else 0), out.getvalue()


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_quick_path_prints_what_the_command_prints(store, settings, monkeypatch, extra):
    home = str(settings.home)
    for argv in (["traces", "stats", *extra, "--home", home],
                 ["traces", "stats", f"--home={home}", *extra]):
        assert plain_stats_args(argv) is not None
        quick = cli(*argv)
        assert quick.code == 0 and quick.out == _typer(*argv)[1], argv
    monkeypatch.setenv("SKILLFORGE_HOME", home)  # the option's environment variable
    assert cli("traces", "stats", *extra).out == _typer("traces", "stats", *extra)[1]
    assert "trajectories" in cli("traces", "stats", *extra).out


def test_other_command_lines_go_to_typer(tmp_path):
    for argv in (["traces", "stats", "--help"], ["traces", "stats", "--bogus"],
                 ["traces", "stats", "--json", "--json"], ["traces", "stats", "--home"],
                 ["traces", "stats", "--home", "a", "--home", "b"], ["traces", "stats", "--home="],
                 ["-q", "traces", "stats"], ["traces", "list"]):
        assert plain_stats_args(argv) is None, argv
    assert "Counts of trajectories" in cli("traces", "stats", "--help").out
    assert cli("traces", "stats", "--bogus").code != 0
    # no store yet: the same clear error either way
    r = cli("traces", "stats", "--home", str(tmp_path / "none"))
    assert r.code != 0 and "no store yet" in r.err


def test_settings_and_quick_path_agree_on_the_store(tmp_path, monkeypatch):
    from skillforge._home import store_path

    monkeypatch.setenv("SKILLFORGE_HOME", str(tmp_path / "h"))
    assert store_path() == Settings.load().db_path
    assert store_path(tmp_path / "x") == Settings.load(tmp_path / "x").db_path
    monkeypatch.delenv("SKILLFORGE_HOME")
    assert store_path() == Settings.load().db_path


# --- counts kept by the writers -----------------------------------------------------------

def _fresh_stats(home: Path) -> tuple[dict, bool]:
    """``traces stats --json`` in a new interpreter: what it printed, and whether it loaded
    DuckDB (the kept counts answer without it)."""
    code = ("import contextlib, io, json, sys\nfrom skillforge.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
            f"    rc = run(['traces', 'stats', '--json', '--home', {str(home)!r}])\n"
            "assert rc == 0, rc\n"
            "print(json.dumps([buf.getvalue(), 'duckdb' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    printed, duck = json.loads(out.stdout.strip().splitlines()[-1])
    assert printed == json.dumps(json.loads(printed), indent=2) + "\n"
    return json.loads(printed), duck


def _ingest(home: Path, path: Path) -> None:
    assert cli("ingest", "--home", str(home), str(path)).code == 0


def test_the_first_stats_after_ingest_needs_no_duckdb_and_prints_the_same(tmp_path, settings):
    _chat(tmp_path / "a.json", 6)
    _ingest(settings.home, tmp_path / "a.json")
    kept, duck = _fresh_stats(settings.home)
    assert not duck
    assert kept == _duckdb_stats(settings.db_path) and kept["trajectories"] == 6
    sc.forget(settings.db_path)  # the same command without kept counts: DuckDB
    read, duck = _fresh_stats(settings.home)
    assert duck and read == kept


def test_a_second_ingest_shows_its_counts_at_once(tmp_path, settings):
    _chat(tmp_path / "a.json", 6)
    _ingest(settings.home, tmp_path / "a.json")
    first, _ = _fresh_stats(settings.home)
    _chat(tmp_path / "b.json", 4, tool="book_reservation")
    _ingest(settings.home, tmp_path / "b.json")
    now, duck = _fresh_stats(settings.home)
    assert not duck and now != first
    assert now == _duckdb_stats(settings.db_path)
    assert now["trajectories"] == 10 and now["tools"] == {"cancel_reservation": 6,
                                                          "book_reservation": 4}


def test_a_writer_that_fails_half_way_leaves_no_counts(tmp_path, settings, monkeypatch):
    ingest_mod = sys.modules["skillforge.ingest"]
    _chat(tmp_path / "a.json", 6)
    _ingest(settings.home, tmp_path / "a.json")
    assert sc.cached_stats(settings.db_path) is not None
    real = ingest_mod.ingest_into

    def fails_after_writing(con, *args, **kwargs):
        real(con, *args, **kwargs)
        raise RuntimeError("boom")

    monkeypatch.setattr(ingest_mod, "ingest_into", fails_after_writing)
    _chat(tmp_path / "b.json", 4, tool="book_reservation")
    with pytest.raises(RuntimeError):
        ingest_mod.ingest([tmp_path / "b.json"], settings=settings)
    assert not (settings.db_path.parent / sc.STATS_FILE).exists()
    now, duck = _fresh_stats(settings.home)
    assert duck and now == _duckdb_stats(settings.db_path) and now["trajectories"] == 10


def test_a_writer_killed_half_way_leaves_no_counts(tmp_path, settings):
    _chat(tmp_path / "a.json", 6)
    _ingest(settings.home, tmp_path / "a.json")
    assert sc.cached_stats(settings.db_path) is not None
    _chat(tmp_path / "b.json", 4, tool="book_reservation")
    code = ("import os, sys\nfrom pathlib import Path\nimport skillforge.ingest\n"
            "from skillforge.settings import Settings\n"
            "m = sys.modules['skillforge.ingest']\nreal = m.ingest_into\n"
            "def dies(con, *a, **k):\n    real(con, *a, **k)\n    os._exit(9)\n"
            "m.ingest_into = dies\n"
            f"m.ingest([Path({str(tmp_path / 'b.json')!r})], "
            f"settings=Settings.load(Path({str(settings.home)!r})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 9, out.stderr
    assert not (settings.db_path.parent / sc.STATS_FILE).exists()
    now, duck = _fresh_stats(settings.home)
    assert duck and now["trajectories"] == 10 and now == _duckdb_stats(settings.db_path)


def test_a_store_changed_by_plain_duckdb_is_not_answered_from_old_counts(tmp_path, settings):
    import duckdb

    _chat(tmp_path / "a.json", 6)
    _ingest(settings.home, tmp_path / "a.json")
    old = sc.cached_stats(settings.db_path)
    assert old is not None and old["unlabeled"] == 0
    size = settings.db_path.stat().st_size
    con = duckdb.connect(str(settings.db_path))  # not skillforge: nothing is dropped
    try:
        con.execute("UPDATE trajectories SET success = NULL")
        # enough new data that the file grows, whatever its times' clock tick
        con.execute("CREATE TABLE outside AS SELECT md5(range::VARCHAR) AS h FROM range(200000)")
    finally:
        con.close()
    assert settings.db_path.stat().st_size != size
    assert (settings.db_path.parent / sc.STATS_FILE).exists()  # still there, but stale
    assert sc.cached_stats(settings.db_path) is None
    now, duck = _fresh_stats(settings.home)
    assert duck and now["unlabeled"] == 6 and now == _duckdb_stats(settings.db_path)


def test_counting_never_fails_the_writer(tmp_path, settings, monkeypatch):
    import skillforge.store._stats_file as stats_file

    def broken(con):
        raise RuntimeError("no counts")

    monkeypatch.setattr(stats_file, "stats", broken)
    _chat(tmp_path / "a.json", 6)
    _ingest(settings.home, tmp_path / "a.json")
    assert not (settings.db_path.parent / sc.STATS_FILE).exists()
    monkeypatch.undo()
    # a connection of the writer still open when it lets the lock go: nothing is counted
    with home_lock(settings.home, what="test"):
        con = connect(settings.db_path)
    try:
        assert not (settings.db_path.parent / sc.STATS_FILE).exists()
    finally:
        con.close()
    # a home it may not write to (mkstemp fails): no counts, no error
    monkeypatch.setattr("tempfile.mkstemp", lambda **kw: (_ for _ in ()).throw(OSError("ro")))
    assert sc.keep_after_write(settings.db_path) is False
    monkeypatch.undo()
    assert sc.keep_after_write(settings.db_path) is True
    assert sc.cached_stats(settings.db_path) == _duckdb_stats(settings.db_path)
