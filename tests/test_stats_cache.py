"""`traces stats` answers from kept counts only while the store file is unchanged, and its
quick path (no typer option parsing) prints what the typer command prints."""

import contextlib
import io
import json
import os
import shutil
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
    assert sc.cached_stats(store) is None
    now = sc.store_stats(store)
    assert now == _duckdb_stats(store) and now["trajectories"] == 10
    assert now["tools"]["book_reservation"] == 4


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
