"""skillforge's own JSONL: one normalized Trajectory per line (lossless)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError

from skillforge.traces._io import Probe
from skillforge.traces._registry import ReadContext, register_format
from skillforge.traces.model import Source, Trajectory

SCHEMA = "skillforge/trajectory-v1"


def dump_line(traj: Trajectory) -> str:
    """One JSONL line for a trajectory, tagged with the schema so it is detected by content."""
    body = traj.model_dump_json(exclude_none=True)
    return '{"schema":"' + SCHEMA + '",' + body[1:]


@register_format
class NativeFormat:
    """Reader for skillforge JSONL (what ``traces export`` and the runners write)."""

    name = "skillforge"

    def sniff(self, probe: Probe) -> float:
        """Claim JSONL or single-line files whose records carry the skillforge schema tag."""
        first = probe.first
        if isinstance(first, dict) and str(first.get("schema", "")).startswith("skillforge/"):
            return 1.0
        return 0.0

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Validate each line as a Trajectory (parsed and validated in one pass by pydantic)."""
        file = str(probe.path)
        with probe.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                got = parse_line(raw, file, lineno)
                if isinstance(got, str):
                    ctx.problem(probe.path, got, lineno)
                    continue
                yield got


def parse_line(raw: bytes | str, file: str, lineno: int) -> Trajectory | str:
    """One line of skillforge JSONL as a Trajectory read from ``file`` at ``lineno``, or the
    reason it is not one (what ingest reports for that line)."""
    try:
        traj = Trajectory.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "json_invalid":
            return f"invalid JSON ({err['msg']})"
        loc = ".".join(str(p) for p in err["loc"]) or "line"
        return f"not a skillforge trajectory: {loc}: {err['msg']}"
    why = _unstorable(traj)
    if why:
        return f"not a skillforge trajectory: {why}"
    traj.source = Source(format="skillforge", file=file, line=lineno,
                         record=traj.source.record)
    return traj


_INT32 = 2**31 - 1
_INT64 = 2**63 - 1


def _unstorable(t: Trajectory) -> str | None:
    """Why a valid trajectory cannot be stored (a number past its column's range; step times
    with and without a time zone when the start or end must be found among them: they cannot
    be ordered), or None."""
    checks = [("attempt", t.attempt, _INT32), ("usage.input_tokens", t.usage.input_tokens, _INT64),
              ("usage.output_tokens", t.usage.output_tokens, _INT64)]
    checks += [(f"steps.{i}.tokens", s.tokens, _INT32) for i, s in enumerate(t.steps)
               if s.tokens is not None]
    for where, v, top in checks:
        if v is not None and not -top - 1 <= v <= top:
            return f"{where}: {v} is out of range (-{top + 1} to {top})"
    zones = {s.timestamp.tzinfo is None for s in t.steps if s.timestamp is not None}
    if len(zones) > 1 and (t.started_at is None or t.ended_at is None):  # no first or last
        return "steps: some timestamps have a time zone and some do not"
    return None
