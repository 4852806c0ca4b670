"""A distill on unchanged inputs and settings reuses the previous analysis; any change does not."""

import json
import subprocess
from pathlib import Path

import git
import pytest
from conftest import TAU_AIRLINE, need_shared

import skillforge
import skillforge.analyze
from skillforge import distill
from skillforge.settings import Settings
from skillforge.store import connect, load_run

REUSED = "reused analysis of run {} (inputs and settings unchanged)"


def _runs(n: int) -> list[dict]:
    need_shared()
    return json.loads((TAU_AIRLINE / "gpt-4o-airline.json").read_text())[:n]


def _folder(tmp_path: Path, n: int) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.json").write_text(json.dumps(_runs(n)))
    return d


def _mined(settings: Settings, run_id: str) -> bool:
    """Whether the run went through the miner (its record has the stage's timing)."""
    con = connect(settings.db_path, read_only=True)
    try:
        run = load_run(con, run_id)
    finally:
        con.close()
    assert run is not None and run.ended_at is not None
    return "mine" in run.timings


def _library(lib: Path) -> tuple[str, set[str], dict[str, bytes]]:
    repo = git.Repo(lib)
    files = {str(f.relative_to(lib)): f.read_bytes() for f in sorted(lib.rglob("*"))
             if f.is_file() and ".git" not in f.parts}
    return repo.head.commit.hexsha, {t.name for t in repo.tags}, files


def test_unchanged_input_reuses_the_analysis_and_commits_nothing(tmp_path, settings):
    d = _folder(tmp_path, 100)
    lib = tmp_path / "lib"
    first = distill([d], settings=settings, out=lib, show_progress=False)
    assert first.skills and {s.status for s in first.skills} == {"created"}
    before = _library(lib)

    again = distill([d], settings=settings, out=lib, show_progress=False)
    assert again.reused_from == first.run_id and again.run_id != first.run_id
    assert _library(lib) == before  # same commit, same tags, same files: no new version
    assert {s.status for s in again.skills} == {"unchanged"}
    assert [(s.name, s.version, s.package) for s in again.skills] == \
        [(s.name, s.version, s.package) for s in first.skills]
    assert again.rejected_lessons == first.rejected_lessons
    assert again.heldout_gate == first.heldout_gate
    for k in ("lessons", "heldout_kept", "heldout_rejected", "skills", "trajectories_in_store"):
        assert again.counts.get(k) == first.counts.get(k), k
    assert again.counts["skills_changed"] == 0 and again.counts["trajectories_new"] == 0
    assert REUSED.format(first.run_id) in again.notes
    assert REUSED.format(first.run_id) in Path(again.markdown_path).read_text()
    assert f"reused analysis of run {first.run_id}" in again.summary()
    assert again.exit_code == 0
    assert not _mined(settings, again.run_id)
    con = connect(settings.db_path, read_only=True)
    try:
        rec = load_run(con, again.run_id)
    finally:
        con.close()
    assert rec is not None and rec.config["reused"] == first.run_id and rec.status == "ok"

    # what the whole pipeline makes of the same input is what was reused
    full = distill([d], settings=settings, out=lib, show_progress=False, reuse=False)
    assert not full.reused_from and _mined(settings, full.run_id)
    assert _library(lib) == before
    assert [(s.name, s.status, s.version, s.package) for s in full.skills] == \
        [(s.name, s.status, s.version, s.package) for s in again.skills]
    assert full.cited == again.cited and full.rejected_lessons == again.rejected_lessons


def _new_file(d: Path, settings: Settings, kw: dict) -> None:
    (d / "b.json").write_text(json.dumps(_runs(40)[30:]))


def _outcome(d: Path, settings: Settings, kw: dict) -> None:
    con = connect(settings.db_path)
    try:
        con.execute("UPDATE trajectories SET success = NOT success, reward = 1 - reward "
                    "WHERE id = (SELECT min(id) FROM trajectories)")
    finally:
        con.close()


def _lesson(d: Path, settings: Settings, kw: dict) -> None:
    con = connect(settings.db_path)
    try:
        con.execute("DELETE FROM lessons WHERE id = (SELECT min(id) FROM lessons)")
    finally:
        con.close()


def _library_commit(d: Path, settings: Settings, kw: dict) -> None:
    subprocess.run(["git", "-C", str(kw["out"]), "-c", "user.name=someone", "-c",
                    "user.email=someone@example.com", "commit", "--allow-empty", "-q", "-m",
                    "a commit from outside"], check=True)


def _library_file(d: Path, settings: Settings, kw: dict) -> None:
    (kw["out"] / "NOTES.md").write_text("a note someone keeps next to the skills\n")


def _option(**change: object):
    def apply(d: Path, settings: Settings, kw: dict) -> None:
        kw.update(change)
    return apply


