"""Commands: ingest, formats, traces list/show/stats/export."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from skillforge import render
from skillforge.cli._app import HomeOpt, JsonOpt, app, settings_for

traces_app = typer.Typer(help="Look at the trajectories in the store.", no_args_is_help=True)
app.add_typer(traces_app, name="traces")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Trace files or folders (recursive).")],
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="CSV or JSONL mapping trajectory or task ids to success/reward.")] = None,
    no_redact: Annotated[bool, typer.Option(
        "--no-redact", help="Store secrets as they are (redaction is on by default).")] = False,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> int:
    """Read trace files into the store. Exit 0 if all input was read, 2 if some was skipped."""
    from skillforge.ingest import ingest as run_ingest

    rep = run_ingest(paths, settings=settings_for(home), labels=labels,
                     redact=False if no_redact else None)
    typer.echo(json.dumps(rep.to_dict(), indent=2) if json_out else rep.summary())
    return rep.exit_code


@app.command("formats")
def list_formats(json_out: JsonOpt = False) -> None:
    """List the trace formats skillforge can read (detected by content), with an example file."""
    from skillforge.traces._catalog import catalog

    rows = catalog()
    if json_out:
        typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    width = max(len(r.name) for r in rows) + 2
    for r in rows:
        typer.echo(f"{r.name:{width}}{r.description}")
        typer.echo(f"{'':{width}}e.g. {r.example}")


@traces_app.command("formats")
def traces_formats(json_out: JsonOpt = False) -> None:
    """List the trace formats skillforge can read (same as `skillforge formats`)."""
    list_formats(json_out=json_out)


@traces_app.command("stats")
def traces_stats(json_out: JsonOpt = False, home: HomeOpt = None) -> None:
    """Counts of trajectories, steps, outcomes, formats and tool calls."""
    print_stats(json_out, home)


def print_stats(json_out: bool, home: Path | None) -> None:
    """Print the store's counts: what ``traces stats`` does, also reached by its quick path."""
    # only the store's path is needed (no settings model), and counts kept from the last
    # read answer while the store file is unchanged (no DuckDB): skillforge.store.stats_cache
    from skillforge._home import store_path
    from skillforge.store.stats_cache import store_stats

    st = store_stats(store_path(home))
    typer.echo(json.dumps(st, indent=2) if json_out else render.stats_text(st))


def plain_stats_args(argv: Sequence[str]) -> tuple[bool, Path | None] | None:
    """``(json, home)`` when ``argv`` is ``traces stats`` with nothing but ``--json`` and
    ``--home DIR`` (each at most once), else None.

    typer turns every non-flag option value into its type through a pydantic TypeAdapter,
    and importing that machinery is most of this command's start-up once its counts are
    kept. For these plain arguments ``skillforge.cli.run`` calls :func:`print_stats` itself
    (the same function the command runs, so the same output); anything else (``--help``,
    another option, a repeated one, an empty value or one starting with ``-``) goes to typer.
    Without ``--home``, ``print_stats`` reads ``$SKILLFORGE_HOME`` as the option would.
    """
    from skillforge.cli._plain import plain_args

    got = plain_args(argv, ("traces", "stats"), ("--home",), positional=False)
    if got is None:
        return None
    _, opts, json_out = got
    return json_out, Path(opts["--home"]) if "--home" in opts else None


@traces_app.command("list")
def traces_list(
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.")] = 50,
    outcome: Annotated[str | None, typer.Option(
        help="Only success, failure or unlabeled.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Only this input format.")] = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """List trajectories in the store."""
    from skillforge.errors import UsageError
    from skillforge.store import connect, list_trajectories

    if outcome not in (None, "success", "failure", "unlabeled"):
        raise UsageError(f"--outcome must be success, failure or unlabeled, not {outcome!r}")
    con = connect(settings_for(home).db_path, read_only=True)
    try:
        rows = list_trajectories(con, limit=limit, outcome=outcome, fmt=fmt)
    finally:
        con.close()
    typer.echo(json.dumps(rows, indent=2) if json_out else render.table(
        rows, ["id", "format", "task_id", "success", "reward", "steps", "task"]))


@traces_app.command("show")
def traces_show(
    traj_id: Annotated[str, typer.Argument(help="Trajectory id (a unique prefix is enough).")],
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Show one trajectory step by step."""
    from skillforge.errors import UsageError
    from skillforge.store import connect, get_trajectory

    con = connect(settings_for(home).db_path, read_only=True)
    try:
        t = get_trajectory(con, traj_id)
    finally:
        con.close()
    if t is None:
        raise UsageError(f"no single trajectory matches {traj_id!r}",
                         hint="see `skillforge traces list`")
    typer.echo(t.model_dump_json(indent=2) if json_out else render.trajectory_text(t))


@traces_app.command("export")
def traces_export(
    out: Annotated[Path, typer.Argument(
        help="JSONL file to write (skillforge native format); with --parquet, a new folder.")],
    parquet: Annotated[bool, typer.Option(
        "--parquet", help="Write Hive-partitioned Parquet (trajectories/ and steps/, by "
        "source format and hash bucket) for DuckDB and other machines; `skillforge ingest "
        "OUT` reads it back.")] = False,
    buckets: Annotated[int, typer.Option(
        "--buckets", help="With --parquet: hash buckets of trajectory ids per format.")] = 16,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Write the trajectories as skillforge JSONL, or as Parquet partitions.

    With --parquet: trajectories/ and steps/ under OUT, partitioned by source format and
    hash bucket, and a manifest; DuckDB reads them with read_parquet(..., hive_partitioning
    = true), and `skillforge ingest OUT` reads them back into a store.
    """
    from skillforge.store import connect

    con = connect(settings_for(home).db_path, read_only=True)
    if parquet:
        from skillforge.store.parquet import export_parquet

        try:
            rep = export_parquet(con, out, buckets=buckets)
        finally:
            con.close()
        typer.echo(json.dumps(rep.to_dict(), indent=2) if json_out else rep.summary())
        return
    from skillforge.store import iter_trajectories
    from skillforge.traces.native import dump_line

    n = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for t in iter_trajectories(con):
                fh.write(dump_line(t) + "\n")
                n += 1
    finally:
        con.close()
    typer.echo(json.dumps({"path": str(out), "trajectories": n}) if json_out
               else f"wrote {n} trajectories to {out}")
