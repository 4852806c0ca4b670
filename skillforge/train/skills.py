"""The skill bank: one skill per task family, the privileged context only the teacher sees.

A skill starts from what skillforge distilled (a skill package's SKILL.md, matched to a
family by name) and is kept up to date on-policy: the student's completed episodes of the
family (a sliding window) are summarized by the existing analyzers into a success analysis,
the mistakes to avoid, and a golden workflow. The offline miner (``skillforge.analyze.mine``)
supplies workflow, rule and pitfall lessons for tool-using episodes; the episodes' own
outcomes supply the golden run (the best successful one) and the answers that failed.
With an analyst (``--skill-llm``, ``skillforge.train._skill_llm``) the LLM success and
failure analysts also read a few new episodes per family each step; their grounded lessons
are kept per family (deduplicated, with support counts) and ranked into the summary.
"""

from __future__ import annotations

import json
import re
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, Field

from skillforge.analyze import MinerSettings, mine
from skillforge.analyze.vocab import kebab
from skillforge.errors import UsageError
from skillforge.traces.model import Outcome, Source, Step, Trajectory

if TYPE_CHECKING:
    from skillforge.analyze.model import Lesson
    from skillforge.train._skill_llm import SkillAnalyst

__all__ = ["Skill", "SkillBank", "SkillLesson", "episode_trajectory", "merge_lessons",
           "read_skill_text"]

MAX_LINES = 6
MAX_LLM_LESSONS = 32   # LLM lessons kept per family
LESSON_CHARS = 300     # an LLM lesson's text in the skill is cut to this


def episode_trajectory(*, suite: str, task_id: str, family: str, instruction: str,
                       completion: str, reward: float, success: bool, detail: str = "",
                       model: str | None = None, step: int | None = None) -> Trajectory:
    """A single-turn training episode as a normalized trajectory (for the analyzers)."""
    t = Trajectory(
        source=Source(format="skillforge-train", file=f"train:{suite}", record=task_id),
        task_id=task_id, task=instruction, agent="skillforge-train", model=model,
        outcome=Outcome(success=success, reward=reward, detail=detail),
        steps=[Step(index=0, role="user", kind="message", text=instruction),
               Step(index=1, role="assistant", kind="final", text=completion)],
        meta={"family": family, **({"train_step": step} if step is not None else {})})
    return t.finalize()


def read_skill_text(folder: Path) -> tuple[str, str]:
    """(name, body) of a skill package folder's SKILL.md (frontmatter stripped)."""
    path = folder / "SKILL.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the skill: {exc}", where=str(path),
                         hint="give a skill package folder (it holds SKILL.md)") from exc
    name, body = folder.name, text
    if text.startswith("---"):
        head, sep, rest = text[3:].partition("\n---")
        if sep:
            try:
                meta = yaml.safe_load(head) or {}
            except yaml.YAMLError as exc:
                raise UsageError(f"SKILL.md frontmatter is not YAML: {exc}",
                                 where=str(path)) from exc
            if isinstance(meta, dict) and meta.get("name"):
                name = str(meta["name"])
            body = rest.lstrip("\n")
    return name, body.strip()


