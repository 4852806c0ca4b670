"""``traces export --parquet``: Hive-partitioned Parquet that DuckDB reads and ingest reads back."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, TAU_AIRLINE, need_shared
from helpers import cli

TRAJ_COLS = ("id, format, source_file, source_line, source_record, task_id, task, agent, model, "
             "attempt, success, reward, outcome_detail, n_steps, input_tokens, output_tokens, "
             "cost, started_at, ended_at, meta::VARCHAR")
STEP_COLS = ("trajectory_id, idx, role, kind, text, tool_name, tool_args::VARCHAR, call_id, "
             "is_error, ts, tokens")


def _home(monkeypatch, path: Path) -> Path:
    monkeypatch.setenv("SKILLFORGE_HOME", str(path))
    return path


def _differ(a: Path, b: Path, table: str, cols: str) -> tuple[int, int]:
    """Rows of ``table`` in store ``a`` and not in ``b``, and the other way round."""
    con = duckdb.connect(str(a), read_only=True)
    try:
        con.execute(f"ATTACH '{b}' AS other (READ_ONLY)")
        one = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {table} EXCEPT ALL "
                          f"SELECT {cols} FROM other.{table})").fetchone()[0]
        two = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM other.{table} EXCEPT ALL "
                          f"SELECT {cols} FROM {table})").fetchone()[0]
        return one, two
    finally:
        con.close()


def test_export_reads_back_to_the_same_trajectories_and_steps(tmp_path, monkeypatch):
    src = _home(monkeypatch, tmp_path / "src")
    assert cli("ingest", str(REPO / "traces")).code == 0
    out = tmp_path / "export"
    res = cli("traces", "export", "--parquet", str(out), "--json")
    assert res.code == 0, res.err
    rep = json.loads(res.out)
    con = duckdb.connect(str(src / "store.duckdb"), read_only=True)
    n_traj, n_steps = con.execute(
        "SELECT (SELECT count(*) FROM trajectories), (SELECT count(*) FROM steps)").fetchone()
    by_format = dict(con.execute("SELECT format, count(*) FROM trajectories GROUP BY 1"
                                 ).fetchall())
    con.close()
    assert (rep["trajectories"], rep["steps"]) == (n_traj, n_steps) and n_traj > 300
    manifest = json.loads((out / "skillforge-export.json").read_text())
    assert manifest["partition_by"] == ["source_format", "bucket"]
    assert {p.name.split("=")[0] for p in (out / "trajectories").iterdir()} == {"source_format"}
    # plain DuckDB reads the partitions, the partition columns coming from the paths
    q = duckdb.connect()
    glob = f"{out}/trajectories/**/*.parquet"
    got = dict(q.execute(f"SELECT source_format, count(*) FROM read_parquet('{glob}', "
                         "hive_partitioning = true) GROUP BY 1").fetchall())
    assert got == by_format
    buckets = {r[0] for r in q.execute(f"SELECT DISTINCT bucket FROM read_parquet('{glob}', "
                                       "hive_partitioning = true)").fetchall()}
    assert buckets <= set(range(16)) and len(buckets) > 8
    steps = q.execute(f"SELECT count(*) FROM read_parquet('{out}/steps/**/*.parquet', "
                      "hive_partitioning = true)").fetchone()[0]
    assert steps == n_steps

    dst = _home(monkeypatch, tmp_path / "dst")
    res = cli("ingest", str(out), "--json")
    assert res.code == 0, res.err
    back = json.loads(res.out)
    assert back["added"] == n_traj and back["steps"] == n_steps
    assert back["formats"] == by_format  # each run keeps the format it was first read from
    assert back["ignored_files"] == []  # the data files belong to the manifest
    for table, cols in (("trajectories", TRAJ_COLS), ("steps", STEP_COLS),
                        ("signals", "trajectory_id, score, kinds::VARCHAR")):
        assert _differ(src / "store.duckdb", dst / "store.duckdb", table, cols) == (0, 0)
    again = json.loads(cli("ingest", str(out), "--json").out)
    assert again["added"] == 0 and again["duplicates"] == n_traj


def test_exports_of_two_stores_ingest_into_one(tmp_path, monkeypatch):
    need_shared()
    shared = tmp_path / "shared"
    for name, path in (("a", REPO / "traces" / "openai-chat"), ("b", TAU_AIRLINE)):
        _home(monkeypatch, tmp_path / name)
        assert cli("ingest", str(path)).code == 0
        assert cli("traces", "export", "--parquet", str(shared / name)).code == 0
    _home(monkeypatch, tmp_path / "all")
    rep = json.loads(cli("ingest", str(shared), "--json").out)
    assert rep["files_ok"] == 2 and rep["added"] == 3 + 200
    stats = json.loads(cli("traces", "stats", "--json").out)
    assert stats["trajectories"] == 203 and stats["formats"] == {"tau-bench": 200,
                                                                  "openai-chat": 3}


def test_export_refuses_a_folder_that_holds_files(tmp_path, monkeypatch):
    _home(monkeypatch, tmp_path / "home")
    assert cli("ingest", str(REPO / "traces" / "openai-chat")).code == 0
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    res = cli("traces", "export", "--parquet", str(tmp_path / "out"))
    assert res.code == 1 and "is not an empty folder" in res.err
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_an_unfinished_or_damaged_export_is_reported_not_half_read(tmp_path, monkeypatch):
    _home(monkeypatch, tmp_path / "home")
    assert cli("ingest", str(REPO / "traces")).code == 0
    out = tmp_path / "export"
    assert cli("traces", "export", "--parquet", str(out)).code == 0
    # steps of one partition lost: those runs are reported and skipped, the rest is read
    part = sorted((out / "steps").glob("source_format=skillforge/bucket=*"))[0]
    lost = duckdb.connect().execute(
        f"SELECT count(DISTINCT trajectory_id) FROM read_parquet('{part}/*.parquet')"
    ).fetchone()[0]
    for f in part.glob("*.parquet"):
        f.unlink()
    _home(monkeypatch, tmp_path / "dst")
    res = cli("ingest", str(out), "--json")
    assert res.code == 2
    rep = json.loads(res.out)
    assert len(rep["problems"]) == lost and lost > 0
    assert all("steps are in the export; skipped" in p["reason"] for p in rep["problems"])
    # no manifest (an export still being written): not an input at all
    (out / "skillforge-export.json").unlink()
    _home(monkeypatch, tmp_path / "dst2")
    rep = json.loads(cli("ingest", str(out), "--json").out)
    assert rep["trajectories"] == 0


@pytest.mark.parametrize("buckets", [0, -3])
def test_buckets_must_be_positive(tmp_path, monkeypatch, buckets):
    _home(monkeypatch, tmp_path / "home")
    assert cli("ingest", str(REPO / "traces" / "openai-chat")).code == 0
    res = cli("traces", "export", "--parquet", str(tmp_path / "o"), "--buckets", str(buckets))
    assert res.code == 1 and "--buckets must be at least 1" in res.err
