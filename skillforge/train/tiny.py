"""Tiny models built from a config (no download) for the ``codes`` suite: tests, demos, CPU
benchmarks. A character-level tokenizer, a small Llama-style model, and a short supervised
warm-up that teaches it to read a skill: copy the code the context states, and answer at
chance when the context states none.
"""

from __future__ import annotations

import random
from pathlib import Path

from skillforge.train._deps import require_train_extra
from skillforge.train.synthetic import CodeSuite

__all__ = ["PRINTABLE", "build_char_tokenizer", "build_tiny_model", "warm_up_skill_reader"]

SPECIALS = ("<pad>", "<eos>", "<unk>")
PRINTABLE = "".join(chr(c) for c in range(32, 127)) + "\n\t"


def build_char_tokenizer(chars: str):  # noqa: ANN201 (a transformers tokenizer)
    """A character-level fast tokenizer: ``<pad>`` 0, ``<eos>`` 1, ``<unk>`` 2, then ``chars``."""
    require_train_extra()
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for c in sorted(set(chars)):
        vocab.setdefault(c, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                   unk_token="<unk>")


def build_tiny_model(path: Path, suite: CodeSuite | str, *, hidden: int = 64, layers: int = 2,
                     heads: int = 4, seed: int = 0, context: int = 64) -> Path:
    """Write a randomly initialized Llama-style model and its tokenizer to ``path``.

    ``suite``: the ``codes`` suite (its characters) or the characters themselves (e.g.
    ``PRINTABLE`` for a multi-turn suite, whose prompts then need a ``context`` of thousands).
    """
    torch, transformers, _ = require_train_extra()
    from skillforge.train._model import _quiet_transformers

    _quiet_transformers()
    tok = build_char_tokenizer(suite if isinstance(suite, str) else suite.charset())
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=context, pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(cfg)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def warm_up_skill_reader(path: Path, suite: CodeSuite, *, steps: int = 300, batch: int = 64,
                         lr: float = 3e-3, confidence: float = 0.85,
                         plain_share: float = 0.5, memorized: int = 8,
                         seed: int = 0) -> dict[str, float]:
    """Supervised warm-up of the model at ``path`` (saved back in place).

    Half the examples state a random code in the context (``s:CODE|t:a3>CODE``): the model
    learns to copy what a skill says, with probability ``confidence`` per letter (the rest
    spread over the other letters: a teacher that is right but not certain, as a model
    reading a skill is). The other half state none (``t:a3>CODE`` with a random code): with
    no skill the model answers at chance, knowing nothing of the families' real codes.
    ``memorized`` further families (letters after the suite's) have fixed codes the model
    learns by heart, and their skill-stated examples state other codes: the model learns
    that a skill in context overrides what it remembers, as a pretrained model does.
    Returns the final loss and the with-skill greedy copy accuracy on the eval tasks.
    """
    torch, transformers, _ = require_train_extra()
    from skillforge.train._model import _quiet_transformers

    _quiet_transformers()
    tok = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    tasks = suite.tasks("train") + suite.tasks("eval")  # the item numbers carry no answer
    extra = "abcdefghijklmnopqrstuvwxyz"[len(suite.letters):len(suite.letters) + memorized]
    fixed = random.Random(len(suite.letters))  # the same remembered codes on every call
    memo = {x: "".join(fixed.choice(suite.alphabet) for _ in range(suite.code_len))
            for x in extra}
    for x in extra:
        tasks += [type(tasks[0])(id=f"{x}{k}", family=f"family-{x}", instruction=f"t{k}:{x}",
                                 params={"letter": x, "item": k}) for k in range(suite.items)]
    letters = [tok.convert_tokens_to_ids(c) for c in suite.alphabet]
    eos_id = tok.eos_token_id
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    loss_v = 0.0
    for _ in range(steps):
        rows: list[tuple[list[int], list[list[float] | None]]] = []
        for _ in range(batch):
            t = rng.choice(tasks)
            code = "".join(rng.choice(suite.alphabet) for _ in range(suite.code_len))
            stated = rng.random() >= plain_share
            if not stated and t.params["letter"] in memo:
                code = memo[t.params["letter"]]
            prompt = tok(str(suite.prompt(t, f"code {code}" if stated else None)))["input_ids"]
            answer = tok(code)["input_ids"] + [eos_id]
            targets: list[list[float] | None] = [None] * (len(prompt) - 1)
            for ch in code:
                dist: list[float] = [0.0] * len(tok)
                for c, tid in zip(suite.alphabet, letters, strict=True):
                    if not stated and t.params["letter"] in memo:
                        dist[tid] = float(c == ch)
                    elif not stated:
                        dist[tid] = 1.0 / len(letters)
                    elif c == ch:
                        dist[tid] = confidence
                    else:
                        dist[tid] = (1.0 - confidence) / (len(letters) - 1)
                targets.append(dist)
            targets.append([float(i == eos_id) for i in range(len(tok))])
            rows.append((list(prompt) + answer, targets))
        width = max(len(ids) for ids, _ in rows)
        ids_t = torch.full((batch, width), tok.pad_token_id, dtype=torch.long)
        attn = torch.zeros((batch, width), dtype=torch.long)
        soft = torch.zeros((batch, width - 1, len(tok)))
        weight = torch.zeros((batch, width - 1))
        for r, (ids, targets) in enumerate(rows):
            ids_t[r, :len(ids)] = torch.tensor(ids)
            attn[r, :len(ids)] = 1
            for i, target in enumerate(targets):
                if target is not None:
                    soft[r, i] = torch.tensor(target)
                    weight[r, i] = 1.0
        logits = model(input_ids=ids_t, attention_mask=attn).logits[:, :-1]
        per_pos = -(soft * torch.log_softmax(logits.float(), -1)).sum(-1)
        loss = (per_pos * weight).sum() / weight.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_v = loss.item()
    model.eval()
    right = 0
    evals = suite.tasks("eval")
    with torch.no_grad():
        for t in evals:
            code = "".join(rng.choice(suite.alphabet) for _ in range(suite.code_len))
            ids = tok(str(suite.prompt(t, f"code {code}")), return_tensors="pt")["input_ids"]
            got = model.generate(ids, max_new_tokens=suite.code_len, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            right += tok.decode(got[0, ids.shape[1]:], skip_special_tokens=True) == code
    model.save_pretrained(str(path))
    return {"loss": loss_v, "copy_accuracy": right / len(evals)}
