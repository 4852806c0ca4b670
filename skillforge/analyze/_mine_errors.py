"""Error -> recovery pairs, errors that keep coming back, and loops without progress.

Errors are grouped by tool and by the first line of the message with ids, numbers and dates
masked (``Error: flight # not available on date #``). A recovery is a later call of the same
tool on the same target (sharing an id-like argument value) that did not fail; the lesson
says what changed between the two calls and what the agent did in between. Shell commands
(pseudo-tools such as ``pip install``) have their own lessons that name the fix
(``_mine_shell``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from skillforge.analyze._mine_common import Cite, MinerSettings, lesson, n_tasks, seq_text
from skillforge.analyze._mine_index import Call, Run, call_leaves, canon, value_shape
from skillforge.analyze._mine_shell import shell_error_lessons
from skillforge.analyze.model import Lesson
from skillforge.analyze.vocab import Vocabulary


@dataclass
class _Recovery:
    run: Run
    error: Call
    retry: Call
    changed: tuple[str, ...]
    between: tuple[str, ...]
    shape_change: str


@dataclass
class _ErrorGroup:
    tool: str
    sig: str
    occurrences: list[tuple[Run, Call]] = field(default_factory=list)
    recoveries: list[_Recovery] = field(default_factory=list)


def _changed(ca: Call, cb: Call) -> tuple[tuple[str, ...], str]:
    """Top-level argument keys that differ, and an id-shape change of a scalar (if any)."""
    a, b = ca.args, cb.args
    keys = tuple(sorted(k for k in set(a) | set(b) if canon(a.get(k)) != canon(b.get(k))))
    shape = ""
    for k in keys:
        sa, sb = value_shape(a.get(k)), value_shape(b.get(k))
        if sa and sb and sa != sb:
            shape = f"{k} from {sa}_… to {sb}_…"
            break
    if not shape:
        la = Counter((p, canon(v)) for p, v in call_leaves(ca))
        lb = Counter((p, canon(v)) for p, v in call_leaves(cb))
        inner = sorted({p.replace("[]", "").split(".", 1)[1] for p, _ in (la - lb) + (lb - la)
                        if "." in p.replace("[]", "")})
        if inner and len(keys) == 1:
            shape = ", ".join(inner[:3])
    return keys, shape


def _retry_for(run: Run, err: Call) -> Call | None:
    """The next call of the same tool on the same target, if any."""
    for c in run.calls[err.pos + 1:]:
        if c.tool != err.tool:
            continue
        if not err.targets or not c.targets or (c.targets & err.targets):
            return c
    return None


def _groups(runs: list[Run]) -> list[_ErrorGroup]:
    groups: dict[tuple[str, str], _ErrorGroup] = {}
    for r in runs:
        recovered_here: set[tuple[str, str]] = set()
        for c in r.calls:
            if not c.obs_error or not c.obs_sig or c.shell is not None:  # shell: _mine_shell
                continue
            g = groups.setdefault((c.tool, c.obs_sig), _ErrorGroup(c.tool, c.obs_sig))
            g.occurrences.append((r, c))
            retry = _retry_for(r, c)
            if retry is None or retry.obs_error or retry.obs_step is None:
                continue
            if (c.tool, c.obs_sig) in recovered_here:
                continue
            recovered_here.add((c.tool, c.obs_sig))
            changed, shape = _changed(c, retry)
            between = tuple(dict.fromkeys(
                x.tool for x in r.calls[c.pos + 1:retry.pos] if x.tool != c.tool))
            g.recoveries.append(_Recovery(r, c, retry, changed, between, shape))
    return [groups[k] for k in sorted(groups)]


def _top(counter: Counter, n: int = 1) -> list[tuple]:
    return sorted(counter.items(), key=lambda x: (-x[1], x[0]))[:n]


def mine_errors(runs: list[Run], settings: MinerSettings, vocab: Vocabulary) -> list[Lesson]:
    """Recovery lessons (errors fixed by a changed retry) and pitfalls (errors seldom fixed)."""
    out: list[Lesson] = []
    for g in _groups(runs):
        occ_runs = sorted({r.id: r for r, _ in g.occurrences}.values(), key=lambda r: r.id)
        rec_runs = sorted({x.run.id for x in g.recoveries})
        unrecovered = [r for r in occ_runs if r.id not in set(rec_runs)]
        failed = sum(1 for r in occ_runs if r.success is False)
        first = sorted(g.occurrences, key=lambda x: (x[0].id, x[1].pos))
        example = first[0][1].obs_quote
        if len(rec_runs) >= settings.recovery_min_support:
            les = _recovery_lesson(g, example, occ_runs, unrecovered, settings, vocab)
        elif len(occ_runs) >= settings.min_support and n_tasks(occ_runs) >= 2:
            cites = [Cite(r.id, c.obs_step or 0, c.obs_quote) for r, c in first]
            content = (f"{g.tool} answered \"{example}\" in {len(occ_runs)} runs ({failed} of "
                       f"them failed) and only {len(rec_runs)} recovered: check what this "
                       f"message is about before calling {g.tool}.")
            les = lesson(
                kind="pitfall", polarity="failure", title=f"{g.tool}: {g.sig[:60]}",
                description=f"{g.tool} often fails with \"{g.sig[:80]}\".",
                content=content, capability=vocab.for_tool(g.tool), cites=cites,
                support=len(occ_runs), settings=settings,
                confidence=failed / len(occ_runs),
                meta={"pattern": "error", "tool": g.tool, "error": g.sig,
                      "occurrences": len(g.occurrences), "runs": len(occ_runs),
                      "failed_runs": failed, "recovered_runs": len(rec_runs)})
        else:
            continue
        if les:
            out.append(les)
    return out + shell_error_lessons(runs, settings, vocab)


def _recovery_lesson(g: _ErrorGroup, example: str, occ_runs: list[Run],
                     unrecovered: list[Run], settings: MinerSettings,
                     vocab: Vocabulary) -> Lesson | None:
    recs = sorted(g.recoveries, key=lambda x: (x.run.id, x.error.pos))
    n = len(recs)
    changed = Counter(k for x in recs for k in x.changed)
    top_keys = [k for k, c in _top(changed, 3) if c * 2 >= n]
    shapes = Counter(x.shape_change for x in recs if x.shape_change)
    between = Counter(t for x in recs for t in x.between)
    helper = [t for t, c in _top(between, 2) if c * 2 >= n]
    inner = Counter(x.shape_change for x in recs if x.shape_change and "…" not in x.shape_change)
    if shapes and _top(shapes)[0][1] * 2 >= n and "…" in _top(shapes)[0][0]:
        what = f"{_top(shapes)[0][0].replace(' from ', ' changed from ', 1)}"
    elif top_keys:
        what = "a changed " + " and ".join(top_keys)
        if inner and _top(inner)[0][1] * 2 >= n:
            what += f" ({_top(inner)[0][0]})"
    else:
        what = "the same arguments"
    how = f"after calling {seq_text(helper)}, " if helper else ""
    still = (f"; {len(unrecovered)} other runs never fixed it" if unrecovered else "")
    example = recs[0].error.obs_quote or example
    content = (f"When {g.tool} answers \"{example}\", fix the call and try again: {n} runs "
               f"recovered by calling it again, {how}with {what}{still}.")
    cites: list[Cite] = []
    for x in recs:
        cites += [Cite(x.run.id, x.error.obs_step or 0, x.error.obs_quote),
                  Cite(x.run.id, x.retry.step, x.retry.quote)]
    return lesson(
        kind="recovery", polarity="success", title=f"Recover from {g.tool}: {g.sig[:50]}",
        description=f"After \"{g.sig[:80]}\" from {g.tool}, retry with {what}.",
        content=content, capability=vocab.for_tool(g.tool), cites=cites,
        support=len({x.run.id for x in recs}), settings=settings,
        confidence=n / max(1, len(occ_runs)),
        meta={"pattern": "recovery", "tool": g.tool, "error": g.sig,
              "occurrences": len(g.occurrences), "runs": len(occ_runs),
              "recovered_runs": n, "changed": dict(_top(changed, 5)),
              "between": dict(_top(between, 5)),
              "shape_change": _top(shapes)[0][0] if shapes else None})


def mine_loops(runs: list[Run], settings: MinerSettings, vocab: Vocabulary) -> list[Lesson]:
    """Identical calls repeated with an identical result: the same action without progress."""
    per_tool: dict[str, list[tuple[Run, list[Call]]]] = defaultdict(list)
    tool_runs: Counter[str] = Counter()
    tool_fail: Counter[str] = Counter()
    for r in runs:
        by_key: dict[int, list[Call]] = defaultdict(list)
        for c in r.calls:
            by_key[c.key].append(c)
        for t in {c.tool for c in r.calls}:
            tool_runs[t] += 1
            tool_fail[t] += r.success is False
        looped: dict[str, list[Call]] = {}
        for key in sorted(by_key):
            cs = by_key[key]
            if len(cs) < 2:
                continue
            same = [c for c in cs[1:] if c.obs_step is not None and (
                c.obs_hash == cs[0].obs_hash or (c.obs_error and c.obs_sig == cs[0].obs_sig))]
            if same and cs[0].tool not in looped:
                looped[cs[0].tool] = [cs[0], *same]
        for t, cs in looped.items():
            per_tool[t].append((r, cs))
    out: list[Lesson] = []
    for tool in sorted(per_tool):
        items = sorted(per_tool[tool], key=lambda x: x[0].id)
        if len(items) < settings.loop_min_support:
            continue
        n = len(items)
        failed = sum(1 for r, _ in items if r.success is False)
        repeats = sum(len(cs) - 1 for _, cs in items)
        errors = sum(1 for _, cs in items if cs[0].obs_error)
        if errors * 2 >= n:
            result = "the same error"
            advice = "change the arguments or ask the user instead of retrying as is"
        else:
            result = "the same result"
            advice = "reuse the earlier result instead of asking again"
        content = (f"Calling {tool} again with identical arguments returned {result} "
                   f"({repeats} repeats in {n} runs, {failed} of them failed): {advice}.")
        cites: list[Cite] = []
        for r, cs in items:
            cites += [Cite(r.id, cs[0].step, cs[0].quote), Cite(r.id, cs[1].step, cs[1].quote)]
        les = lesson(
            kind="pitfall", polarity="failure", title=f"Repeated identical {tool} calls",
            description=f"Repeating an identical {tool} call returned {result} and made no "
                        "progress.",
            content=content, capability=vocab.for_tool(tool), cites=cites, support=n,
            settings=settings, confidence=failed / n,
            meta={"pattern": "loop", "tool": tool, "runs": n, "repeats": repeats,
                  "failed_runs": failed, "error_loops": errors,
                  "tool_runs": tool_runs[tool], "tool_failed_runs": tool_fail[tool]})
        if les:
            out.append(les)
    return out
