"""Training metrics: one row per step in the store (``train_steps``), a run record, and a
Markdown and HTML report (torch-free)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from skillforge.settings import Settings
from skillforge.store import connect

__all__ = ["StepMetrics", "TrainResult", "load_steps", "write_step", "write_train_report"]

_COLUMNS = ("reward", "success_rate", "grpo_loss", "distill_loss", "kl", "kl_behaviour",
            "skill_coverage", "grad_norm", "tokens", "gen_tokens", "tokens_per_s", "seconds",
            "eval_accuracy", "turns", "tool_calls", "bad_calls")


class StepMetrics(BaseModel):
    """What one optimizer step did.

    ``kl`` estimates KL(student || skill teacher) on the sampled tokens (k3, no importance
    weight); ``kl_behaviour`` is the k3 estimate of KL(behaviour || current) at the last update
    epoch (0 on the first epoch of freshly sampled data); ``tokens`` counts the tokens the
    training forward and backward passes processed, ``gen_tokens`` the tokens sampled;
    ``tokens_per_s`` is ``tokens`` per second of the whole step (sampling included).
    Multi-turn suites: ``turns`` is the mean number of model replies per episode,
    ``tool_calls`` the calls the replies made and ``bad_calls`` those that were unreadable or
    named no tool of the suite: the first thing to watch when a model has not yet learned
    the call format.
    """

    step: int
    reward: float
    success_rate: float
    grpo_loss: float
    distill_loss: float
    kl: float
    kl_behaviour: float = 0.0
    skill_coverage: float
    grad_norm: float
    tokens: int
    gen_tokens: int
    tokens_per_s: float
    seconds: float
    eval_accuracy: float | None = None
    turns: float = 1.0
    tool_calls: int = 0
    bad_calls: int = 0


class TrainResult(BaseModel):
    """What a training run produced."""

    run_id: str
    out: str
    steps: int
    resumed_from: int | None = None
    rollout: str
    adapter: str
    eval_before: dict[str, float] = Field(default_factory=dict)
    eval_after: dict[str, float] = Field(default_factory=dict)
    metrics: list[StepMetrics] = Field(default_factory=list)
    skills: dict[str, str] = Field(default_factory=dict)
    report_markdown: str = ""
    report_html: str = ""
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        """A few plain lines for the terminal."""
        last = self.metrics[-1] if self.metrics else None
        b, a = self.eval_before.get("student"), self.eval_after.get("student")
        lines = [f"trained {self.run_id}: {self.steps} steps ({self.rollout} rollouts)"
                 + (f", resumed at step {self.resumed_from}" if self.resumed_from else "")]
        if a is not None:
            lines.append(f"no-skill accuracy: {_pct(b)} -> {_pct(a)}"
                         + (f" (with-skill teacher {_pct(self.eval_before.get('teacher'))})"
                            if self.eval_before.get("teacher") is not None else ""))
        if last:
            lines.append(f"last step: reward {last.reward:.3f}, distill {last.distill_loss:.4f}, "
                         f"KL {last.kl:.4f}, {last.tokens_per_s:.0f} tokens/s")
        lines.append(f"adapter: {self.adapter}")
        if self.report_markdown:
            lines.append(f"report: {self.report_markdown}")
        return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def write_step(settings: Settings, run_id: str, m: StepMetrics) -> None:
    """Insert (or replace) the store row of one step."""
    con = connect(settings.db_path)
    try:
        con.execute("DELETE FROM train_steps WHERE run_id = ? AND step = ?", [run_id, m.step])
        con.execute(
            f"INSERT INTO train_steps (run_id, step, {', '.join(_COLUMNS)}, created_at) "
            f"VALUES (?, ?, {', '.join('?' for _ in _COLUMNS)}, ?)",
            [run_id, m.step, *[getattr(m, c) for c in _COLUMNS], datetime.now(UTC)])
    finally:
        con.close()


def load_steps(settings: Settings, run_id: str) -> list[StepMetrics]:
    """The stored step rows of a run, in step order."""
    con = connect(settings.db_path)
    try:
        rows = con.execute(f"SELECT step, {', '.join(_COLUMNS)} FROM train_steps "
                           "WHERE run_id = ? ORDER BY step", [run_id]).fetchall()
    finally:
        con.close()
    return [StepMetrics(step=r[0], **{k: v for k, v in zip(_COLUMNS, r[1:], strict=True)
                                      if v is not None}) for r in rows]


_TABLE = [("step", "{:d}"), ("reward", "{:.3f}"), ("success_rate", "{:.3f}"),
          ("grpo_loss", "{:.4f}"), ("distill_loss", "{:.4f}"), ("kl", "{:.4f}"),
          ("skill_coverage", "{:.2f}"), ("tokens_per_s", "{:.0f}"), ("eval_accuracy", "{:.3f}")]


_EPISODES = [("turns", "{:.2f}"), ("tool_calls", "{:d}"), ("bad_calls", "{:d}")]


def _columns(metrics: list[StepMetrics]) -> list[tuple[str, str]]:
    """The report's columns: the episode columns only for suites whose replies call tools."""
    return _TABLE + (_EPISODES if any(m.tool_calls for m in metrics) else [])


