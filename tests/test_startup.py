"""Start-up stays light: the command line loads no pipeline, DuckDB or Arrow to start.

Each check runs in a fresh interpreter, so what other tests imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("duckdb", "pyarrow", "numpy", "git", "langgraph", "openai", "detect_secrets",
         "skillforge.consolidate", "skillforge.analyze", "skillforge.analyze.miner",
         "skillforge.distill", "skillforge.ingest", "skillforge.verify", "skillforge.store",
         "skillforge.traces.redact")


def _loaded_after(code: str) -> list[str]:
    probe = code + (f"\nimport sys, json\n"
                    f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_command_line_loads_no_heavy_module():
    assert _loaded_after("import skillforge.cli") == []


def test_help_loads_no_heavy_module():
    code = ("import contextlib, io\nfrom skillforge.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
            "    rc = run(['--help'])\n"
            "assert rc == 0 and 'distill' in buf.getvalue(), buf.getvalue()")
    assert _loaded_after(code) == []


def test_import_skillforge_is_light_and_names_load_on_use():
    assert _loaded_after("import skillforge") == []
    # the public names still resolve, and pull in their modules only then
    loaded = _loaded_after("from skillforge import ingest, Settings, SkillforgeError\n"
                           "assert callable(ingest) and Settings.__name__ == 'Settings'")
    assert "skillforge.ingest" in loaded and "skillforge.distill" not in loaded


def test_public_api_unchanged():
    import skillforge
    from skillforge.distill import DistillReport, distill
    from skillforge.ingest import IngestReport, ingest

    assert skillforge.distill is distill and skillforge.ingest is ingest
    import skillforge.ingest as again  # importing the module keeps the name on the function

    assert again is ingest and skillforge.ingest is ingest
    assert skillforge.DistillReport is DistillReport and skillforge.IngestReport is IngestReport
    assert set(skillforge.__all__) == {"DistillReport", "IngestReport", "Settings",
                                       "SkillforgeError", "__version__", "distill", "ingest"}
    assert all(hasattr(skillforge, n) for n in skillforge.__all__)


def test_distill_option_default_matches_the_gate():
    from skillforge.cli._distill import DEFAULT_PDI_THRESHOLD
    from skillforge.verify.gate import DEFAULT_PDI_THRESHOLD as GATE_DEFAULT

    assert DEFAULT_PDI_THRESHOLD == GATE_DEFAULT


def test_traces_stats_loads_no_pipeline(tmp_path):
    from skillforge.settings import Settings
    from skillforge.store import connect

    home = tmp_path / "home"
    connect(Settings.load(home).db_path).close()
    code = ("import contextlib, io\nfrom skillforge.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
            f"    rc = run(['traces', 'stats', '--home', {str(home)!r}])\n"
            "assert rc == 0 and 'trajectories' in buf.getvalue(), buf.getvalue()")
    loaded = _loaded_after(code)
    assert "duckdb" in loaded  # it reads the store
    assert not {"pyarrow", "skillforge.analyze", "skillforge.consolidate", "skillforge.verify",
                "skillforge.distill", "skillforge.traces.redact", "git"} & set(loaded)


def test_traces_stats_with_kept_counts_loads_no_duckdb_nor_pydantic(tmp_path, monkeypatch):
    """Once the counts are kept (skillforge.store.stats_cache), `traces stats` answers from
    them: no DuckDB, and no pydantic (neither the settings model nor typer's option adapters)."""
    from skillforge.settings import Settings
    from skillforge.store import connect
    from skillforge.store import stats_cache as sc

    home = tmp_path / "home"
    db = Settings.load(home).db_path
    connect(db).close()
    monkeypatch.setattr(sc, "SETTLE_S", 0.0)  # the new store file counts as settled at once
    sc.store_stats(db)
    assert sc.cached_stats(db) is not None
    code = ("import contextlib, io, sys\nfrom skillforge.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
            f"    rc = run(['traces', 'stats', '--home', {str(home)!r}])\n"
            "assert rc == 0 and 'trajectories' in buf.getvalue(), buf.getvalue()\n"
            "late = [m for m in ('pydantic', 'typer._adapters', 'skillforge.settings',\n"
            "                    'skillforge.store._db') if m in sys.modules]\n"
            "assert not late, late")
    # the store package itself loads (its names are lazy); nothing behind it does
    assert set(_loaded_after(code)) <= {"skillforge.store"}