class Skill(BaseModel):
    """The skill of one task family."""

    family: str
    seed: str = ""
    source: str = ""
    runs: int = 0
    succeeded: int = 0
    golden: list[str] = Field(default_factory=list)
    successes: list[str] = Field(default_factory=list)
    mistakes: list[str] = Field(default_factory=list)
    attached: list[str] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the skill says nothing yet."""
        return not (self.seed or self.golden or self.successes or self.mistakes
                    or self.attached)

    def text(self, max_chars: int = 1500) -> str:
        """The skill as the teacher reads it, cut to ``max_chars``."""
        parts = [f"Skill for {self.family}"
                 + (f" (from {self.runs} recent runs, {self.succeeded} succeeded)"
                    if self.runs else "")]
        if self.seed:
            parts.append(self.seed)
        parts += self.attached
        for title, lines in (("Golden workflow", self.golden), ("What worked", self.successes),
                             ("Mistakes to avoid", self.mistakes)):
            if lines:
                parts.append(title + ":\n" + "\n".join(f"- {x}" for x in lines[:MAX_LINES]))
        text = "\n\n".join(parts)
        return text if len(text) <= max_chars else text[: max_chars - 3].rstrip() + "..."


class SkillLesson(BaseModel):
    """A lesson of the LLM analysts as the bank keeps it: what it says and how often."""

    polarity: Literal["success", "failure"]
    kind: str = "rule"
    text: str
    support: int = 1
    last: int = 0  # the bank's analysis round that last produced it

    @property
    def key(self) -> str:
        """The normalized content that identifies the lesson."""
        return _normalize(self.text)

    def line(self) -> str:
        """The lesson as a line of the skill text."""
        text = self.text if len(self.text) <= LESSON_CHARS else \
            self.text[: LESSON_CHARS - 3].rstrip() + "..."
        return f"{text} ({self.support} run{'s' if self.support != 1 else ''})"


def _names_hint(by_name: dict[str, str], by_tool: dict[str, str]) -> str:
    hint = "name the package after a family: " + ", ".join(sorted(by_name))
    if by_tool:
        hint += "; or after a tool: " + ", ".join(sorted(by_tool))
    return hint


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower().rstrip(" .!;:")


def merge_lessons(kept: Sequence[SkillLesson], new: Iterable[Lesson], round_: int,
                  limit: int = MAX_LLM_LESSONS) -> list[SkillLesson]:
    """``kept`` plus ``new`` analyst lessons: the same (polarity, normalized content) adds to
    the support; at most ``limit`` are kept, by support, then the most recently seen."""
    out = {(k.polarity, k.key): k.model_copy() for k in kept}
    for les in new:
        text = re.sub(r"\s+", " ", les.content or les.title).strip()
        if not text:
            continue
        cand = SkillLesson(polarity=les.polarity, kind=les.kind, text=text, last=round_)
        have = out.get((cand.polarity, cand.key))
        if have is None:
            out[(cand.polarity, cand.key)] = cand
        else:
            have.support += 1
            have.last = round_
    ranked = sorted(out.values(), key=lambda k: (-k.support, -k.last))
    return ranked[:limit]


def _golden(best: Trajectory) -> list[str]:
    lines = []
    for s in best.steps:
        if s.kind == "tool_call" and s.tool_name:
            args = json.dumps(s.tool_args or {}, ensure_ascii=False, sort_keys=True)
            lines.append(f"call {s.tool_name}({args[:200]})")
    final = next((s.text for s in reversed(best.steps)
                  if s.role == "assistant" and s.kind in ("final", "message") and s.text), "")
    if final:
        lines.append(f"final answer: `{final.strip()[:300]}`")
    return lines


def _final(t: Trajectory) -> str:
    return next((s.text.strip() for s in reversed(t.steps)
                 if s.role == "assistant" and s.kind in ("final", "message") and s.text), "")


def summarize(family: str, runs: list[Trajectory], seed: Skill | None = None,
              miner: MinerSettings | None = None,
              lessons: Sequence[SkillLesson] = (),
              tool_skills: dict[str, ToolSkill] | None = None) -> Skill:
    """The skill of ``family`` from its recent ``runs`` (on top of ``seed``'s package text).

    ``lessons`` (the LLM analysts', kept by the bank) join the miner's: success lessons under
    "What worked", failure lessons under "Mistakes to avoid", ranked with them by support.
    ``tool_skills`` (skill packages named after a tool) are attached when the runs call
    their tool, the most called first.
    """
    sk = Skill(family=family, seed=seed.seed if seed else "", source=seed.source if seed else "",
               runs=len(runs), succeeded=sum(bool(t.outcome.success) for t in runs))
    if tool_skills:
        calls = Counter(s.tool_name for t in runs for s in t.steps
                        if s.kind == "tool_call" and s.tool_name in tool_skills)
        sk.attached = [tool_skills[name].text()
                       for name, _ in sorted(calls.items(), key=lambda it: (-it[1], it[0]))]
    wins = [t for t in runs if t.outcome.success]
    if wins:
        best = max(enumerate(wins), key=lambda it: (it[1].outcome.reward or 0.0,
                                                    -len(it[1].steps), -it[0]))[1]
        sk.golden = _golden(best)
    good_answers = {_final(t) for t in wins}
    bad = Counter(a for t in runs if t.outcome.success is False
                  for a in [_final(t)] if a and a not in good_answers)
    sk.mistakes = [f"answered `{a[:120]}` and failed ({n} run{'s' if n != 1 else ''})"
                   for a, n in bad.most_common(3)]
    worked: list[tuple[int, str]] = []
    avoid: list[tuple[int, str]] = []
    for les in mine(runs, settings=miner or MinerSettings(min_support=2)):
        line = f"{les.content} ({les.support} runs)"
        if les.kind == "workflow":
            sk.golden.insert(0, line)
        elif les.polarity == "success":
            worked.append((les.support, line))
        else:
            avoid.insert(0, (les.support, line))
    for k in lessons:
        (worked if k.polarity == "success" else avoid).append((k.support, k.line()))
    sk.successes = [line for _, line in sorted(worked, key=lambda it: -it[0])]
    sk.mistakes = [line for _, line in sorted(avoid, key=lambda it: -it[0])] + sk.mistakes
    if runs:
        sk.successes.append(f"{sk.succeeded} of {sk.runs} recent runs succeeded")
    return sk


_MARK = re.compile(r"\s*\[S\d+ · [^\]]*\]\s*$")


def compact(body: str) -> str:
    """A skill body as the teacher reads it: its section titles and list items (statement
    markers such as ``[S3 · 12 runs]`` dropped); a body without lists stays whole."""
    lines = body.splitlines()
    items = [ln for ln in lines if re.match(r"\s*(?:[-*]|\d+\.)\s", ln)]
    if not items:
        return body.strip()
    keep = [ln for ln in lines if ln in items or ln.startswith("## ")]
    out: list[str] = []
    for ln in keep:  # drop titles whose section kept nothing
        if ln.startswith("## ") and out and out[-1].startswith("## "):
            out.pop()
        out.append(_MARK.sub("", ln).rstrip())
    if out and out[-1].startswith("## "):
        out.pop()
    return "\n".join(out)


class ToolSkill(BaseModel):
    """A skill package about one tool (a distilled capability), for families that call it."""

    tool: str
    name: str
    body: str
    source: str = ""

    def text(self) -> str:
        """The package as it is attached to a family's skill."""
        return f"Skill {self.name} (when calling {self.tool}):\n{self.body}"


class SkillBank:
    """Skills per task family, with the recent episodes each summary rests on.

    ``analyst`` (optional, not saved with the bank) runs the LLM analysts on new episodes;
    the lessons they return are kept in ``lessons`` (saved).
    """

    def __init__(self, window: int = 64, max_chars: int = 1500,
                 analyst: SkillAnalyst | None = None):
        self.window = window
        self.max_chars = max_chars
        self.analyst = analyst
        self.seeds: dict[str, Skill] = {}
        self.skills: dict[str, Skill] = {}
        self.episodes: dict[str, deque[Trajectory]] = {}
        self.lessons: dict[str, list[SkillLesson]] = {}
        self.tool_skills: dict[str, ToolSkill] = {}
        self.skipped: list[str] = []  # library packages that matched no family or tool
        self.rounds = 0  # analysis rounds so far (orders the LLM lessons by recency)

    def _summarize(self, family: str) -> Skill:
        return summarize(family, list(self.episodes.get(family, ())), self.seeds.get(family),
                         lessons=self.lessons.get(family, ()), tool_skills=self.tool_skills)

    # seeding ---------------------------------------------------------------------------
    def seed(self, family: str, text: str, source: str = "") -> None:
        """Start ``family``'s skill from ``text`` (a distilled skill)."""
        self.seeds[family] = Skill(family=family, seed=text.strip(), source=source)
        self.skills[family] = self._summarize(family)

    def seed_from_folders(self, folders: Iterable[Path], families: Iterable[str],
                          tools: Iterable[str] = ()) -> list[str]:
        """Seed from skill packages: a folder holding SKILL.md, or a library of such folders.

        A package named after a family (kebab case) seeds that family. One named after a
        tool of the suite (a distilled capability such as ``move-file`` for ``move_file``)
        is attached to the families whose episodes call the tool. A package given by its
        own folder that matches neither is an error (so a typo does not train on nothing);
        in a library it is skipped and listed in ``skipped``, unless nothing in the library
        matches. Returns the families seeded.
        """
        by_name = {kebab(f): f for f in families}
        by_tool = {kebab(t): t for t in tools}
        seeded: list[str] = []
        for folder in folders:
            if (folder / "SKILL.md").exists():
                packs, library = [folder], False
            elif folder.is_dir():
                packs = sorted(p for p in folder.iterdir() if (p / "SKILL.md").exists())
                library = True
            else:
                packs, library = [], False
            if not packs:
                raise UsageError("no skill package here (no SKILL.md)", where=str(folder),
                                 hint="give a skill folder or a library of skill folders")
            used = 0
            for pack in packs:
                name, body = read_skill_text(pack)
                keys = (kebab(name), kebab(pack.name))
                fam = next((by_name[k] for k in keys if k in by_name), None)
                tool = next((by_tool[k] for k in keys if k in by_tool), None)
                if fam is not None:
                    self.seed(fam, compact(body), source=str(pack))
                    seeded.append(fam)
                elif tool is not None:
                    self.tool_skills[tool] = ToolSkill(tool=tool, name=name, body=compact(body),
                                                       source=str(pack))
                elif library:
                    self.skipped.append(f"{pack.name} (matches no family or tool)")
                    continue
                else:
                    raise UsageError(
                        f"skill {name!r} matches no task family or tool of the suite",
                        where=str(pack), hint=_names_hint(by_name, by_tool))
                used += 1
            if not used:
                raise UsageError("no skill in this library matches a task family or tool of "
                                 "the suite", where=str(folder),
                                 hint=_names_hint(by_name, by_tool))
        for fam in self.episodes:  # tool skills reach families already seen
            self.skills[fam] = self._summarize(fam)
        return seeded

    # on-policy summaries ---------------------------------------------------------------
    def observe(self, trajectories: Iterable[Trajectory], *, refresh: bool = True) -> list[str]:
        """Add completed episodes (``meta['family']``, or a runner episode's
        ``meta['runner']['family']``, names the family); with an analyst, send a few of each
        family's new episodes to the LLM analysts and keep their lessons; re-summarize the
        families touched when ``refresh``. Returns the families touched."""
        new: dict[str, list[Trajectory]] = {}
        for t in trajectories:
            fam = str(t.meta.get("family") or (t.meta.get("runner") or {}).get("family") or "")
            if not fam:
                continue
            self.episodes.setdefault(fam, deque(maxlen=self.window)).append(t)
            new.setdefault(fam, []).append(t)
        if self.analyst is not None and new:
            got = self.analyst.analyze(new)
            if got:
                self.rounds += 1
                for fam, found in got.items():
                    self.lessons[fam] = merge_lessons(self.lessons.get(fam, []), found,
                                                      self.rounds)
        if refresh:
            for fam in new:
                self.skills[fam] = self._summarize(fam)
        return list(new)

    def text_for(self, family: str) -> str | None:
        """The skill text of ``family``; None when the bank has nothing for it."""
        sk = self.skills.get(family)
        if sk is None or sk.empty:
            return None
        return sk.text(self.max_chars)

    # persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (seeds, skills, the episode windows, the LLM analysts' lessons)."""
        return {"window": self.window, "max_chars": self.max_chars,
                "seeds": {k: v.model_dump() for k, v in self.seeds.items()},
                "skills": {k: v.model_dump() for k, v in self.skills.items()},
                "episodes": {k: [t.model_dump(mode="json") for t in v]
                             for k, v in self.episodes.items()},
                "lessons": {k: [les.model_dump() for les in v]
                            for k, v in self.lessons.items()},
                "tool_skills": {k: v.model_dump() for k, v in self.tool_skills.items()},
                "rounds": self.rounds}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SkillBank:
        """Rebuild a bank saved with ``to_dict``."""
        bank = cls(window=data.get("window", 64), max_chars=data.get("max_chars", 1500))
        bank.seeds = {k: Skill.model_validate(v) for k, v in data.get("seeds", {}).items()}
        bank.skills = {k: Skill.model_validate(v) for k, v in data.get("skills", {}).items()}
        bank.episodes = {k: deque((Trajectory.model_validate(t) for t in v),
                                  maxlen=bank.window)
                         for k, v in data.get("episodes", {}).items()}
        bank.lessons = {k: [SkillLesson.model_validate(les) for les in v]
                        for k, v in data.get("lessons", {}).items()}
        bank.tool_skills = {k: ToolSkill.model_validate(v)
                            for k, v in data.get("tool_skills", {}).items()}
        bank.rounds = int(data.get("rounds", 0))
        return bank
