"""Helpers for tests: run the CLI and capture its output."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def cli(*args: str) -> CliResult:
    """Run ``skillforge ARGS`` in-process; return exit code, stdout and stderr."""
    from skillforge.cli import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


def write_native_runs(path, n: int, *, start: int = 0, word: str = "task") -> None:
    """``n`` small skillforge JSONL runs (``word i``: a lookup and its result; task ids
    ``i % 7``, every other run a success), numbered from ``start``."""
    from skillforge.traces import Source, Step, Trajectory
    from skillforge.traces.native import dump_line

    lines = []
    for i in range(start, start + n):
        steps = [Step(index=0, role="user", kind="message", text=f"{word} {i}"),
                 Step(index=1, role="assistant", kind="tool_call", tool_name="get",
                      tool_args={"id": i}, text=f"get({i})"),
                 Step(index=2, role="tool", kind="observation", text=f"ok {i}")]
        t = Trajectory(source=Source(format="skillforge", file="gen"), task_id=str(i % 7),
                       task=f"{word} {i}", steps=steps)
        t.outcome.success = i % 2 == 0
        lines.append(dump_line(t.finalize()))
    path.write_text("\n".join(lines) + "\n")
