"""Skill-SD teaches a student what only the skill said (CPU, about a minute).

A tiny Llama-style model (3 layers x 128, built from a config, no download) is first trained
here to read a skill: with "s:CODE|" in its context it answers CODE; with no skill it answers
at chance (and, for other families it knows by heart, a stated code overrides memory).
The `codes` suite's families each have a secret 3-letter code (chance 1/64) that the
family's skill states. Then, from the same start and for the same number of steps:

- Skill-SD: GRPO on the rewards + the distillation term from the model itself reading the
  skill;
- plain GRPO: the same without the distillation term.

Skill-SD must raise the no-skill student's accuracy on held-out tasks by a clear margin and
beat plain GRPO by one, both with LoRA adapters (the default; lr 1e-3, as adapters want) and
with all weights trained (lr 1e-4). The distillation weight is 1.0: the default 0.001 leaves
the term negligible next to GRPO's here (see bench/README.md, "train", for other seeds and
weights).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import train_fixtures  # noqa: E402  (fixtures shared by the train tests)

from skillforge.settings import Settings  # noqa: E402
from skillforge.train import CodeSuite, TrainConfig, train  # noqa: E402

STEPS = 160

skill_library = train_fixtures.skill_library


@pytest.fixture(scope="module")
def skill_reader(tmp_path_factory):
    from skillforge.train.tiny import build_tiny_model, warm_up_skill_reader

    torch.set_num_threads(2)
    suite = CodeSuite(families=8, items=10, eval_items=2, code_len=3, alphabet="ABCD", seed=0)
    path = build_tiny_model(tmp_path_factory.mktemp("reader") / "model", suite, hidden=128,
                            layers=3, heads=4, seed=0)
    warm = warm_up_skill_reader(path, suite, steps=600, lr=2e-3, plain_share=0.3,
                                memorized=8, seed=0)
    assert warm["copy_accuracy"] == 1.0  # it reads a stated code
    return path, suite


def _run(path, suite, lib, home, distill_weight, lora):
    cfg = TrainConfig(model=path, steps=STEPS, tasks_per_step=16, group_size=8,
                      distill_weight=distill_weight, lr=1e-3 if lora else 1e-4, lora=lora,
                      lora_rank=16, lora_alpha=32, max_new_tokens=4, micro_batch=64,
                      skills=[lib], learn_skills=False, checkpoint_every=STEPS, seed=0)
    return train(cfg, Settings.load(home), suite=suite)


@pytest.mark.parametrize("lora", [True, False], ids=["lora", "full"])
def test_skill_sd_beats_plain_grpo_on_the_no_skill_student(skill_reader, tmp_path, skill_library,
                                                           lora):
    path, suite = skill_reader
    lib = skill_library(tmp_path / "skills", suite.reference_skills())
    sd = _run(path, suite, lib, tmp_path / "home-sd", 1.0, lora)
    rl = _run(path, suite, lib, tmp_path / "home-grpo", 0.0, lora)

    # the starting point: the with-skill teacher is right, the no-skill student is not
    assert sd.eval_before["teacher"] >= 0.9
    assert sd.eval_before["student"] <= 0.2
    assert sd.eval_before == rl.eval_before  # the same start

    before, after_sd, after_rl = (sd.eval_before["student"], sd.eval_after["student"],
                                  rl.eval_after["student"])
    assert after_sd >= before + 0.4, (before, after_sd)
    assert after_sd >= after_rl + 0.2, (after_sd, after_rl)
    # the distillation term is what closed the gap: KL to the skill teacher fell
    assert sd.metrics[-1].kl < sd.metrics[0].kl
