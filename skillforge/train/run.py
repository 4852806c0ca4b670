"""``train``: the library call behind ``skillforge train`` (torch is imported only here on)."""

from __future__ import annotations

from collections.abc import Callable

from skillforge.settings import Settings
from skillforge.train._deps import require_train_extra
from skillforge.train.agentic import EpisodeSuite
from skillforge.train.config import TrainConfig
from skillforge.train.record import StepMetrics, TrainResult
from skillforge.train.suites import TrainSuite

__all__ = ["train"]


def train(config: TrainConfig, settings: Settings, *,
          suite: TrainSuite | EpisodeSuite | None = None,
          on_step: Callable[[StepMetrics], None] | None = None) -> TrainResult:
    """Run Skill-SD as ``config`` says; MissingExtra when torch/transformers/peft are absent.

    ``suite`` overrides ``config.suite`` (a suite object built in code; a runners suite
    wrapped in ``EpisodeSuite`` trains multi-turn); ``on_step`` is called
    with each step's metrics (the CLI prints them).
    """
    require_train_extra()
    from skillforge.train.trainer import SkillSDTrainer

    return SkillSDTrainer(config, settings, suite=suite, on_step=on_step).run()
