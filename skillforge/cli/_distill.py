"""Command: distill (the main job)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from skillforge.cli._app import HomeOpt, JsonOpt, app, settings_for

# verify.gate.DEFAULT_PDI_THRESHOLD, written out so that the command line starts without
# importing the verify package (a test keeps the two equal)
DEFAULT_PDI_THRESHOLD = -1.5


@app.command()
def distill(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Trace files or folders (recursive); optional with --from.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Skill library folder (a git repo; default $SKILLFORGE_HOME/skills)."
        ),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option("--llm", help="Use an LLM too: MODEL or MODEL@BASE_URL (OpenAI-compatible)."),
    ] = None,
    base: Annotated[
        Path | None,
        typer.Option(
            "--base", help="Deepen this existing skill folder instead of creating new skills."
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", help="CSV or JSONL mapping trajectory or task ids to success/reward."
        ),
    ] = None,
    min_support: Annotated[
        int, typer.Option("--min-support", help="Distinct runs a skill must rest on to be written.")
    ] = 3,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Parallel LLM calls (with --llm).")
    ] = 8,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", help="Seconds to wait for another run on the same home before failing."
        ),
    ] = 60.0,
    pdi_threshold: Annotated[
        float,
        typer.Option(
            "--pdi-threshold",
            help="Skills whose PDI falls below this get a second pass, and are "
            "committed flagged low-PDI if still below.",
        ),
    ] = DEFAULT_PDI_THRESHOLD,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Do not commit skills whose PDI is still below the threshold."
        ),
    ] = False,
    folds: Annotated[
        int,
        typer.Option(
            "--folds",
            help="Held-out gate: split the runs into this many folds by task; a lesson ships "
            "only if its effect holds on the tasks it was not mined from. 0 turns the gate "
            "off (every mined lesson is kept; for comparison only).",
        ),
    ] = 5,
    sources: Annotated[str | None, typer.Option(
        "--from", help="Also harvest these hosts' own session folders first (comma-separated: "
        "claude-code, codex, gemini-cli, copilot-cli, opencode, cursor; see `harvest`).")] = None,
    executor: Annotated[str, typer.Option(
        "--executor", help="Where the held-out gate's fold miners and the LLM calls run: "
        "local (this process) or ray (tasks on a Ray cluster; needs the ray extra). The "
        "lessons are the same.")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="With --executor ray: the cluster to connect to (HOST:PORT, "
        "ray://HOST:PORT or auto; default $RAY_ADDRESS, else a local Ray instance).")] = None,
    no_reuse: Annotated[bool, typer.Option(
        "--no-reuse", help="Run the whole analysis even when an earlier completed run had the "
        "same inputs, settings and code (by default its analysis is reused and the library "
        "is left as it is).")] = False,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> int:
    """Ingest, analyze, consolidate and commit skills; write a Markdown and HTML report.

    Exit 0 when all input was read, 2 when the run was partial: some input was skipped, LLM
    analyses failed (the miner's lessons stand for them) or a skill was held back (the other
    skills are still written).
    """
    from skillforge.cli._harvest import parse_hosts
    from skillforge.distill import distill as run_distill
    from skillforge.errors import UsageError

    if not paths and not sources:
        raise UsageError("give trace files or folders, or --from HOST,... to harvest sessions")
    rep = run_distill(
        paths or [],
        sources=parse_hosts(sources),
        settings=settings_for(home),
        out=out,
        llm=llm,
        base=base,
        labels=labels,
        min_support=min_support,
        concurrency=concurrency,
        wait_s=wait,
        pdi_threshold=pdi_threshold,
        strict=strict,
        folds=folds,
        executor=executor,
        ray_address=ray_address,
        reuse=not no_reuse,
    )
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "run_id": rep.run_id,
                    "library": rep.library,
                    "counts": rep.counts,
                    "skills": [
                        {
                            "name": s.name,
                            "status": s.status,
                            "version": s.version,
                            "statements": len(s.package.statements),
                            "support": s.package.support,
                            "pdi": s.package.pdi,
                            "gate": s.gate,
                            "note": s.note,
                        }
                        for s in rep.skills
                    ],
                    "problems": rep.problems,
                    "report": {"markdown": rep.markdown_path, "html": rep.html_path},
                },
                indent=2,
            )
        )
    else:
        typer.echo(rep.summary())
    return rep.exit_code


def plain_distill_args(argv: Sequence[str]) -> tuple[list[Path], Path | None, Path | None,
                                                     bool] | None:
    """``(paths, out, home, json)`` when ``argv`` is ``distill PATH...`` with nothing but
    ``--out DIR``, ``--home DIR`` (each at most once, also as ``--out=DIR``) and ``--json``,
    else None.

    typer builds a pydantic TypeAdapter for every option of a command and runs each value
    through one: for ``distill``, whose options are many, that is about a tenth of a re-run
    that reuses an earlier analysis. For these plain arguments ``skillforge.cli.run`` calls
    :func:`distill` itself (the function the command runs, with the defaults typer would
    give, so the same run and output); anything else (``--help``, another option, a repeated
    one, an empty value, one starting with ``-``, no path) goes to typer.
    """
    from skillforge.cli._plain import plain_args

    got = plain_args(argv, ("distill",), ("--out", "--home"), positional=True)
    if got is None or not got[0]:
        return None
    args, opts, json_out = got
    out, home = opts.get("--out"), opts.get("--home")
    return ([Path(a) for a in args], Path(out) if out else None, Path(home) if home else None,
            json_out)

