"""The command lines ``skillforge.cli.run`` answers without typer's option parsing.

typer turns every option value into its type through a pydantic TypeAdapter; importing and
building those is most of a short command's start-up (``traces stats`` with kept counts, a
``distill`` that reuses an earlier analysis). A command line made only of a few plain
options is parsed here instead and the command's own function is called with it; anything
else goes to typer.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plain_args"]


def plain_args(argv: Sequence[str], command: Sequence[str], options: Sequence[str], *,
               positional: bool) -> tuple[list[str], dict[str, str], bool] | None:
    """``(arguments, {option: value}, json)`` when ``argv`` is ``command`` followed by
    nothing but: each of ``options`` at most once (``--opt VALUE`` or ``--opt=VALUE``),
    ``--json`` at most once and, with ``positional``, arguments that do not start with
    ``-``. None for anything else (``--help``, another option, a repeated one, an empty value
    or one starting with ``-``)."""
    if list(argv[:len(command)]) != list(command):
        return None
    args: list[str] = []
    opts: dict[str, str] = {}
    json_out = False
    rest = list(argv[len(command):])
    while rest:
        arg = rest.pop(0)
        if arg == "--json" and not json_out:
            json_out = True
            continue
        name, eq, value = arg.partition("=")
        if name in options and name not in opts:
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            if not value or value.startswith("-"):
                return None
            opts[name] = value
            continue
        if not positional or not arg or arg.startswith("-"):
            return None
        args.append(arg)
    return args, opts, json_out
