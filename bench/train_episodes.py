"""Multi-turn rollouts for training: lockstep batching vs one episode at a time.

``skillforge train --suite workspace`` plays all episodes of a step at once and draws each
turn of every live episode in one sampler call. This measures what that buys: N episodes of
the real ``workspace`` suite played by a small randomly initialized model (a char-level
Llama built from a config; nothing downloaded) through the model's own sampler, once with
all N in lockstep and once one by one (the same code with N = 1, repeated); the episodes are
``--tasks`` tasks x ``--group`` episodes each, as a GRPO step draws them (the lockstep
sampler prefills a repeated prompt once). Median of ``--reps`` alternating runs. A random model
rarely writes a valid tool call, so most episodes are one turn: the figure is the batched
prefill and decoding of long agent prompts (about 3,000 tokens of instructions and tools).
Decoding is greedy so that both ways generate exactly the same tokens.

    python bench/train_episodes.py [--tasks 4] [--group 4] [--max-new-tokens 32]
        [--hidden 128] [--layers 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(tasks_n: int, group: int, max_new_tokens: int, reps: int, hidden: int,
        layers: int) -> dict[str, Any]:
    import torch

    from skillforge.train import TrainConfig
    from skillforge.train._episodes import play_episodes
    from skillforge.train._model import load_policy
    from skillforge.train._rollout import HFSampler
    from skillforge.train.suites import load_train_suite
    from skillforge.train.tiny import PRINTABLE, build_tiny_model

    torch.manual_seed(0)
    suite = load_train_suite("workspace")
    tasks = suite.tasks("train")
    owners = [(gi, tasks[gi]) for gi in range(tasks_n) for _ in range(group)]
    episodes = len(owners)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_model(Path(tmp) / "m", PRINTABLE, hidden=hidden, layers=layers, heads=4,
                                 context=8192)
        cfg = TrainConfig(model=model, suite="workspace", max_new_tokens=max_new_tokens,
                          max_turns=4, lora=False)
        policy = load_policy(cfg)
        sampler = HFSampler(policy)

        def play(batch: list[tuple[int, Any]]) -> tuple[float, int, int]:
            gen = torch.Generator().manual_seed(0)
            t0 = time.perf_counter()
            got = play_episodes(suite, batch, policy=policy, sampler=sampler,  # type: ignore
                                cfg=cfg, step=0, greedy=True, generator=gen)
            seconds = time.perf_counter() - t0
            turns = sum(len(p.agent.turns) for p in got)
            tokens = sum(len(t.completion) for p in got for t in p.agent.turns)
            return seconds, turns, tokens

        play(owners[:2])  # warm-up
        lock, single = [], []
        for _ in range(reps):  # alternate the two, keep each one's median
            lock.append(play(owners))
            t_one = turns_one = tok_one = 0.0
            for o in owners:
                s, n, k = play([o])
                t_one += s
                turns_one += n
                tok_one += k
            single.append((t_one, int(turns_one), int(tok_one)))
        t_batch, turns_b, tok_b = sorted(lock)[len(lock) // 2]
        t_one, turns_one, tok_one = sorted(single)[len(single) // 2]
    return {"episodes": episodes, "tasks": tasks_n, "group": group, "hidden": hidden,
            "layers": layers,
            "max_new_tokens": max_new_tokens,
            "lockstep_s": round(t_batch, 3), "one_by_one_s": round(t_one, 3),
            "speedup": round(t_one / t_batch, 2),
            "lockstep_episodes_per_s": round(episodes / t_batch, 2),
            "one_by_one_episodes_per_s": round(episodes / t_one, 2),
            "turns": [turns_b, turns_one], "generated": [tok_b, tok_one],
            "lockstep_generated_per_s": round(tok_b / t_batch),
            "one_by_one_generated_per_s": round(tok_one / t_one)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=4, help="distinct tasks")
    ap.add_argument("--group", type=int, default=4, help="episodes per task (GRPO group)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = run(a.tasks, a.group, a.max_new_tokens, a.reps, a.hidden, a.layers)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['episodes']} workspace episodes ({res['tasks']} tasks x {res['group']}), "
          f"model {res['layers']} x {res['hidden']}, "
          f"up to {res['max_new_tokens']} new tokens a turn, greedy (turns "
          f"{res['turns'][0]} / {res['turns'][1]}, tokens generated {res['generated'][0]} / "
          f"{res['generated'][1]}: lockstep / one by one)")
    print(f"  lockstep:   {res['lockstep_s']:.2f} s  ({res['lockstep_episodes_per_s']:.1f} "
          f"episodes/s, {res['lockstep_generated_per_s']} generated tokens/s)")
    print(f"  one by one: {res['one_by_one_s']:.2f} s  ({res['one_by_one_episodes_per_s']:.1f} "
          f"episodes/s, {res['one_by_one_generated_per_s']} generated tokens/s)")
    print(f"  speedup:    {res['speedup']:.2f}x")


if __name__ == "__main__":
    main()
