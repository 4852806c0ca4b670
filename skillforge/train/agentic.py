"""Multi-turn training suites: the runners' tool-using suites, played by the model in training.

Any suite ``skillforge run`` plays (``envs/workspace``, tau2, TextWorld, your own) can be
trained on: ``skillforge train MODEL --suite workspace``. Its tasks are split per family into
train and eval tasks (every ``eval_every``-th task of a family is held out), and an episode is
played by :func:`skillforge.runners.episode.play_episode` with a :class:`TrainAgent`, so the
trajectory, the sandboxed tools and the verifier's reward are exactly those of a ``run``.

The agent is the model being trained. Each turn it is shown the conversation so far (the
instructions with the tools, the task, its earlier turns, the tools' answers) through the
model's chat template, and writes one reply. A reply calls tools with
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks (the format of Hermes and
Qwen chat templates; a reply that is a bare JSON object with ``name`` and ``arguments`` counts
too); a reply with no call ends the episode as the agent's final answer. When the tokenizer's
chat template renders ``tools`` itself, the tools go through it; otherwise they are listed in
the system message.

The student never sees a skill. The teacher reads the same conversation with the family's
skill added to the system message, which is how its per-turn prompt is built from the turn's
messages (:meth:`TrainAgent.teacher_messages`).
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillforge.runners.llm_agent import SYSTEM_PROMPT, parse_tool_call
from skillforge.runners.protocol import Action, EpisodeContext, ToolCall, ToolResult, ToolSpec
from skillforge.runners.suite import Suite, Task
from skillforge.train.suites import TrainTask

__all__ = ["EpisodeSuite", "TrainAgent", "Turn", "TurnBatcher", "parse_tool_calls",
           "skill_system"]

Messages = list[dict[str, Any]]
# prompt token ids -> (completion token ids, behaviour log-probs or None)
Generate = Callable[[list[int]], Awaitable[tuple[list[int], list[float] | None]]]

_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)

CALL_FORMAT = """To call a tool, reply with one block per call:
<tool_call>{"name": "TOOL_NAME", "arguments": {"ARG": "VALUE"}}</tool_call>
You will get each tool's answer in a <tool_response> block. When the task is done, reply in
plain text without a tool call."""


def skill_system(system: str, skill: str) -> str:
    """The system message the teacher reads: the agent's own, then the skill."""
    return f"{system}\n\nUse this skill for the task.\n\n<skill>\n{skill.strip()}\n</skill>"


def _signature(spec: ToolSpec) -> str:
    props = spec.parameters.get("properties") or {}
    required = set(spec.parameters.get("required") or [])
    args = []
    for name, schema in props.items():
        kind = schema.get("type", "any")
        kind = "|".join(kind) if isinstance(kind, list) else str(kind)
        args.append(f"{name}: {kind}" + ("" if name in required else " = optional"))
    return f"- {spec.name}({', '.join(args)}): {spec.description}"


def _response(r: ToolResult) -> str:
    error = ' error="true"' if r.is_error else ""
    return f'<tool_response name="{r.name}"{error}>\n{r.output}\n</tool_response>'


def _one_call(raw: str, n: int) -> ToolCall:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        name = re.search(r'"name"\s*:\s*"([^"]*)"', raw)
        return ToolCall(name.group(1) if name else "", {}, f"call_{n}",
                        parse_error=f"the tool call is not JSON: {exc.msg} at character "
                                    f"{exc.pos}", raw_arguments=raw)
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return ToolCall("", {}, f"call_{n}", raw_arguments=raw,
                        parse_error='a tool call is a JSON object {"name": ..., "arguments": '
                                    '{...}}')
    # the arguments as a chat-completions tool call carries them (an object, or JSON text)
    return parse_tool_call({"name": obj["name"], "id": f"call_{n}",
                            "arguments": obj.get("arguments", obj.get("parameters"))}, n)


