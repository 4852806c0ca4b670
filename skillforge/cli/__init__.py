"""The ``skillforge`` command line: a typer app whose commands each make one library call.

Command groups live in private modules of this package, one per pipeline area.
"""

from __future__ import annotations

import sys

import typer

from skillforge.cli._app import app
from skillforge.errors import SkillforgeError


def _load_commands() -> None:
    """Import every private command module of this package; each registers on ``app``."""
    import importlib
    import pkgutil

    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if m.name.startswith("_") and not m.name.startswith("__") and m.name != "_app":
            importlib.import_module(f"{__name__}.{m.name}")


_load_commands()

__all__ = ["app", "main", "run"]


def run(argv: list[str] | None = None) -> int:
    """Run the app on ``argv`` and return the exit code; errors become one clear line.

    ``traces stats`` with only ``--json`` and ``--home DIR`` is answered without typer's
    option parsing, whose pydantic adapters would be most of its start-up (see
    ``skillforge.cli._traces.plain_stats_args``), and so is ``distill PATH...`` with only
    ``--out``, ``--home`` and ``--json`` (``skillforge.cli._distill.plain_distill_args``);
    every other command line goes to typer.
    """
    from skillforge.cli._distill import distill, plain_distill_args
    from skillforge.cli._traces import plain_stats_args, print_stats

    args = sys.argv[1:] if argv is None else argv
    try:
        plain = plain_stats_args(args)
        if plain is not None:
            print_stats(*plain)
            return 0
        plain_d = plain_distill_args(args)
        if plain_d is not None:
            paths, out, home, json_out = plain_d
            return distill(paths, out=out, home=home, json_out=json_out)
        rv = app(args=argv, standalone_mode=False, prog_name="skillforge")
    except SkillforgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:
        # The parser's usage errors (bad flag, missing argument) know how to show themselves.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            return 1
        raise
    return rv if isinstance(rv, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))
