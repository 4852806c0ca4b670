"""What a Skill-SD training run is asked to do (torch-free, so the CLI can build it)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["DEFAULT_DISTILL_WEIGHT", "DEFAULT_RHO_CLIP", "TrainConfig"]

DEFAULT_DISTILL_WEIGHT = 0.001
DEFAULT_RHO_CLIP = 2.0


class TrainConfig(BaseModel):
    """Settings of ``skillforge train``; every field is a CLI option of the same name.

    Loss per generated token t (see ``skillforge.train.loss``)::

        l_t   = log p_student(y_t) - log p_teacher(y_t | skill)
        rho_t = min(p_current(y_t) / p_behaviour(y_t), rho_clip)
        total = GRPO(rewards) + distill_weight * mean_t rho_t * (exp(-l_t) - 1 + l_t)
    """

    model: Path
    suite: str = "codes"
    steps: int = Field(default=50, ge=1)
    tasks_per_step: int = Field(default=8, ge=1)
    group_size: int = Field(default=8, ge=2)
    distill_weight: float = Field(default=DEFAULT_DISTILL_WEIGHT, ge=0.0)
    rho_clip: float = Field(default=DEFAULT_RHO_CLIP, ge=1.0)
    clip_eps: float = Field(default=0.2, gt=0.0, lt=1.0)
    ppo_epochs: int = Field(default=1, ge=1)
    lr: float = Field(default=1e-4, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    max_grad_norm: float = Field(default=1.0, gt=0.0)
    temperature: float = Field(default=1.0, gt=0.0)
    max_new_tokens: int = Field(default=256, ge=1)
    max_turns: int = Field(default=8, ge=1)
    episode_timeout: float = Field(default=1800.0, gt=0)
    micro_batch: int = Field(default=16, ge=1)
    lora: bool = True
    lora_rank: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    lora_targets: list[str] = Field(default_factory=lambda: ["all-linear"])
    skills: list[Path] = Field(default_factory=list)
    learn_skills: bool = True
    skill_window: int = Field(default=64, ge=1)
    skill_max_chars: int = Field(default=1500, ge=100)
    skill_llm: str | None = None
    skill_llm_episodes: int = Field(default=4, ge=0)
    rollout: Literal["auto", "generate", "vllm"] = "auto"
    eval_every: int = Field(default=0, ge=0)
    eval_tasks: int | None = Field(default=None, ge=1)
    checkpoint_every: int = Field(default=10, ge=1)
    seed: int = 0
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    out: Path | None = None
    resume: str | None = None
