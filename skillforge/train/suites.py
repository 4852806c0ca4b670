"""What training plays: a suite of single-turn tasks, each scored from one completion (or,
through ``skillforge.train.agentic``, any multi-turn suite of the runners).

A ``TrainSuite`` lists ``TrainTask`` objects (each in a task family: the unit a skill is kept
for), builds the prompt of a task with or without a skill (the student never sees the skill;
the teacher does), and scores a completion with a reward in [0, 1]. Suites are found by name
(``register_suite``); ``codes`` (``skillforge.train.synthetic``) is built in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillforge.errors import UsageError

if TYPE_CHECKING:
    from skillforge.train.agentic import EpisodeSuite

__all__ = ["Prompt", "Score", "TrainSuite", "TrainTask", "load_train_suite", "register_suite",
           "suite_names"]

# A prompt is raw text (completed as is) or chat messages (rendered with the chat template).
Prompt = str | list[dict[str, str]]


@dataclass(frozen=True)
class TrainTask:
    """One task: its id, its family, the instruction, and whatever the suite needs to score."""

    id: str
    family: str
    instruction: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Score:
    """A completion's reward in [0, 1], whether it counts as a success, and why."""

    reward: float
    success: bool
    detail: str = ""


class TrainSuite(ABC):
    """A task suite for on-policy training."""

    name: str = ""
    description: str = ""

    @abstractmethod
    def tasks(self, split: str = "train") -> list[TrainTask]:
        """The tasks of ``split`` (``train`` or ``eval``), in a fixed order."""

    @abstractmethod
    def score(self, task: TrainTask, completion: str) -> Score:
        """Judge one completion of ``task``."""

    def prompt(self, task: TrainTask, skill: str | None = None) -> Prompt:
        """The task's prompt; with ``skill``, the skill goes first as privileged context."""
        messages = []
        if skill:
            messages.append({"role": "system",
                             "content": "Use this skill for the task.\n\n" + skill.strip()})
        messages.append({"role": "user", "content": task.instruction})
        return messages

    def families(self) -> list[str]:
        """The task families of the train split, sorted."""
        return sorted({t.family for t in self.tasks("train")})


_REGISTRY: dict[str, Callable[[], TrainSuite]] = {}


def register_suite(name: str, factory: Callable[[], TrainSuite]) -> None:
    """Make a suite available to ``skillforge train --suite NAME``."""
    _REGISTRY[name] = factory


def suite_names() -> list[str]:
    """Names of the registered suites and of the runners' suites (multi-turn)."""
    from skillforge.runners.discovery import list_suites

    _builtins()
    return sorted(set(_REGISTRY) | {i.name for i in list_suites()})


def _builtins() -> None:
    if "codes" not in _REGISTRY:
        from skillforge.train.synthetic import CodeSuite

        register_suite("codes", CodeSuite)


def load_train_suite(name: str) -> TrainSuite | EpisodeSuite:
    """The registered suite called ``name``; else the runners' suite of that name (or
    folder), played multi-turn (``skillforge.train.agentic``)."""
    from skillforge.runners.discovery import list_suites, load_suite
    from skillforge.train.agentic import EpisodeSuite

    _builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]()
    if name in {i.name for i in list_suites()} or (Path(name).expanduser() / "suite.py").is_file():
        return EpisodeSuite(load_suite(name))  # its own errors (a missing extra) stand
    raise UsageError(f"unknown training suite {name!r}",
                     hint="known: " + ", ".join(suite_names())
                     + " (single-turn suites are registered in code; any suite "
                       "`skillforge run` plays is trained on multi-turn, also given as a "
                       "folder holding suite.py)")