CHANGES = {
    "a new file": _new_file,
    "a changed outcome": _outcome,
    "a lesson removed from the store": _lesson,
    "a commit in the library": _library_commit,
    "a file added to the library folder": _library_file,
    "--min-support": _option(min_support=2),
    "--folds": _option(folds=0),
    "--pdi-threshold": _option(pdi_threshold=-1.0),
    "--strict": _option(strict=True),
    "other input paths": _option(paths="file"),
    "an LLM setting": _option(settings={"llm": {"max_input_tokens": 4000}}),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_change_runs_the_whole_pipeline(tmp_path, settings, change):
    d = _folder(tmp_path, 30)
    kw: dict = {"out": tmp_path / "lib", "show_progress": False}
    first = distill([d], settings=settings, **kw)
    CHANGES[change](d, settings, kw)
    paths = [d / "a.json"] if kw.pop("paths", None) == "file" else [d]
    s = Settings.load(settings.home, **kw.pop("settings", {}))
    changed = distill(paths, settings=s, **kw)
    assert not changed.reused_from and _mined(s, changed.run_id), change
    assert REUSED.format(first.run_id) not in changed.notes
    # once that run has completed, it is the one the next unchanged run reuses
    again = distill(paths, settings=s, **kw)
    assert again.reused_from == changed.run_id, change


@pytest.mark.parametrize("what", ["skillforge.__version__", "MINER_VERSION", "code"])
def test_other_code_runs_the_whole_pipeline(tmp_path, settings, monkeypatch, what):
    d = _folder(tmp_path, 30)
    kw = {"out": tmp_path / "lib", "show_progress": False}
    distill([d], settings=settings, **kw)
    if what == "skillforge.__version__":
        from skillforge import _version

        monkeypatch.setattr(_version, "__version__", "99.0")
    elif what == "MINER_VERSION":
        monkeypatch.setattr(skillforge.analyze, "MINER_VERSION", "99")
    else:
        import skillforge._distill_reuse as reuse

        monkeypatch.setattr(reuse, "_code_digest", lambda: "another build")
    rep = distill([d], settings=settings, **kw)
    assert not rep.reused_from and _mined(settings, rep.run_id)


def test_changed_labels_file_runs_the_whole_pipeline(tmp_path, settings):
    """The same --labels path with other content is another input."""
    d = tmp_path / "in"
    d.mkdir()
    runs = _runs(30)
    for r in runs:
        r.pop("reward", None)
    (d / "a.json").write_text(json.dumps(runs))
    labels = tmp_path / "labels.csv"
    labels.write_text("task_id,success\n" + "".join(f"{r['task_id']},1\n" for r in runs[:10]))
    kw = {"out": tmp_path / "lib", "show_progress": False, "labels": labels}
    first = distill([d], settings=settings, **kw)
    assert distill([d], settings=settings, **kw).reused_from == first.run_id
    labels.write_text(labels.read_text() + "".join(f"{r['task_id']},0\n" for r in runs[20:]))
    rep = distill([d], settings=settings, **kw)
    assert not rep.reused_from and _mined(settings, rep.run_id)


def test_an_interrupted_run_is_never_reused(tmp_path, settings):
    """Only a run that completed leaves what a later one may reuse."""
    import importlib

    import skillforge._distill_reuse as reuse

    dist = importlib.import_module("skillforge.distill")  # the module, not the function

    d = _folder(tmp_path, 30)
    kw = {"out": tmp_path / "lib", "show_progress": False}

    def crash(r):
        raise KeyboardInterrupt

    stages = tuple((n, crash if n == "record" else f, b) for n, f, b in dist.PIPELINE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dist, "PIPELINE", stages)
        with pytest.raises(KeyboardInterrupt):
            distill([d], settings=settings, **kw)
    rep = distill([d], settings=settings, **kw)
    assert not rep.reused_from and _mined(settings, rep.run_id)

    # a run stopped after it saved its record but before it stored its keys: not reused
    def fail(*a, **k):
        raise OSError("disk full")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reuse, "save_reuse", fail)
        with pytest.raises(OSError):
            distill([d], settings=settings, **kw, reuse=False)
    nxt = distill([d], settings=settings, **kw)
    assert nxt.reused_from == rep.run_id  # the last completed one, not the interrupted one


def test_a_run_with_failed_llm_analyses_is_not_reused(tmp_path, settings):
    """A retry may get what failed the first time."""
    from skillforge.llm import register_script, unregister_script

    d = _folder(tmp_path, 12)

    def handler(req):
        return {"__error__": "bad_request"}

    register_script("reuse-fails", handler)
    try:
        kw = {"out": tmp_path / "lib", "show_progress": False, "llm": "fake/script:reuse-fails",
              "folds": 0}
        first = distill([d], settings=settings, **kw)
        assert first.faults
        rep = distill([d], settings=settings, **kw)
    finally:
        unregister_script("reuse-fails")
    assert not rep.reused_from


def test_cli_no_reuse_runs_the_whole_pipeline(tmp_path, settings):
    from helpers import cli

    d = _folder(tmp_path, 60)
    lib = tmp_path / "lib"
    home = str(settings.home)
    first = cli("distill", str(d), "--out", str(lib), "--home", home, "--json")
    assert first.code == 0, first.err
    first_id = json.loads(first.out)["run_id"]
    again = cli("distill", str(d), "--out", str(lib), "--home", home)
    assert again.code == 0 and f"reused analysis of run {first_id}" in again.out
    forced = cli("distill", str(d), "--out", str(lib), "--home", home, "--no-reuse", "--json")
    assert forced.code == 0, forced.err
    forced_id = json.loads(forced.out)["run_id"]
    assert "reused analysis" not in forced.out
    assert _mined(settings, forced_id)
