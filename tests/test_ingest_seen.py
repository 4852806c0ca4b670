"""An unchanged file is not parsed again; a changed one, or one ingested with labels, is."""

from __future__ import annotations

import importlib
import json
import os

from conftest import TAU_AIRLINE, need_shared
from helpers import write_native_runs

from skillforge import ingest
from skillforge._native_sql import NativeSQL
from skillforge.settings import Settings
from skillforge.store import connect

ING = importlib.import_module("skillforge.ingest")  # the module (skillforge.ingest is the function)


def _native(path, n, start=0):
    write_native_runs(path, n, start=start)


def _count_reads(monkeypatch):
    """The names of the files ingest parses: by the readers or by DuckDB (native JSONL)."""
    reads: list[str] = []
    real = ING.read_file
    real_parse = NativeSQL._parse

    def spy(path, ctx):
        reads.append(path.name)
        return real(path, ctx)

    def spy_parse(self, unit, con):
        reads.extend(dict.fromkeys(p.path.name for p in unit.pieces))
        return real_parse(self, unit, con)

    monkeypatch.setattr(ING, "read_file", spy)
    monkeypatch.setattr(NativeSQL, "_parse", spy_parse)
    return reads


def _summary(rep):
    return (rep.files, rep.files_ok, rep.trajectories, rep.steps, sorted(rep.trajectory_ids),
            rep.formats)


def test_unchanged_files_are_not_parsed_again(tmp_path, monkeypatch):
    need_shared()
    folder = tmp_path / "runs"
    folder.mkdir()
    _native(folder / "a.jsonl", 30)
    (folder / "tau.json").write_bytes((TAU_AIRLINE / "gpt-4o-airline.json").read_bytes())
    settings = Settings.load(tmp_path / "home")
    first = ingest([folder], settings=settings)
    assert first.added > 30 and first.duplicates == 0
    reads = _count_reads(monkeypatch)
    again = ingest([folder], settings=settings)
    assert reads == []  # neither file parsed
    assert _summary(again) == _summary(first)
    assert (again.added, again.duplicates) == (0, first.trajectories)
    # a file that grew is parsed again, the other is not
    _native(folder / "a.jsonl", 31)
    grown = ingest([folder], settings=settings)
    assert reads == ["a.jsonl"] and grown.added == 1
    # the same bytes with a new mtime: the head hash matches but the mtime does not
    st = (folder / "tau.json").stat()
    os.utime(folder / "tau.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    ingest([folder], settings=settings)
    assert reads == ["a.jsonl", "tau.json"]
    con = connect(settings.db_path, read_only=True)
    try:
        rows = con.execute("SELECT path_sha, len(ids) FROM ingested_files").fetchall()
    finally:
        con.close()
    assert sorted(n for _, n in rows) == sorted([31, first.trajectories - 30])
    assert all(len(p) == 64 and "runs" not in p for p, _ in rows)  # paths kept hashed


def test_labels_or_another_redaction_setting_parse_again(tmp_path, monkeypatch):
    f = tmp_path / "a.jsonl"
    _native(f, 10)
    settings = Settings.load(tmp_path / "home")
    ingest([f], settings=settings)
    reads = _count_reads(monkeypatch)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"task_id": "0", "success": True}]))
    ingest([f], settings=settings, labels=labels)
    assert reads == ["a.jsonl"]
    ingest([f], settings=settings, redact=False)
    assert reads == ["a.jsonl", "a.jsonl"]
    ingest([f], settings=settings, redact=False)  # now remembered unredacted too
    assert reads == ["a.jsonl", "a.jsonl"]


def test_a_file_with_problems_is_parsed_again(tmp_path, monkeypatch):
    f = tmp_path / "a.jsonl"
    _native(f, 5)
    with f.open("a") as fh:
        fh.write("{not json\n")
    settings = Settings.load(tmp_path / "home")
    first = ingest([f], settings=settings)
    reads = _count_reads(monkeypatch)
    again = ingest([f], settings=settings)
    assert reads == ["a.jsonl"]
    assert [p.reason for p in again.problems] == [p.reason for p in first.problems] != []