def parse_tool_calls(text: str, start: int = 1) -> tuple[list[ToolCall], str]:
    """The tool calls a reply makes and the reply's text outside them.

    ``<tool_call>`` blocks (an unclosed last block counts: the reply may have been cut at
    the token limit); else a reply that is one JSON object with a ``name`` and ``arguments``.
    Unreadable calls come back with ``parse_error`` set, so the agent is told what was wrong.
    Call ids are ``call_<n>`` from ``start``.
    """
    blocks = _BLOCK.findall(text)
    if blocks:
        calls = [_one_call(b, start + i) for i, b in enumerate(blocks)]
        return calls, _BLOCK.sub("", text).strip()
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}") and '"arguments"' in stripped:
        call = _one_call(stripped, start)
        if call.parse_error is None:
            return [call], ""
    return [], stripped


@dataclass
class Turn:
    """One reply of the agent: the messages it answered, its tokens, their behaviour log-probs."""

    messages: Messages
    prompt: list[int]
    completion: list[int]
    behaviour: list[float] | None


class TurnBatcher:
    """Gathers the next turn of every live episode into one batch for the sampler.

    Episodes ``join`` before they start and ``leave`` when they end; a batch is drawn when
    every live episode is waiting for its reply, so episodes advance in lockstep and each
    batch is deterministic (sorted by episode index) whatever order tools finish in.
    """

    def __init__(self, draw: Callable[[list[list[int]]],
                                      list[tuple[list[int], list[float] | None]]]):
        self.draw = draw
        self.live: set[int] = set()
        self.waiting: list[tuple[int, list[int], asyncio.Future[Any]]] = []
        self.batches = 0

    def join(self, episode: int) -> None:
        """Count ``episode`` as live."""
        self.live.add(episode)

    def leave(self, episode: int) -> None:
        """``episode`` ended (a timed-out one may leave a request behind: it is dropped);
        draw if the others are all waiting."""
        self.live.discard(episode)
        self.waiting = [w for w in self.waiting if w[0] != episode]
        self._maybe_draw()

    def for_episode(self, episode: int) -> Generate:
        """The ``generate`` function of one episode's agent."""

        async def generate(prompt: list[int]) -> tuple[list[int], list[float] | None]:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.waiting.append((episode, prompt, fut))
            self._maybe_draw()
            result: tuple[list[int], list[float] | None] = await fut
            return result

        return generate

    def _maybe_draw(self) -> None:
        if not self.waiting or len(self.waiting) < len(self.live):
            return
        batch = sorted(self.waiting, key=lambda w: w[0])
        self.waiting = []
        self.batches += 1
        try:
            drawn = self.draw([p for _, p, _ in batch])
        except Exception as exc:  # every waiting episode gets the sampler's error
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, _, fut), got in zip(batch, drawn, strict=True):
            if not fut.done():
                fut.set_result(got)


