"""The LLM analysts behind the skill bank (``--skill-llm``): grounded lessons from new episodes.

Each step, up to ``episodes`` of a touched family's new episodes (distinct runs, spread over
the family's tasks, successes and failures interleaved) go to the success or the failure
analyst of ``skillforge.analyze.llm_analysts``, all at once through one ``LLMClient`` (its
concurrency bound, retries and the store's response cache). An episode whose call fails for
good (``LLMError`` after the retries) is counted and noted, and its family keeps the miner's
summary; after ``DISABLE_AFTER`` steps in a row in which every call failed, the analysts are
switched off for the rest of the run, so a dead endpoint does not slow training down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from skillforge.analyze.llm_analysts import LLMAnalyst
from skillforge.analyze.model import Lesson
from skillforge.analyze.vocab import kebab, vocabulary_from_trajectories
from skillforge.errors import LLMError, StoreError
from skillforge.llm.cache import ResponseCache
from skillforge.llm.client import LLMClient
from skillforge.llm.spec import parse_llm_spec
from skillforge.llm.structured import run_sync
from skillforge.settings import Settings
from skillforge.traces.model import Trajectory

__all__ = ["DISABLE_AFTER", "SkillAnalyst", "pick_episodes", "skill_analyst"]

DISABLE_AFTER = 3  # steps in a row in which every analyst call failed


def _spread(runs: Sequence[Trajectory]) -> list[Trajectory]:
    """``runs`` round-robin over their tasks (first-seen order), so picks cover many tasks."""
    by_task: dict[str, list[Trajectory]] = {}
    for t in runs:
        by_task.setdefault(t.task_id or t.task, []).append(t)
    queues = list(by_task.values())
    out: list[Trajectory] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def pick_episodes(runs: Sequence[Trajectory], n: int) -> list[Trajectory]:
    """At most ``n`` of ``runs`` for the analysts, deterministically.

    Unlabeled runs and repeats (the same content id) are left out; the rest alternate
    success, failure, success ... (each side spread over its tasks) until ``n`` are taken or
    one side runs out, which the other then fills.
    """
    seen: set[str] = set()
    wins: list[Trajectory] = []
    losses: list[Trajectory] = []
    for t in runs:
        key = t.id or t.content_hash()
        if t.outcome.success is None or key in seen:
            continue
        seen.add(key)
        (wins if t.outcome.success else losses).append(t)
    a, b = _spread(wins), _spread(losses)
    out: list[Trajectory] = []
    for i in range(max(len(a), len(b))):
        out += [side[i] for side in (a, b) if i < len(side)]
    return out[:n]


class SkillAnalyst:
    """Sends a step's new episodes to the LLM analysts; returns grounded lessons per family.

    ``client`` talks to the model; ``episodes`` caps the episodes per family per step;
    ``settings`` (optional) locates the store whose response cache the calls use; ``notes``
    is the list the failure note is kept in (the trainer's notes, shown in its report).
    """

    def __init__(self, client: LLMClient, *, episodes: int = 4,
                 settings: Settings | None = None, notes: list[str] | None = None):
        self.client = client
        self.episodes = episodes
        self.settings = settings
        self.notes: list[str] = notes if notes is not None else []
        self.sent = 0
        self.analyzed = 0
        self.failed = 0
        self.lessons = 0
        self.dead_steps = 0
        self.disabled = False
        self.last_error = ""
        self._noted: dict[str, str] = {}

    @property
    def model(self) -> str:
        """The analysts' model."""
        return self.client.model

    def analyze(self, new: dict[str, list[Trajectory]]) -> dict[str, list[Lesson]]:
        """Analyze up to ``episodes`` of each family's new episodes; lessons per family.

        Families whose calls all failed are missing from the answer (an LLMError never
        escapes: it is counted and noted).
        """
        if self.disabled or self.episodes <= 0:
            return {}
        jobs = [(fam, t) for fam, runs in new.items()
                for t in pick_episodes(runs, self.episodes)]
        if not jobs:
            return {}
        analysts = {}
        for fam in dict.fromkeys(f for f, _ in jobs):
            vocab = vocabulary_from_trajectories(t for f, t in jobs if f == fam)
            vocab.families.add(kebab(fam))
            analysts[fam] = LLMAnalyst(self.client, vocab)
        con = self._open_store()
        self.client.cache = ResponseCache(con) if con is not None else None
        try:
            results = run_sync(self._gather([(analysts[f], t) for f, t in jobs]))
        finally:
            self.client.cache = None
            if con is not None:
                con.close()
        out: dict[str, list[Lesson]] = {}
        errors: list[LLMError] = []
        for (fam, _), res in zip(jobs, results, strict=True):
            if isinstance(res, LLMError):
                errors.append(res)
                continue
            out.setdefault(fam, []).extend(res)
            self.analyzed += 1
            self.lessons += len(res)
        self.sent += len(jobs)
        self.failed += len(errors)
        if errors:
            self.last_error = f"{type(errors[-1]).__name__}: {errors[-1]}"
            self.dead_steps = self.dead_steps + 1 if len(errors) == len(jobs) else 0
            self.disabled = self.dead_steps >= DISABLE_AFTER
            self._update_note()
        else:
            self.dead_steps = 0
        return out

    async def _gather(self, jobs: list[tuple[LLMAnalyst, Trajectory]]
                      ) -> list[list[Lesson] | LLMError]:
        async def one(analyst: LLMAnalyst, traj: Trajectory) -> list[Lesson] | LLMError:
            try:
                return (await analyst.analyze(traj)).lessons
            except LLMError as err:
                return err

        try:
            return list(await asyncio.gather(*(one(a, t) for a, t in jobs)))
        finally:
            await self.client.aclose()

    def _open_store(self) -> Any:
        """A connection to the store for the response cache (None: no settings, or busy)."""
        if self.settings is None:
            return None
        from skillforge.store import connect

        try:
            return connect(self.settings.db_path)
        except StoreError as exc:
            self._set_note("cache", f"skill LLM analysts ({self.model}): the response cache is "
                           f"unavailable this step ({exc.message}); calls went uncached")
            return None

    def _update_note(self) -> None:
        text = (f"skill LLM analysts ({self.model}): {self.failed} of {self.sent} episode "
                f"analyses failed (last: {self.last_error}); their families kept the miner's "
                "summary")
        if self.disabled:
            text += (f"; switched off after {DISABLE_AFTER} steps in a row in which every "
                     "call failed")
        self._set_note("failed", text)

    def _set_note(self, key: str, text: str) -> None:
        """Keep one note per ``key`` in ``notes``, replaced in place as its counts change."""
        old = self._noted.get(key)
        if old is not None and old in self.notes:
            self.notes[self.notes.index(old)] = text
        else:
            self.notes.append(text)
        self._noted[key] = text


def skill_analyst(spec: str | None, settings: Settings, *, episodes: int = 4,
                  notes: list[str] | None = None) -> SkillAnalyst | None:
    """The skill bank's analysts for ``spec`` (``MODEL`` or ``MODEL@BASE_URL``, resolved on
    top of the settings' LLM endpoint and key as ``--llm`` is); None without a spec or when
    ``episodes`` is 0. Raises UsageError at once for a bad spec or a missing API key."""
    if not spec or episodes <= 0:
        return None
    llm = parse_llm_spec(spec, settings.llm)
    return SkillAnalyst(LLMClient(llm), episodes=episodes, settings=settings, notes=notes)
