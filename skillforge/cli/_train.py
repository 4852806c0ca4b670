"""Command: train (Skill-SD: make a model internalize the skills skillforge distilled)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from skillforge.cli._app import HomeOpt, JsonOpt, app, settings_for


@app.command()
def train(
    model: Annotated[Path, typer.Argument(
        help="Local model folder (Hugging Face format); nothing is downloaded.")],
    suite: Annotated[str, typer.Option(
        "--suite", help="Training suite: codes (built in, single-turn), or any suite "
                        "`skillforge run` plays (workspace, tau2, textworld, a folder), "
                        "played multi-turn with tool calls.")] = "codes",
    skills: Annotated[list[Path] | None, typer.Option(
        "--skills", help="Skill package folder or library seeding the skill bank (repeatable); "
                         "a package seeds the task family it is named after; on a runner "
                         "suite, one named after a tool (a distilled capability such as "
                         "move-file) joins the families whose episodes call it.")] = None,
    steps: Annotated[int, typer.Option("--steps", help="Optimizer steps in all.")] = 50,
    tasks_per_step: Annotated[int, typer.Option(
        "--tasks-per-step", help="Tasks sampled per step.")] = 8,
    group_size: Annotated[int, typer.Option(
        "--group-size", help="Completions per task (the GRPO group).")] = 8,
    distill_weight: Annotated[float, typer.Option(
        "--lambda", help="Weight of the Skill-SD distillation term (0: plain GRPO).")] = 0.001,
    rho_clip: Annotated[float, typer.Option(
        "--rho-clip", help="Upper clip of the importance ratio current/behaviour in the "
                           "distillation term.")] = 2.0,
    clip_eps: Annotated[float, typer.Option(
        "--clip-eps", help="PPO clip range of the GRPO ratio.")] = 0.2,
    ppo_epochs: Annotated[int, typer.Option(
        "--ppo-epochs", help="Update passes over each step's samples.")] = 1,
    lr: Annotated[float, typer.Option("--lr", help="AdamW learning rate.")] = 1e-4,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="AdamW decay.")] = 0.0,
    max_grad_norm: Annotated[float, typer.Option(
        "--max-grad-norm", help="Gradient norm clip.")] = 1.0,
    temperature: Annotated[float, typer.Option(
        "--temperature", help="Sampling temperature (log-probs use the same).")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(
        "--max-new-tokens", help="Longest completion (per turn in multi-turn suites).")] = 256,
    max_turns: Annotated[int, typer.Option(
        "--max-turns", help="Model replies allowed per episode (multi-turn suites).")] = 8,
    episode_timeout: Annotated[float, typer.Option(
        "--episode-timeout", help="Seconds allowed per episode (multi-turn suites).")] = 1800.0,
    micro_batch: Annotated[int, typer.Option(
        "--micro-batch", help="Sequences per forward/backward pass.")] = 16,
    full: Annotated[bool, typer.Option(
        "--full", help="Train all weights instead of LoRA adapters.")] = False,
    lora_rank: Annotated[int, typer.Option("--lora-rank", help="LoRA rank.")] = 16,
    lora_alpha: Annotated[int, typer.Option("--lora-alpha", help="LoRA alpha.")] = 32,
    lora_dropout: Annotated[float, typer.Option("--lora-dropout", help="LoRA dropout.")] = 0.0,
    lora_target: Annotated[list[str] | None, typer.Option(
        "--lora-target", help="Module names LoRA wraps (repeatable; default: all linear "
                              "layers).")] = None,
    learn_skills: Annotated[bool, typer.Option(
        "--learn-skills/--no-learn-skills", help="Summarize the student's episodes into the "
                                                 "skill bank as training goes.")] = True,
    skill_window: Annotated[int, typer.Option(
        "--skill-window", help="Recent episodes per family the summaries rest on.")] = 64,
    skill_max_chars: Annotated[int, typer.Option(
        "--skill-max-chars", help="Longest skill text the teacher reads.")] = 1500,
    skill_llm: Annotated[str | None, typer.Option(
        "--skill-llm", help="Also summarize new episodes with the LLM success and failure "
                            "analysts of this model (MODEL or MODEL@BASE_URL, as --llm of "
                            "analyze; key and endpoint from settings otherwise). A failing "
                            "model is noted in the report and training goes on.")] = None,
    skill_llm_episodes: Annotated[int, typer.Option(
        "--skill-llm-episodes", help="New episodes per family sent to the LLM analysts each "
                                     "step, successes and failures mixed (0: none).")] = 4,
    rollout: Annotated[Literal["auto", "generate", "vllm"], typer.Option(
        "--rollout", help="auto: through vLLM when `skillforge serve` serves this model with "
                          "LoRA, else the model's own sampler.")] = "auto",
    eval_every: Annotated[int, typer.Option(
        "--eval-every", help="Evaluate every N steps (0: at start and end only).")] = 0,
    eval_tasks: Annotated[int | None, typer.Option(
        "--eval-tasks", help="Evaluate on at most this many eval tasks.")] = None,
    checkpoint_every: Annotated[int, typer.Option(
        "--checkpoint-every", help="Save a resumable checkpoint every N steps.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    dtype: Annotated[Literal["auto", "float32", "bfloat16", "float16"], typer.Option(
        "--dtype", help="Weights dtype (auto: bfloat16 on a GPU that has it).")] = "auto",
    device: Annotated[str, typer.Option(
        "--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Run folder (default $SKILLFORGE_HOME/train/RUN_ID).")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Resume a run (its id or folder) from its last checkpoint; --steps "
                         "may extend it.")] = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> int:
    """Skill-SD: on-policy GRPO plus distillation from the model itself reading the skill.

    The student answers each task under the plain prompt; the teacher (the same weights,
    synced every step) scores the student's tokens with the task family's skill in its
    context. Loss per token: rho * (exp(-l) - 1 + l), l = log p_student - log p_teacher,
    rho = min(p_current / p_behaviour, --rho-clip); total = GRPO + --lambda * that. Metrics
    per step go to the store (train_steps) and to reports/train-RUN.md and .html. Needs the
    `train` extra (torch, transformers, peft).

    With a runner suite (--suite workspace) the model plays whole episodes: each reply may
    call tools with <tool_call>{"name": ..., "arguments": {...}}</tool_call> blocks, every
    reply is a training sample carrying its episode's reward, and the teacher reads the
    same conversation with the skill in the system message. The episodes are written to
    RUN/episodes.jsonl (skillforge JSONL: `skillforge distill` reads them).
    """
    from skillforge.train import StepMetrics, TrainConfig
    from skillforge.train import train as run_train

    cfg = TrainConfig(
        model=model, suite=suite, steps=steps, tasks_per_step=tasks_per_step,
        group_size=group_size, distill_weight=distill_weight, rho_clip=rho_clip,
        clip_eps=clip_eps, ppo_epochs=ppo_epochs, lr=lr, weight_decay=weight_decay,
        max_grad_norm=max_grad_norm, temperature=temperature, max_new_tokens=max_new_tokens,
        max_turns=max_turns, episode_timeout=episode_timeout,
        micro_batch=micro_batch, lora=not full, lora_rank=lora_rank, lora_alpha=lora_alpha,
        lora_dropout=lora_dropout, lora_targets=list(lora_target or ["all-linear"]),
        skills=list(skills or []), learn_skills=learn_skills, skill_window=skill_window,
        skill_max_chars=skill_max_chars, skill_llm=skill_llm,
        skill_llm_episodes=skill_llm_episodes, rollout=rollout, eval_every=eval_every,
        eval_tasks=eval_tasks, checkpoint_every=checkpoint_every, seed=seed, dtype=dtype,
        device=device, out=out, resume=resume)

    def show(m: StepMetrics) -> None:
        if not json_out:
            calls = (f", {m.turns:.1f} replies an episode, {m.bad_calls} of {m.tool_calls} "
                     "tool calls unusable" if m.tool_calls else "")
            typer.echo(f"step {m.step}: reward {m.reward:.3f}, distill {m.distill_loss:.4f}, "
                       f"KL {m.kl:.4f}, {m.tokens_per_s:.0f} tokens/s{calls}")

    res = run_train(cfg, settings_for(home), on_step=show)
    if json_out:
        typer.echo(json.dumps(res.model_dump(mode="json"), indent=2))
    else:
        typer.echo(res.summary())
    return 0
