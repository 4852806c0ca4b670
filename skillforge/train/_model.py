"""The policy: loading the model (LoRA by default), encoding prompts, sampling, log-probs."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from skillforge.errors import UsageError
from skillforge.train.config import TrainConfig
from skillforge.train.suites import Prompt

__all__ = ["Policy", "load_policy"]


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def _dtype(spec: str, device: torch.device) -> torch.dtype:
    if spec == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16,
            "float16": torch.float16}[spec]


@dataclass
class Policy:
    """The model being trained (a peft model when LoRA is on) and its tokenizer."""

    model: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    lora: bool
    keep_logits: bool

    @property
    def pad_id(self) -> int:
        """The padding token id."""
        return int(self.tokenizer.pad_token_id)

    @property
    def eos_ids(self) -> set[int]:
        """Token ids that end a completion."""
        ids = {int(self.tokenizer.eos_token_id)} if self.tokenizer.eos_token_id is not None \
            else set()
        gen = getattr(self.model, "generation_config", None)
        extra = getattr(gen, "eos_token_id", None) if gen is not None else None
        if isinstance(extra, int):
            ids.add(extra)
        elif isinstance(extra, list):
            ids.update(int(x) for x in extra)
        return ids

    def encode(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt: raw text as is, chat messages through the chat template."""
        tok = self.tokenizer
        if isinstance(prompt, str):
            return list(tok(prompt, add_special_tokens=True)["input_ids"])
        if not getattr(tok, "chat_template", None):
            text = "".join(f"{m['role']}: {m['content']}\n" for m in prompt) + "assistant: "
            return list(tok(text, add_special_tokens=True)["input_ids"])
        text = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
        return list(tok(text, add_special_tokens=False)["input_ids"])

    @property
    def native_tools(self) -> bool:
        """Whether the tokenizer's chat template renders a ``tools`` list itself."""
        template = getattr(self.tokenizer, "chat_template", None)
        return isinstance(template, str) and "tools" in template

    def encode_chat(self, messages: list[dict[str, Any]],
                    tools: list[dict[str, Any]] | None = None) -> list[int]:
        """Token ids of a conversation, ready for the assistant's next reply; ``tools``
        (chat-completions tool entries) go to a chat template that renders them."""
        tok = self.tokenizer
        if tools is None or not self.native_tools:
            return self.encode([{"role": m["role"], "content": str(m.get("content") or "")}
                                for m in messages])
        text = tok.apply_chat_template(messages, tools=tools, add_generation_prompt=True,
                                       tokenize=False)
        return list(tok(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        """Text of a completion (special tokens dropped)."""
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def decode_reply(self, ids: list[int]) -> str:
        """Text of an agent's reply: end-of-sequence and padding dropped, other special
        tokens kept (a template may mark tool calls with them, e.g. ``<tool_call>``)."""
        drop = self.eos_ids | {self.pad_id}
        return str(self.tokenizer.decode([t for t in ids if t not in drop],
                                         skip_special_tokens=False))

    # sampling --------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, prompts: list[list[int]], *, max_new_tokens: int, temperature: float,
               greedy: bool = False, generator: torch.Generator | None = None,
               batch: int = 64) -> list[list[int]]:
        """Completions of ``prompts`` drawn from softmax(logits / temperature) (or greedy),
        each ending at the first end-of-sequence token (kept) or after max_new_tokens."""
        out: list[list[int]] = []
        was_training = self.model.training
        self.model.eval()
        try:
            for i in range(0, len(prompts), batch):
                out += self._sample_batch(prompts[i:i + batch], max_new_tokens, temperature,
                                          greedy, generator)
        finally:
            self.model.train(was_training)
        return out

    def _prefill(self, prompts: list[list[int]]) -> tuple[torch.Tensor, Any, torch.Tensor,
                                                           torch.Tensor]:
        """Run ``prompts`` through the model: last-position logits, the KV cache, and the
        left-padded attention mask and positions the decoding continues from.

        Prompts of one length go through together with no padding; prompts of different
        lengths are run length by length and their caches joined, left-padded (masked), so
        no padded prompt is ever attended over: padded prefill needs an explicit attention
        mask, which sends long prompts down a much slower attention path (measured on CPU).
        Caches that are not plain per-layer key/value tensors are prefilled padded instead.
        """
        width = max(len(p) for p in prompts)
        lengths = sorted({len(p) for p in prompts}, reverse=True)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for r, p in enumerate(prompts):
            mask[r, width - len(p):] = 1
        mask = mask.to(self.device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        if len(lengths) > 1:
            joined = self._prefill_by_length(prompts, lengths, width)
            if joined is not None:
                return joined[0], joined[1], mask, pos
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        for r, p in enumerate(prompts):
            ids[r, width - len(p):] = torch.tensor(p)
        res = self.model(input_ids=ids.to(self.device), attention_mask=mask, position_ids=pos,
                         use_cache=True)
        return res.logits[:, -1, :].float(), res.past_key_values, mask, pos

    def _prefill_by_length(self, prompts: list[list[int]], lengths: list[int],
                           width: int) -> tuple[torch.Tensor, Any] | None:
        parts = []
        for length in lengths:
            rows = [r for r, p in enumerate(prompts) if len(p) == length]
            ids = torch.tensor([prompts[r] for r in rows], device=self.device)
            res = self.model(input_ids=ids, use_cache=True)
            cache = res.past_key_values
            layers = getattr(cache, "layers", None)
            if not layers or any(type(x).__name__ != "DynamicLayer" for x in layers):
                return None
            parts.append((rows, length, res.logits[:, -1, :].float(), cache))
        base = parts[0][3]
        for li, layer in enumerate(base.layers):
            keys, values = [], []
            for _, length, _, cache in parts:
                pad = (0, 0, width - length, 0)  # left-pad the sequence dimension
                keys.append(torch.nn.functional.pad(cache.layers[li].keys, pad))
                values.append(torch.nn.functional.pad(cache.layers[li].values, pad))
            layer.keys, layer.values = torch.cat(keys), torch.cat(values)
        order = [r for rows, _, _, _ in parts for r in rows]
        back = torch.tensor(sorted(range(len(order)), key=order.__getitem__),
                            device=self.device)  # joined row of each prompt
        base.reorder_cache(back)
        logits = torch.cat([lg for _, _, lg, _ in parts])[back]
        return logits, base

    def _sample_batch(self, prompts: list[list[int]], max_new: int, temperature: float,
                      greedy: bool, gen: torch.Generator | None) -> list[list[int]]:
        """Prefill each distinct prompt once (a GRPO group repeats its task's prompt), share
        its KV cache across the rows that repeat it, then decode all rows together."""
        n = len(prompts)
        distinct: dict[tuple[int, ...], int] = {}
        rows = [distinct.setdefault(tuple(p), len(distinct)) for p in prompts]
        firsts = [list(k) for k in distinct]
        logits, past, mask, pos = self._prefill(firsts)
        if len(firsts) < n:  # expand the shared prefixes to every row
            index = torch.tensor(rows, device=self.device)
            past.reorder_cache(index)
            logits, mask, pos = logits[index], mask[index], pos[index]
        eos = torch.tensor(sorted(self.eos_ids) or [-1], device=self.device)
        result: list[list[int]] = [[] for _ in range(n)]
        live = list(range(n))  # the result row of each row still decoding
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        step_pos = pos[:, -1:]
        nxt = torch.zeros(0)
        for i in range(max_new):
            if i:
                if int(done.sum()) * 4 >= len(live):  # drop finished rows from the batch
                    keep = (~done).nonzero().squeeze(-1)
                    past.reorder_cache(keep)
                    live = [live[k] for k in keep.tolist()]
                    mask, step_pos, nxt, done = mask[keep], step_pos[keep], nxt[keep], done[keep]
                step_pos = step_pos + 1
                mask = torch.cat([mask, torch.ones((len(live), 1), dtype=mask.dtype,
                                                   device=self.device)], dim=-1)
                res = self.model(input_ids=nxt.unsqueeze(-1), attention_mask=mask,
                                 position_ids=step_pos, past_key_values=past, use_cache=True)
                past = res.past_key_values
                logits = res.logits[:, -1, :].float()
            if greedy:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs.cpu(), 1, generator=gen).squeeze(-1).to(
                    self.device)
            for row, tok, fin in zip(live, nxt.tolist(), done.tolist(), strict=True):
                if not fin:
                    result[row].append(tok)
            done = done | torch.isin(nxt, eos)
            if bool(done.all()):
                break
        return result

    # log-probs -------------------------------------------------------------------------
    def completion_logprobs(self, prompts: list[list[int]], completions: list[list[int]],
                            temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
        """log softmax(logits / temperature) of each completion token given its prompt.

        Returns ``(logp, mask)``, both ``[batch, longest completion]``; gradients flow when
        grad mode is on. Prompts are left-padded and completions right-padded so that every
        completion starts at the same column and only the last columns' logits are computed.
        """
        n = len(prompts)
        p_w = max(len(p) for p in prompts)
        c_w = max(max(len(c) for c in completions), 1)
        ids = torch.full((n, p_w + c_w), self.pad_id, dtype=torch.long)
        attn = torch.zeros((n, p_w + c_w), dtype=torch.long)
        cmask = torch.zeros((n, c_w), dtype=torch.float32)
        for r, (p, c) in enumerate(zip(prompts, completions, strict=True)):
            ids[r, p_w - len(p):p_w] = torch.tensor(p)
            attn[r, p_w - len(p):p_w + len(c)] = 1
            if c:
                ids[r, p_w:p_w + len(c)] = torch.tensor(c)
                cmask[r, :len(c)] = 1.0
        ids, attn = ids.to(self.device), attn.to(self.device)
        pos = (attn.cumsum(-1) - 1).clamp(min=0)
        kw: dict[str, Any] = {"logits_to_keep": c_w + 1} if self.keep_logits else {}
        logits = self.model(input_ids=ids, attention_mask=attn, position_ids=pos,
                            use_cache=False, **kw).logits
        logits = logits[:, -(c_w + 1):-1, :].float() / temperature
        target = ids[:, p_w:]
        logp = torch.gather(logits, -1, target.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(
            logits, dim=-1)
        mask = cmask.to(self.device)
        return logp * mask, mask

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the optimizer updates (the LoRA adapters, or all weights)."""
        return [p for p in self.model.parameters() if p.requires_grad]


def load_policy(cfg: TrainConfig) -> Policy:
    """Load the model and tokenizer from a local folder; wrap it in LoRA adapters by default."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    path = Path(cfg.model)
    if not (path / "config.json").exists():
        raise UsageError("not a model folder (no config.json)", where=str(path),
                         hint="give a local Hugging Face-format model folder; nothing is "
                              "downloaded")
    device = _device(cfg.device)
    dtype = _dtype(cfg.dtype, device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model: Any = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True,
                                                          dtype=dtype)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the model: {exc}", where=str(path),
                         hint="the folder needs config.json, weights and tokenizer files"
                         ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    keep = "logits_to_keep" in inspect.signature(model.forward).parameters
    if cfg.lora:
        targets: Any = cfg.lora_targets
        if targets == ["all-linear"]:
            targets = "all-linear"
        lcfg = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha,
                          lora_dropout=cfg.lora_dropout, target_modules=targets,
                          task_type="CAUSAL_LM")
        model = get_peft_model(model, lcfg)
    model.train()
    return Policy(model=model, tokenizer=tokenizer, device=device, dtype=dtype, lora=cfg.lora,
                  keep_logits=keep)
