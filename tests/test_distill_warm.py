"""A distill that reuses an earlier run's analysis loads nothing of the pipeline after ingest.

The stages load their modules when they first run (``skillforge.distill.PIPELINE``), ingest
tells an unchanged folder of JSONL apart without the readers, and the run record and the
report go to the secret detectors only when the pre-check says they may hold a secret: so a
warm ``skillforge distill`` imports none of mining, consolidation, verification, the git
library, Arrow or the detectors. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TAU_AIRLINE, need_shared
from helpers import cli

import skillforge.cli._distill as cli_distill
from skillforge import distill
from skillforge.cli._distill import plain_distill_args
from skillforge.ingest import read_file
from skillforge.settings import Settings
from skillforge.traces import ReadContext
from skillforge.traces.native import dump_line

# what a reused analysis must not import (the readers are checked apart)
HEAVY = ("pyarrow", "numpy", "git", "langgraph", "openai", "detect_secrets", "yaml",
         "skillforge.analyze.miner", "skillforge.analyze.stage", "skillforge.consolidate",
         "skillforge.verify", "skillforge.package.library", "skillforge.package.parse",
         "skillforge.package.stage", "skillforge.traces.redact", "skillforge.llm",
         "skillforge._native_parallel",
         "typer._adapters")  # plain `distill PATH --out --home` skips typer's parsing


def _jsonl_folder(tmp_path: Path, n: int, name: str = "in") -> Path:
    """The first ``n`` tau-bench airline runs as skillforge JSONL in a folder."""
    need_shared()
    d = tmp_path / name
    d.mkdir()
    _, trajs = read_file(TAU_AIRLINE / "gpt-4o-airline.json", ReadContext(report=print))
    lines = [dump_line(t.finalize()) for _, t in zip(range(n), trajs, strict=False)]
    (d / "runs.jsonl").write_text("\n".join(lines) + "\n")
    return d


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_warm_cli_distill_loads_none_of_the_pipeline(tmp_path, settings):
    d = _jsonl_folder(tmp_path, 100)
    lib = tmp_path / "lib"
    first = distill([d], settings=settings, out=lib, show_progress=False)
    assert first.skills and not first.reused_from
    code = (
        "import contextlib, io, json, sys\nfrom skillforge.cli import run\n"
        "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
        f"    rc = run(['distill', {str(d)!r}, '--out', {str(lib)!r}, '--home',"
        f" {str(settings.home)!r}])\n"
        "readers = [m for m in sys.modules if m.startswith('skillforge.traces.')\n"
        "           and not m.split('.')[-1].startswith('_') and m.split('.')[-1] not in\n"
        "           ('model', 'labels', 'native')]\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'rc': rc, 'out': buf.getvalue(), 'readers': readers,"
        " 'heavy': heavy}))")
    got = _fresh(code)
    assert got["rc"] == 0
    assert f"reused analysis of run {first.run_id}" in got["out"]
    for s in first.skills:
        assert s.name in got["out"]
    assert got["readers"] == [] and got["heavy"] == []


def test_reused_report_still_redacts_a_secret_in_the_input_path(tmp_path, settings):
    """The report files of a reused run keep secrets in paths out, as every report does."""
    key = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    d = _jsonl_folder(tmp_path, 40, name=f"runs-{key}")
    lib = tmp_path / "lib"
    first = distill([d], settings=settings, out=lib, show_progress=False)
    again = distill([d], settings=settings, out=lib, show_progress=False)
    assert again.reused_from == first.run_id
    for rep in (first, again):
        assert key not in Path(rep.markdown_path).read_text()
        assert key not in Path(rep.html_path).read_text()
        assert not any(key in p for p in rep.inputs)


def test_run_record_with_counts_only_skips_the_detectors_and_redacts_text():
    """The run record goes to the detectors only when a text in it may hold a secret; count
    names such as ``secrets_redacted`` do not send it there, a key in an error does."""
    code = (
        "import json, sys\nimport duckdb\n"
        "from skillforge.store.runs import RunRecord, load_run, save_run\n"
        "con = duckdb.connect()\n"
        "con.execute(\"CREATE TABLE runs (id VARCHAR, kind VARCHAR, schema_version INTEGER, "
        "status VARCHAR, config JSON, counts JSON, usage JSON, timings JSON, errors JSON, "
        "outputs JSON, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ)\")\n"
        "a = RunRecord(kind='distill', config={'paths': ['/data/runs']},\n"
        "              counts={'secrets_redacted': 2, 'tokens': 5, 'api_key_ok': True})\n"
        "save_run(con, a)\n"
        "before = 'detect_secrets' in sys.modules\n"
        "b = RunRecord(kind='distill', errors=['/data/x.json: token sk-proj-"
        "Q7xV2mT9kL4pR8sW1nB6yZ3c'])\n"
        "save_run(con, b)\n"
        "print(json.dumps({'before': before, 'a': load_run(con, a.id).counts,\n"
        "                  'b': load_run(con, b.id).errors}))")
    got = _fresh(code)
    assert got["before"] is False
    assert got["a"] == {"secrets_redacted": 2, "tokens": 5, "api_key_ok": True}
    assert "sk-proj-Q7xV2mT9kL4pR8sW1nB6yZ3c" not in got["b"][0] and "REDACTED" in got["b"][0]


def test_an_unchanged_json_folder_still_reuses(tmp_path, settings):
    """A folder of .json traces (which a format may read as sidecars or labels: the readers
    load to tell) still gets the earlier run's analysis, with the same report."""
    need_shared()
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.json").write_text(json.dumps(json.loads(
        (TAU_AIRLINE / "gpt-4o-airline.json").read_text())[:30]))
    lib = tmp_path / "lib"
    first = distill([d], settings=settings, out=lib, show_progress=False)
    again = distill([d], settings=Settings.load(settings.home), out=lib, show_progress=False)
    assert again.reused_from == first.run_id
    assert [(s.name, s.version) for s in again.skills] == \
        [(s.name, s.version) for s in first.skills]


