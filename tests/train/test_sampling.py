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
    assert len(a) != len(b)
    # the prefill: each distinct prompt once, length by length (no padding), longest first
    assert widths[:2] == [(1, max(len(a), len(b))), (1, min(len(a), len(b)))]
    assert all(w == (5, 1) for w in widths[2:])        # then one token per row per step
    single_a = pol.sample([a], max_new_tokens=4, temperature=1.0, greedy=True)[0]
    single_b = pol.sample([b], max_new_tokens=4, temperature=1.0, greedy=True)[0]
    assert batched == [single_a, single_b, single_a, single_a, single_b]
    # the padded prefill (for caches that cannot be joined) decodes the same
    padded = pol.sample([a, b, b], max_new_tokens=4, temperature=1.0, greedy=True)
    pol._prefill_by_length = lambda *args: None  # type: ignore[method-assign]
    widths.clear()
    hook = pol.model.register_forward_pre_hook(
        lambda _m, _args, kw: widths.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    try:
        assert pol.sample([a, b, b], max_new_tokens=4, temperature=1.0, greedy=True) == padded
    finally:
        hook.remove()
    assert widths[0] == (2, max(len(a), len(b)))       # one padded batch of the two
    # sampled rows of one prompt draw their own tokens
    gen = torch.Generator().manual_seed(0)
    drawn = pol.sample([a] * 32, max_new_tokens=3, temperature=1.0, generator=gen)
    assert len({tuple(d) for d in drawn}) > 1


def test_finished_rows_leave_the_batch_and_the_rest_decode_unchanged(small_model):
    model, suite = small_model
    pol = load_policy(TrainConfig(model=model, lora=False))
    prompts = [pol.encode(suite.prompt(t)) for t in suite.tasks()[:6]]
    free = [pol.sample([p], max_new_tokens=6, temperature=1.0, greedy=True)[0]
            for p in prompts]
    # make one prompt's first greedy token the end of sequence: that row stops at once
    stop = free[0][0]
    assert any(stop not in f for f in free[1:])
    pol.tokenizer.eos_token_id = stop
    pol.model.generation_config.eos_token_id = stop
    singles = [pol.sample([p], max_new_tokens=6, temperature=1.0, greedy=True)[0]
               for p in prompts]
    assert singles[0] == [stop]
    widths = []
    hook = pol.model.register_forward_pre_hook(
        lambda _m, _args, kw: widths.append(kw["input_ids"].shape[0]), with_kwargs=True)
    try:
        batched = pol.sample(prompts * 2, max_new_tokens=6, temperature=1.0, greedy=True)
    finally:
        hook.remove()
    assert batched == singles * 2
    decode = widths[len({len(p) for p in prompts}):]       # after the prefill forwards
    assert decode == sorted(decode, reverse=True) and decode[-1] < 12  # rows left the batch
    assert sum(len(b) for b in batched) == sum(len(s) for s in singles) * 2
