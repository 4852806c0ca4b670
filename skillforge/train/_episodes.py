"""Playing a step's episodes of a multi-turn suite with the model being trained.

All episodes of a step run at once (asyncio, tools in worker threads); each turn of every
live episode is drawn in one batch by the sampler (:class:`TurnBatcher`). Every episode is
played by the runners' own ``play_episode`` in a fresh workspace, so trajectories, tools,
limits and verdicts are those of ``skillforge run``. A sampler failure (the GPU ran out of
memory, the vLLM server went away) fails the step; an episode's own error (a broken
environment) only ends that episode, as in ``run``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from skillforge.runners.episode import EpisodeResult, EpisodeSpec, play_episode
from skillforge.train._model import Policy
from skillforge.train._rollout import Sampler
from skillforge.train.agentic import EpisodeSuite, TrainAgent, TurnBatcher
from skillforge.train.config import TrainConfig
from skillforge.train.suites import Score, TrainTask

__all__ = ["Played", "play_episodes"]


@dataclass
class Played:
    """One finished episode: its task and group, the agent (with its turns) and the result."""

    task: TrainTask
    group: int
    agent: TrainAgent
    result: EpisodeResult

    @property
    def score(self) -> Score:
        """The verifier's reward and success, as the trainer scores episodes."""
        o = self.result.trajectory.outcome
        return Score(reward=float(o.reward or 0.0), success=bool(o.success),
                     detail=o.detail or "")


def play_episodes(suite: EpisodeSuite, owners: list[tuple[int, TrainTask]], *, policy: Policy,
                  sampler: Sampler, cfg: TrainConfig, step: int, greedy: bool,
                  generator: torch.Generator | None,
                  skill_for: Callable[[TrainTask], str | None] | None = None,
                  run_id: str = "") -> list[Played]:
    """Play one episode per ``(group, task)`` of ``owners``, in that order.

    ``skill_for`` gives an episode's agent a skill in its instructions (evaluating the
    with-skill teacher); in training the student plays without one.
    """
    return asyncio.run(_play(suite, owners, policy=policy, sampler=sampler, cfg=cfg,
                             step=step, greedy=greedy, generator=generator,
                             skill_for=skill_for, run_id=run_id))


def _context(policy: Policy) -> int:
    conf = getattr(policy.model, "config", None)
    n = getattr(conf, "max_position_embeddings", None)
    if isinstance(n, int) and n > 0:
        return n
    limit = getattr(policy.tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 10**7 else 32_768


async def _play(suite: EpisodeSuite, owners: list[tuple[int, TrainTask]], *, policy: Policy,
                sampler: Sampler, cfg: TrainConfig, step: int, greedy: bool,
                generator: torch.Generator | None,
                skill_for: Callable[[TrainTask], str | None] | None,
                run_id: str) -> list[Played]:
    failure: list[BaseException] = []

    def draw(prompts: list[list[int]]) -> list[tuple[list[int], list[float] | None]]:
        try:
            return sampler.sample(prompts, max_new_tokens=cfg.max_new_tokens,
                                  temperature=cfg.temperature, greedy=greedy,
                                  generator=generator)
        except BaseException as exc:
            failure.append(exc)
            raise

    batcher = TurnBatcher(draw)
    context = _context(policy)
    native = policy.native_tools
    agents = []
    for ei, (_, task) in enumerate(owners):
        batcher.join(ei)
        agents.append(TrainAgent(
            batcher.for_episode(ei), encode=policy.encode_chat, decode=policy.decode_reply,
            native_tools=native, model=str(cfg.model), context=context,
            max_new_tokens=cfg.max_new_tokens,
            skill=skill_for(task) if skill_for is not None else None))
    executor = ThreadPoolExecutor(max_workers=min(32, len(owners) + 2),
                                  thread_name_prefix="skillforge-train")
    base = Path(tempfile.mkdtemp(prefix=f"skillforge-train-{suite.name}-"))

    async def one(ei: int) -> EpisodeResult:
        gi, task = owners[ei]
        spec = EpisodeSpec(index=ei, task=suite.runner_task(task),
                           key=f"step{step}-{ei:04d}-{task.id}",
                           seed=cfg.seed * 1_000_003 + step * 1_009 + ei)
        workdir = base / f"{ei:04d}"
        workdir.mkdir(mode=0o700)
        try:
            return await play_episode(suite.suite, spec, agents[ei], workdir=workdir,
                                      executor=executor, max_steps=cfg.max_turns,
                                      timeout_s=cfg.episode_timeout, run_id=run_id)
        finally:
            batcher.leave(ei)

    try:
        results = await asyncio.gather(*(one(ei) for ei in range(len(owners))))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(base, ignore_errors=True)
    if failure:
        raise failure[0]
    return [Played(owners[ei][1], owners[ei][0], agents[ei], res)
            for ei, res in enumerate(results)]