class TrainAgent:
    """The model being trained, playing one episode through a ``generate`` function.

    ``encode(messages, tools)`` turns the conversation into prompt token ids (the chat
    template) and ``decode`` a completion into text; ``native_tools`` says whether the chat
    template renders the tools itself. ``skill`` (evaluation of the with-skill teacher only)
    goes into the system message; in training the student plays without one. A prompt that
    would not leave ``max_new_tokens`` of room in ``context`` tokens ends the episode.
    """

    name = "skillforge-train"

    def __init__(self, generate: Generate, *, encode: Callable[[Messages, Any], list[int]],
                 decode: Callable[[list[int]], str], native_tools: bool, model: str,
                 context: int, max_new_tokens: int, skill: str | None = None):
        self.generate = generate
        self.encode = encode
        self.decode = decode
        self.native_tools = native_tools
        self.model: str | None = model
        self.context = context
        self.max_new_tokens = max_new_tokens
        self.skill = skill
        self.messages: Messages = []
        self.tools: list[dict[str, Any]] = []
        self.turns: list[Turn] = []
        self.calls = 0      # tool calls the replies made
        self.bad_calls = 0  # ... unreadable, or naming no tool of the episode
        self.ran_out = False
        self._ctx: EpisodeContext | None = None
        self._n = 0

    def system_prompt(self) -> str:
        """The instructions: the runners' agent prompt, the policy, the tools, the format."""
        text = SYSTEM_PROMPT
        ctx = self._ctx
        if ctx is not None and ctx.context:
            text += f"\n\n<policy>\n{ctx.context.strip()}\n</policy>"
        if ctx is not None and not self.native_tools:
            text += "\n\nTools:\n" + "\n".join(_signature(t) for t in ctx.tools)
        return text + "\n\n" + CALL_FORMAT

    def tool_specs(self) -> list[dict[str, Any]] | None:
        """The tools for a chat template that renders them (None otherwise)."""
        return self.tools if self.native_tools else None

    async def start(self, ctx: EpisodeContext) -> None:
        """The conversation: instructions (with the skill, for the teacher), then the task."""
        self._ctx = ctx
        self.tools = [t.to_openai() for t in ctx.tools]
        system = self.system_prompt()
        if self.skill:
            system = skill_system(system, self.skill)
        self.messages = [{"role": "system", "content": system},
                         {"role": "user", "content": ctx.instruction}]
        self.turns, self._n, self.calls, self.bad_calls = [], 0, 0, 0

    async def act(self, results: list[ToolResult], message: str | None = None) -> Action:
        """Show the tools' answers (or the user's reply), draw one reply, read its calls."""
        if results:
            self.messages.append({"role": "user",
                                  "content": "\n".join(map(_response, results))})
        if message is not None:
            self.messages.append({"role": "user", "content": message})
        prompt = self.encode(self.messages, self.tool_specs())
        if len(prompt) + self.max_new_tokens > self.context:
            self.ran_out = True
            return Action(text="", give_up=True)
        completion, behaviour = await self.generate(prompt)
        self.turns.append(Turn([dict(m) for m in self.messages], prompt, completion, behaviour))
        text = self.decode(completion)
        self.messages.append({"role": "assistant", "content": text})
        calls, rest = parse_tool_calls(text, self._n + 1)
        self._n += len(calls)
        known = {t["function"]["name"] for t in self.tools}
        self.calls += len(calls)
        self.bad_calls += sum(c.parse_error is not None or c.name not in known for c in calls)
        return Action(calls=calls, text=rest if calls else text, input_tokens=len(prompt),
                      output_tokens=len(completion))

    def teacher_messages(self, turn: Turn, skill: str) -> Messages:
        """``turn``'s messages as the teacher reads them: the skill in the system message."""
        msgs = [dict(m) for m in turn.messages]
        msgs[0]["content"] = skill_system(str(msgs[0]["content"]), skill)
        return msgs

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass
class EpisodeSuite:
    """A runners suite seen as a training suite: tasks split per family into train and eval.

    Every ``eval_every``-th task of a family (in the suite's order, starting with the
    second) is an eval task, so no task is both trained and evaluated on; a family with a
    single task is trained on only.
    """

    suite: Suite
    eval_every: int = 4
    multi_turn: bool = field(default=True, init=False)

    @property
    def name(self) -> str:
        """The runners suite's name."""
        return self.suite.name

    @property
    def description(self) -> str:
        """The runners suite's description."""
        return self.suite.description

    def tasks(self, split: str = "train") -> list[TrainTask]:
        """The train or eval tasks, as ``TrainTask`` (``params['task']`` is the suite's task)."""
        seen: dict[str, int] = {}
        out = []
        for t in self.suite.tasks():
            k = seen.get(t.family, 0)
            seen[t.family] = k + 1
            held = k % self.eval_every == 1
            if held == (split == "eval"):
                out.append(TrainTask(id=t.id, family=t.family, instruction=t.instruction,
                                     params={"task": t}))
        return out

    def families(self) -> list[str]:
        """The task families of the train split, sorted."""
        return sorted({t.family for t in self.tasks("train")})

    def tool_names(self) -> list[str]:
        """The tools the suite's environments offer (one task of each family is opened in a
        scratch folder to ask), sorted."""
        names: set[str] = set()
        firsts: dict[str, Task] = {}
        for t in self.suite.tasks():
            firsts.setdefault(t.family, t)
        for task in firsts.values():
            with tempfile.TemporaryDirectory(prefix="skillforge-tools-") as tmp:
                env = self.suite.open(task, Path(tmp), 0)
                try:
                    names.update(spec.name for spec in env.tools())
                finally:
                    env.close()
        return sorted(names)

    def runner_task(self, task: TrainTask) -> Task:
        """The suite's own task behind ``task``."""
        got: Task = task.params["task"]
        return got
