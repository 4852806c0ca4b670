"""Policy: when successful runs took an action, and when they held back or did something else.

The other patterns look at which tools a run called; this one looks at *what the agent saw*
when it decided. Each indexed run carries the categorical fields of the objects its tool
results described (a reservation's ``cabin=basic_economy``, ``insurance=no``; a user's
``membership=gold``) and the word stems of the user's first request (``cancel``, ``chang``).
From those, small interpretable rules are proposed and tested:

- ``avoid_on``: "when the user asks to cancel and the reservation's cabin is basic_economy,
  do not call cancel_reservation on it" (a condition ``f=v``, or ``f!=v`` read as "call it
  only when f is v"), as a single condition (a decision stump) or two (a short conjunction,
  grown from the best stumps). It is judged in the situation (asked, and such an object
  seen): runs that acted on it against runs that held back; and acting on objects that
  meet the condition must fail at least as often as acting on those that do not. A field
  that merely rides on a real condition is removed by sequential covering (below);
- ``do_when``: "in that situation, call transfer_to_human_agents" (the condition must
  matter: without B, runs that met it failed more than the other runs of the situation);
- ``avoid_unasked``: "call book_reservation only when the user asks to book".

Each candidate is a claim (``skillforge.analyze.claims``) judged on every labeled run: a run
that met the situation either followed or broke it, and the test is one-sided Fisher's
exact test that breaking goes with failure. All candidates of a run are corrected together
(Benjamini-Hochberg; the q-value is recorded). This is a screen, not the verdict: a
candidate is kept when its raw p-value is at most ``policy_max_p``, its lift at least
``min_lift``, and its breakers failed in at least ``min_support`` runs of two or more tasks;
of candidates of one kind, the strongest stays and each other one must pass again on the
runs the kept ones do not explain (sequential covering). Whether a rule
holds on tasks it was not mined from, with the multiple-comparison control that decides what
ships, is the held-out gate's job (``skillforge.verify.crossval``).

Request words are learned, not assumed: for an action tool, the stem of its verb
(``cancel`` for ``cancel_reservation``) plus the request stems most over-represented in runs
that called it (``chang`` for ``update_reservation_flights``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from skillforge.analyze._mine_common import Cite, MinerSettings, labeled, lesson, round_p
from skillforge.analyze._mine_index import Run, stem
from skillforge.analyze._mine_stats import bh_qvalues, fisher_greater, lift
from skillforge.analyze.claims import (
    Tally,
    describe_condition,
    object_noun,
    objects_meeting,
    tally,
    verdict,
)
from skillforge.analyze.model import Lesson
from skillforge.analyze.vocab import Vocabulary, name_tokens

MAX_FIELD_VALUES = 6     # a field with more distinct values is an identifier, not a category
STUMPS_GROWN = 6         # best stumps per action extended to two conditions
MAX_INTENT_WORDS = 3


@dataclass
class _Cand:
    claim: dict
    tally: Tally
    p: float
    q: float = 1.0
    breakers: frozenset[str] = frozenset()


def intent_words(action: str, runs: list[Run]) -> list[str]:
    """Request stems for ``action``: its verb's stem plus learned synonyms (stems in at least
    40% of the runs that called it, at least half of whose runs called it, significantly)."""
    toks = name_tokens(action)
    words = [stem(toks[0])] if toks else []
    with_a = [r for r in runs if any(c.tool == action for c in r.calls)]
    if len(with_a) < 3:
        return words
    rest = len(runs) - len(with_a)
    df_a: Counter[str] = Counter(w for r in with_a for w in r.intent)
    df_all: Counter[str] = Counter(w for r in runs for w in r.intent)
    scored = []
    for w, k in df_a.items():
        # a synonym names most of the action's runs, and mostly those
        if k < max(3, 0.4 * len(with_a)) or w in words or k < 0.5 * df_all[w]:
            continue
        other = df_all[w] - k
        p = fisher_greater(k, len(with_a) - k, other, rest - other)
        if p <= 0.01 and lift(k, len(with_a), other, rest) >= 2:
            scored.append((p, w))
    return words + [w for _, w in sorted(scored)[:MAX_INTENT_WORDS - len(words)]]


def _request_stems(runs: list[Run], min_tasks: int = 3) -> list[str]:
    """Request stems seen in at least ``min_tasks`` tasks and in at most half of the runs."""
    tasks: dict[str, set[str]] = defaultdict(set)
    df: Counter[str] = Counter()
    for r in runs:
        for w in r.intent:
            tasks[w].add(r.task_id if r.task_id is not None else r.id)
            df[w] += 1
    return sorted(w for w, ts in tasks.items() if len(ts) >= min_tasks and df[w] * 2 <= len(runs))


def _target_kind(action: str, runs: list[Run]) -> str | None:
    kinds: Counter[str] = Counter()
    for r in runs:
        for c in r.calls:
            if c.tool == action:
                kinds.update({r.objects[t].kind for t in c.targets if t in r.objects})
    return min(kinds, key=lambda k: (-kinds[k], k)) if kinds else None


def _literals(kind: str, runs: list[Run], min_tasks: int = 2) -> list[str]:
    tasks: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in runs:
        task = r.task_id if r.task_id is not None else r.id
        for o in r.objects.values():
            if o.kind == kind:
                for fv in o.fields:
                    f, v = fv.split("=", 1)
                    if not f.endswith("#len") and not v.isdigit():  # categories, not counts
                        tasks[f][v].add(task)
    out: list[str] = []
    for f in sorted(tasks):
        vals = tasks[f]
        if not 2 <= len(vals) <= MAX_FIELD_VALUES:
            continue
        common = sorted(v for v, ts in vals.items() if len(ts) >= min_tasks)
        for v in common:
            out.append(f"{f}={v}")
            if len(vals) > 2:
                out.append(f"{f}!={v}")
    return out


def _test_claim(claim: dict, runs: list[Run], settings: MinerSettings) -> _Cand | None:
    if claim["type"] == "avoid_on":
        # the condition must not go the wrong way: acting on objects that meet it fails at
        # least as often as acting on those that do not
        alt = tally({**claim, "type": "acted_on"}, runs)
        if alt.brk and alt.follow and lift(alt.brk_fail, alt.brk, alt.follow_fail,
                                           alt.follow) < 1:
            return None
    if claim["type"] == "do_when" and claim["when"]:
        # the condition must matter: without B, the runs that met it failed more than the
        # runs of the same situation that did not
        base = tally({**claim, "when": []}, runs)
        t = tally(claim, runs)
        rest_fail = base.brk_fail - t.brk_fail
        rest_n = base.brk - t.brk
        if rest_n <= 0 or fisher_greater(t.brk_fail, t.brk - t.brk_fail, rest_fail,
                                         rest_n - rest_fail) > settings.policy_max_p:
            return None
    else:
        t = tally(claim, runs)
    if t.brk_fail < settings.min_support or t.follow < settings.min_support:
        return None
    if t.tasks_break < 2 or lift(t.brk_fail, t.brk, t.follow_fail, t.follow) < settings.min_lift:
        return None
    return _Cand(claim, t, t.p_value(), breakers=frozenset(
        r.id for r in runs if r.success is not None and verdict(claim, r) is False))


def mine_policy(runs: list[Run], settings: MinerSettings, vocab: Vocabulary, *,
                tried: list[dict] | None = None) -> list[Lesson]:
    """Policy lessons (see the module docstring), corrected for the number of candidates.

    ``tried``, when given, receives every candidate claim tested (what a gate could at most
    ship from these runs; ``bench/quality.py`` judges them all on held-out tasks)."""
    lab = labeled(runs)
    if len({r.success for r in lab}) < 2:
        return []

    def _test(claim: dict, runs: list[Run], settings: MinerSettings) -> _Cand | None:
        if tried is not None:
            tried.append(claim)
        return _test_claim(claim, runs, settings)

    actions = sorted({c.tool for r in lab for c in r.calls if c.action})
    words = {a: intent_words(a, lab) for a in actions}
    tested: list[_Cand] = []
    n_tests = 0
    for a in actions:
        n_tests += 1
        cand = _test({"type": "avoid_unasked", "action": a, "intent": words[a]}, lab, settings)
        if cand:
            tested.append(cand)
        kind = _target_kind(a, lab)
        if kind is None:
            continue
        lits = _literals(kind, lab)
        stumps: list[_Cand] = []
        for lit in lits:
            n_tests += 1
            cand = _test({"type": "avoid_on", "action": a, "kind": kind, "when": [lit],
                          "intent": words[a]}, lab, settings)
            if cand:
                stumps.append(cand)
            for b in actions:
                if b == a:
                    continue
                n_tests += 1
                cand = _test({"type": "do_when", "do": b, "context": a, "kind": kind,
                              "when": [lit], "intent": words[a]}, lab, settings)
                if cand:
                    tested.append(cand)
        tested += stumps
        for st in sorted(stumps, key=lambda c: (c.p, c.claim["when"]))[:STUMPS_GROWN]:
            lit0 = st.claim["when"][0]
            f0 = lit0.split("!=")[0].split("=")[0]
            for lit in lits:
                if lit.split("!=")[0].split("=")[0] == f0:
                    continue
                when = sorted([lit0, lit])
                n_tests += 1
                cand = _test({**st.claim, "when": when}, lab, settings)
                if cand and cand.p < st.p:
                    tested.append(cand)
    for w in _request_stems(lab):
        for b in actions:
            n_tests += 1
            cand = _test({"type": "do_asked", "do": b, "intent": [w]}, lab, settings)
            if cand:
                tested.append(cand)
    for f in sorted({f for r in lab for f in r.final} - {"answered", "untested"}):
        for t in ("final_has", "final_lacks"):
            n_tests += 1
            cand = _test({"type": t, "feature": f}, lab, settings)
            if cand:
                tested.append(cand)
    # Benjamini-Hochberg over every test made, not only those that passed the support filter
    qs = bh_qvalues([c.p for c in tested] + [1.0] * max(0, n_tests - len(tested)))
    for c, q in zip(tested, qs, strict=False):
        c.q = q
    kept = [c for c in tested if c.p <= settings.policy_max_p]
    out: list[Lesson] = []
    for c in _distinct(kept, lab, settings):
        les = _policy_lesson(c, lab, settings, vocab)
        if les:
            out.append(les)
    return out


def _distinct(cands: list[_Cand], runs: list[Run], settings: MinerSettings) -> list[_Cand]:
    """Sequential covering within each kind of rule (same type, tool and context): the
    strongest candidate stays; every other one is tested again on the runs the kept ones
    do not already explain (their breakers removed), and stays only if it still passes. A
    field that merely rides on a real condition (it happens to go with it in these tasks),
    or a conjunction that adds nothing to its stump, falls away."""
    groups: dict[tuple, list[_Cand]] = defaultdict(list)
    for c in cands:
        groups[(c.claim["type"], c.claim.get("action"), c.claim.get("do"),
                c.claim.get("context"))].append(c)
    out: list[_Cand] = []
    for key in sorted(groups, key=str):
        covered: set[str] = set()
        for c in sorted(groups[key], key=lambda c: (c.p, len(c.claim.get("when", ())),
                                                    str(sorted(c.claim.items())))):
            if covered:
                again = _test_claim(c.claim, [r for r in runs if r.id not in covered],
                                    settings)
                if again is None or again.p > settings.policy_max_p:
                    continue
            out.append(c)
            covered |= c.breakers
    return out


FINAL_ADVICE: dict[tuple[str, str], tuple[str, str]] = {
    ("final_has", "tested"): ("Test before finishing",
                              "Run the tests after your last change and before you finish."),
    ("final_lacks", "tested"): ("No test run before finishing",
                                "Finish without another test run after your last change."),
    ("final_has", "short"): ("Short final answer",
                             "Keep the final answer short: under 200 characters."),
    ("final_lacks", "short"): ("Full final answer",
                               "Do not cut the final answer short: give the whole result."),
    ("final_has", "long"): ("Detailed final answer", "Give a detailed final answer."),
    ("final_lacks", "long"): ("No long final answer",
                              "Do not write a long final answer: keep it to the result."),
    ("final_has", "code"): ("Code in the final answer",
                            "Put the code or command in a fenced block in the final answer."),
    ("final_lacks", "code"): ("No code in the final answer",
                              "Do not paste code into the final answer: state the result."),
    ("final_has", "number"): ("Figures in the final answer",
                              "State the figures (the numbers asked for) in the final answer."),
    ("final_lacks", "number"): ("No figures in the final answer",
                                "Answer in words: do not put numbers in the final answer."),
    ("final_has", "list"): ("Final answer as a list", "Give the final answer as a list."),
    ("final_lacks", "list"): ("Final answer not a list",
                              "Give the final answer as prose, not as a list."),
    ("final_has", "json"): ("JSON final answer", "Give the final answer as JSON."),
    ("final_lacks", "json"): ("No JSON final answer", "Do not answer with raw JSON."),
}


def _answer_capability(runs: list[Run], vocab: Vocabulary) -> str:
    """The capability of the submit tool most runs ended with, else the read-only family."""
    from skillforge.analyze._mine_index import _SUBMIT

    names: Counter[str] = Counter(r.calls[-1].tool for r in runs
                                  if r.calls and _SUBMIT.search(r.calls[-1].tool))
    if names:
        return vocab.for_tool(min(names, key=lambda n: (-names[n], n)))
    return "read-only" if "read-only" in vocab else vocab.names[0] if vocab.names else "read-only"


def _intent_phrase(stems: list[str], runs: list[Run]) -> str:
    """The stems as the words users wrote (``chang`` -> ``change``), joined with "or"."""
    counts: dict[str, dict[str, int]] = {}
    want = set(stems)
    for r in runs:
        for w in r.words:
            st = stem(w)
            if st in want:
                d = counts.setdefault(st, {})
                d[w] = d.get(w, 0) + 1
    shown = [min(counts[s], key=lambda w: (-counts[s][w], len(w), w)) if s in counts else s
             for s in stems[:3]]
    return " or ".join(shown) or "it"


def _policy_lesson(c: _Cand, runs: list[Run], settings: MinerSettings,
                   vocab: Vocabulary) -> Lesson | None:
    cl, t = c.claim, c.tally
    ctype = cl["type"]
    ask = _intent_phrase(cl.get("intent", []), runs)
    stat = (f"runs that broke this failed {t.brk_fail} of {t.brk}, runs that followed it "
            f"{t.follow_fail} of {t.follow} (q = {c.q:.2g})")
    cites: list[Cite] = []
    if ctype in ("final_has", "final_lacks"):
        f = cl["feature"]
        title, advice = FINAL_ADVICE[(ctype, f)]
        capability = _answer_capability(runs, vocab)
        for r in sorted(runs, key=lambda r: r.id):
            ok = (f in r.final) == (ctype == "final_has")
            if r.final and ok and r.success and r.calls:
                cites.append(Cite(r.id, r.calls[-1].step, r.calls[-1].quote))
    elif ctype == "do_asked":
        b = cl["do"]
        title = f"{b} when the user asks about {ask}"
        advice = f"When the user's request mentions {ask}, call {b}."
        capability = vocab.for_tool(b)
        for r in sorted(runs, key=lambda r: (r.success is not True, r.id)):
            if not r.intent.isdisjoint(cl.get("intent", [])) and r.success:
                cites += [Cite(r.id, x.step, x.quote) for x in r.calls if x.tool == b][:1]
    elif ctype == "avoid_unasked":
        a = cl["action"]
        title = f"{a} only when asked"
        advice = (f"Call {a} only when the user asks to {ask}; for any other request, do "
                  f"not call it.")
        capability = vocab.for_tool(a)
        for r in sorted(runs, key=lambda r: (r.success is not False, r.id)):
            if r.intent.isdisjoint(cl.get("intent", [])):
                cites += [Cite(r.id, x.step, x.quote) for x in r.calls if x.tool == a][:1]
    else:
        kind, when = cl["kind"], cl["when"]
        noun = object_noun(kind)
        cond = describe_condition(when)
        ctx = cl.get("action") if ctype == "avoid_on" else cl.get("context")
        negated = len(when) == 1 and "!=" in when[0]
        if ctype == "avoid_on":
            a = cl["action"]
            if negated:
                f, v = when[0].split("!=", 1)
                title = f"{a} only when {describe_condition([f + '=' + v])}"
                advice = (f"When the user asks to {ask}, call {a} only on a {noun} whose "
                          f"{describe_condition([f + '=' + v])}; otherwise explain why and do "
                          f"not call {a}.")
            else:
                title = f"No {a} when {cond}"
                advice = (f"When the user asks to {ask} and the {noun}'s {cond}, do not call "
                          f"{a} on it; explain why it cannot be done.")
        else:
            b = cl["do"]
            title = f"{b} when {cond}"
            advice = (f"When the user asks to {ask} and the {noun}'s {cond}, call {b}.")
        capability = vocab.for_tool(str(ctx))
        for r in sorted(runs, key=lambda r: r.id):
            objs = objects_meeting(r, kind, when)
            if not objs:
                continue
            if ctype == "avoid_on" and r.success is False:
                hit = [x for x in r.calls if x.tool == cl["action"] and x.targets & {
                    oid for oid, _ in objs}]
                if hit:
                    cites += [Cite(r.id, objs[0][1].step, objs[0][1].quote),
                              Cite(r.id, hit[0].step, hit[0].quote)]
            elif ctype == "do_when" and r.success:
                hit = [x for x in r.calls if x.tool == cl["do"]]
                if hit:
                    cites += [Cite(r.id, objs[0][1].step, objs[0][1].quote),
                              Cite(r.id, hit[0].step, hit[0].quote)]
    content = f"{advice} In the source runs, {stat}."
    return lesson(
        kind="rule", polarity="success", title=title, description=advice, content=content,
        capability=capability, cites=cites, support=t.brk_fail + (t.follow - t.follow_fail),
        settings=settings, confidence=1 - c.q,
        meta={"pattern": "policy", "claim": cl, "in_sample": t.to_dict(),
              "p_value": round_p(c.p), "q_value": round_p(c.q)})
