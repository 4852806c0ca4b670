"""The policy's own sampler: distinct prompts are prefilled once and their KV cache shared by
the rows that repeat them (a GRPO group), with the same completions as one prompt at a time."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import train_fixtures  # noqa: E402  (fixtures shared by the train tests)

from skillforge.train import TrainConfig  # noqa: E402
from skillforge.train._model import load_policy  # noqa: E402

small_model = train_fixtures.small_model


def test_repeated_prompts_are_prefilled_once_and_decode_like_single_prompts(small_model):
    model, suite = small_model
    pol = load_policy(TrainConfig(model=model, lora=False))
    a = pol.encode(suite.prompt(suite.tasks()[0]))
    b = pol.encode("s:AB|" + suite.tasks()[1].instruction)
    widths = []
    hook = pol.model.register_forward_pre_hook(
        lambda _m, _args, kw: widths.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    try:
        batched = pol.sample([a, b, a, a, b], max_new_tokens=4, temperature=1.0, greedy=True)
    finally:
        hook.remove()
    assert widths[0] == (2, max(len(a), len(b)))      # the prefill: two distinct prompts
    assert all(w == (5, 1) for w in widths[1:])        # then one token per row per step
    single_a = pol.sample([a], max_new_tokens=4, temperature=1.0, greedy=True)[0]
    single_b = pol.sample([b], max_new_tokens=4, temperature=1.0, greedy=True)[0]
    assert batched == [single_a, single_b, single_a, single_a, single_b]
    # sampled rows of one prompt draw their own tokens
    gen = torch.Generator().manual_seed(0)
    drawn = pol.sample([a] * 32, max_new_tokens=3, temperature=1.0, generator=gen)
    assert len({tuple(d) for d in drawn}) > 1
