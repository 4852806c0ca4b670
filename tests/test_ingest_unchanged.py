"""An unchanged folder is told apart without the readers, and says what parsing it would say.

Ingest skips a file whose size, mtime and head hash are what an earlier ingest saw
(``skillforge._ingest_seen``). Before it gets there it asks of every file whether a format
reads it as a sidecar: the readers (and the plugins) load for that only when some format may
(``traces.unloaded_sidecar_names``): a folder of unchanged JSONL loads none of them.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_native_runs

from skillforge import ingest
from skillforge.settings import Settings
from skillforge.traces import BUILTIN_SIDECAR_SUFFIXES, formats

REG = importlib.import_module("skillforge.traces._registry")


def _native(path: Path, n: int, word: str = "task") -> None:
    write_native_runs(path, n, word=word)


def _summary(rep):
    return (rep.files, rep.files_ok, rep.sidecars, rep.trajectories, rep.steps,
            sorted(rep.trajectory_ids), rep.formats, rep.ignored_files, rep.outcomes.to_dict())


def test_builtin_sidecar_names_end_in_the_listed_suffixes():
    names = {n for f in formats().values() for n in getattr(f, "sidecar_names", ())}
    assert names  # ATIF, mini-swe-agent and the Parquet export name theirs
    assert {Path(n).suffix.lower() for n in names} <= BUILTIN_SIDECAR_SUFFIXES


def test_unchanged_jsonl_folder_loads_no_reader(tmp_path):
    """In a fresh interpreter: the second ingest of a folder of JSONL (and a README) imports
    no reader module (not even the native one), nor Arrow, nor the detectors."""
    folder = tmp_path / "runs"
    folder.mkdir()
    _native(folder / "a.jsonl", 20)
    _native(folder / "b.ndjson", 5, word="other")
    (folder / "README.md").write_text("# runs\n")
    home = tmp_path / "home"
    first = ingest([folder], settings=Settings.load(home))
    assert (first.added, first.ignored_files) == (25, [str(folder / "README.md")])
    readers = sorted(REG._builtin_modules())
    code = (
        "import json, sys\nfrom skillforge import Settings, ingest\n"
        f"rep = ingest([{str(folder)!r}], settings=Settings.load({str(home)!r}))\n"
        f"readers = [m for m in {readers!r} if m in sys.modules]\n"
        "heavy = [m for m in ('pyarrow', 'detect_secrets', 'skillforge.traces.redact',\n"
        "         'skillforge._native_parallel', 'skillforge._native_sql',\n"
        "         'skillforge.traces._signals') if m in sys.modules]\n"
        "print(json.dumps([rep.added, rep.duplicates, rep.files_ok, rep.ignored_files,\n"
        "                  readers, heavy]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    added, dup, ok, ignored, loaded, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert (added, dup, ok, ignored) == (0, 25, 2, [str(folder / "README.md")])
    assert loaded == [] and heavy == []


def test_unchanged_folder_reports_what_parsing_again_reports(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    _native(folder / "a.jsonl", 12)
    (folder / "notes.txt").write_text("not a trace\n")
    settings = Settings.load(tmp_path / "home")
    first = ingest([folder], settings=settings)
    again = ingest([folder], settings=settings)  # every file unchanged
    assert _summary(again) == _summary(first)
    assert (again.added, again.duplicates, again.problems) == (0, 12, [])


def test_same_size_and_mtime_other_head_is_read_again(tmp_path):
    """A file rewritten with other bytes of the same length, its mtime put back, is read
    again (the head hash differs), as before the shortcut."""
    f = tmp_path / "a.jsonl"
    _native(f, 6, word="task")
    settings = Settings.load(tmp_path / "home")
    first = ingest([f], settings=settings)
    st = f.stat()
    _native(f, 6, word="kast")  # same length, other content
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    again = ingest([f], settings=settings)
    assert again.added == 6 and set(again.trajectory_ids).isdisjoint(first.trajectory_ids)


class _ClaimsJsonl:
    """A format registered by hand that reads ``a.jsonl`` as its sidecar."""

    name = "claims-jsonl"
    sidecar_names = frozenset({"a.jsonl"})

    def sniff(self, probe):
        return 0.0

    def read(self, probe, ctx):
        return iter(())


@pytest.mark.parametrize("how", ["registered by hand", "entry-point plugin"])
def test_a_format_naming_the_file_still_gets_it(tmp_path, monkeypatch, how):
    """With the readers not loaded yet, a hand-registered format or an installed plugin that
    names the file as its sidecar still decides, as when every ingest loaded the readers."""
    f = tmp_path / "runs" / "a.jsonl"
    f.parent.mkdir()
    _native(f, 4)
    settings = Settings.load(tmp_path / "home")
    assert ingest([f.parent], settings=settings).added == 4
    monkeypatch.setattr(REG, "_FORMATS", dict(REG._FORMATS))
    monkeypatch.setattr(REG, "_loaded", False)
    if how == "registered by hand":
        REG.register_format(_ClaimsJsonl)
    else:
        class _EP:
            def load(self):
                return _ClaimsJsonl

        monkeypatch.setattr(REG, "entry_points", lambda group: [_EP()])
    again = ingest([f.parent], settings=settings)
    assert (again.sidecars, again.files, again.trajectories) == (1, 0, 0)
    assert "claims-jsonl" in REG._FORMATS