def _cells(m: StepMetrics, columns: list[tuple[str, str]]) -> list[str]:
    out = []
    for name, fmt in columns:
        v = getattr(m, name)
        out.append("" if v is None else fmt.format(v))
    return out


def _markdown(r: TrainResult, config: dict[str, Any]) -> str:
    lines = [f"# skillforge train {r.run_id}", "",
             f"- steps: {r.steps}" + (f" (resumed at {r.resumed_from})" if r.resumed_from
                                      else ""),
             f"- rollouts: {r.rollout}", f"- adapter / weights: `{r.adapter}`",
             f"- no-skill accuracy (student): {_pct(r.eval_before.get('student'))} -> "
             f"{_pct(r.eval_after.get('student'))}",
             f"- with-skill accuracy (teacher): {_pct(r.eval_before.get('teacher'))} -> "
             f"{_pct(r.eval_after.get('teacher'))}", ""]
    lines += ["## Configuration", "", "| option | value |", "| --- | --- |"]
    lines += [f"| {k} | `{v}` |" for k, v in sorted(config.items())]
    cols = _columns(r.metrics)
    lines += ["", "## Metrics per step", "", "| " + " | ".join(n for n, _ in cols) + " |",
              "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(_cells(m, cols)) + " |" for m in r.metrics]
    lines += ["", "## Skill bank (the teacher's privileged context)", ""]
    for fam, text in sorted(r.skills.items()):
        lines += [f"### {fam}", "", "```text", text, "```", ""]
    if r.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in r.notes]
    return "\n".join(lines) + "\n"


def _html(r: TrainResult, config: dict[str, Any]) -> str:
    e = html.escape
    cols = _columns(r.metrics)
    head = "".join(f"<th>{e(n)}</th>" for n, _ in cols)
    rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(m, cols)) + "</tr>"
                   for m in r.metrics)
    conf = "".join(f"<tr><td>{e(k)}</td><td><code>{e(str(v))}</code></td></tr>"
                   for k, v in sorted(config.items()))
    skills = "".join(f"<h3>{e(f)}</h3><pre>{e(t)}</pre>" for f, t in sorted(r.skills.items()))
    notes = "".join(f"<li>{e(n)}</li>" for n in r.notes)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>skillforge train {e(r.run_id)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
        "text-align:right}pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap}"
        "</style></head><body>"
        f"<h1>skillforge train {e(r.run_id)}</h1><ul>"
        f"<li>steps: {r.steps}</li><li>rollouts: {e(r.rollout)}</li>"
        f"<li>adapter / weights: <code>{e(r.adapter)}</code></li>"
        f"<li>no-skill accuracy (student): {_pct(r.eval_before.get('student'))} &rarr; "
        f"{_pct(r.eval_after.get('student'))}</li>"
        f"<li>with-skill accuracy (teacher): {_pct(r.eval_before.get('teacher'))} &rarr; "
        f"{_pct(r.eval_after.get('teacher'))}</li></ul>"
        f"<h2>Metrics per step</h2><table><tr>{head}</tr>{rows}</table>"
        f"<h2>Configuration</h2><table>{conf}</table>"
        f"<h2>Skill bank</h2>{skills}"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>\n")


def write_train_report(settings: Settings, r: TrainResult,
                       config: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``reports/train-RUN.md`` and ``.html`` under the home; return their paths."""
    folder = settings.reports_path
    folder.mkdir(parents=True, exist_ok=True)
    md, page = folder / f"train-{r.run_id}.md", folder / f"train-{r.run_id}.html"
    md.write_text(_markdown(r, config), encoding="utf-8")
    page.write_text(_html(r, config), encoding="utf-8")
    return md, page