def test_distill_default_pdi_threshold_matches_the_gate():
    """``skillforge.distill`` writes the gate's default out (importing ``verify`` for it would
    load the gate on a reused run too)."""
    import inspect

    from skillforge.distill import DEFAULT_PDI_THRESHOLD
    from skillforge.verify.gate import DEFAULT_PDI_THRESHOLD as GATE_DEFAULT

    assert DEFAULT_PDI_THRESHOLD == GATE_DEFAULT
    assert inspect.signature(distill).parameters["pdi_threshold"].default == GATE_DEFAULT


@pytest.mark.parametrize("argv", [
    ["distill", "runs"],
    ["distill", "a", "b", "--out", "lib"],
    ["distill", "--out=lib", "runs", "--home", "h", "--json"],
    ["distill", "--home=h", "runs"],
])
def test_plain_distill_command_lines(argv):
    got = plain_distill_args(argv)
    assert got is not None
    paths, out, home, json_out = got
    assert paths and all(isinstance(p, Path) and not str(p).startswith("-") for p in paths)
    assert json_out == ("--json" in argv)


@pytest.mark.parametrize("argv", [
    ["distill"], ["distill", "--out", "lib"], ["distill", "runs", "--help"],
    ["distill", "runs", "--out"], ["distill", "runs", "--out", "a", "--out", "b"],
    ["distill", "runs", "--out", "--json"], ["distill", "runs", "--out="],
    ["distill", "runs", "--json", "--json"], ["distill", "runs", "--llm", "m"],
    ["distill", "runs", "--no-reuse"], ["distill", "runs", "-q"], ["distill", "runs", ""],
    ["distill", "runs", "--"], ["--quiet", "distill", "runs"], ["traces", "stats"], [],
])
def test_other_distill_command_lines_go_to_typer(argv):
    assert plain_distill_args(argv) is None


def _same(text: str, ids: list[str]) -> str:
    for i, run_id in enumerate(ids):
        text = text.replace(run_id, f"<run {i}>")
    return re.sub(r"\(\d+\.\ds\)", "(s)", text)


def test_plain_distill_prints_what_typer_prints(tmp_path, settings, monkeypatch):
    d = _jsonl_folder(tmp_path, 60)
    args = ["distill", str(d), "--out", str(tmp_path / "lib"), "--home", str(settings.home)]
    first = cli(*args, "--json")
    assert first.code == 0, first.err
    first_id = json.loads(first.out)["run_id"]
    outs = {}
    for via in ("plain", "typer"):
        with monkeypatch.context() as mp:
            if via == "typer":
                mp.setattr(cli_distill, "plain_distill_args", lambda argv: None)
            text = cli(*args).out
            js = cli(*args, "--json").out
        assert f"reused analysis of run {first_id}" in text
        ids = [first_id, *re.findall(r"distill (\d{8}T\d{6}-[0-9a-f]{6}):", text),
               json.loads(js)["run_id"]]
        outs[via] = (_same(text, ids), _same(js, ids))
    assert outs["plain"] == outs["typer"]
