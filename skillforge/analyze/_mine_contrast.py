"""Contrasts between failed and successful runs, and argument shapes that tend to fail.

Contrasts compare runs of the same task (a Mantel-Haenszel test over the tasks attempted with
both outcomes, so a hard task cannot pose as a bad habit) and runs that call the same action
tool (Fisher's exact test). A feature becomes a lesson only when it is both significant and
over-represented by ``min_lift``; features that describe effort rather than a choice (calling
a lookup more in failed runs) are never turned into advice.

Argument pitfalls compare a tool's calls with and without an argument shape (an id prefix
such as ``certificate_``, a list length, an enum value, a value no earlier step mentioned)
against the tool's own error rate.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from skillforge.analyze._mine_common import (
    Cite,
    MinerSettings,
    labeled,
    lesson,
    n_tasks,
    one_per_run,
    round_p,
)
from skillforge.analyze._mine_index import Call, Run, call_leaves, value_shape
from skillforge.analyze._mine_stats import Stratum, fisher_greater, lift, mantel_haenszel
from skillforge.analyze.model import Lesson, LessonKind, Polarity
from skillforge.analyze.vocab import READ_ONLY_FAMILY, Vocabulary, is_action_tool, kebab

# Feature kinds that may become advice, by the side they are over-represented on.
FAIL_KINDS = {"call", "multi", "unconfirmed", "noprior", "unseen"}
SUCC_KINDS = {"call", "multi", "order"}
KIND_RANK = {"call": 0, "noprior": 1, "unconfirmed": 2, "unseen": 3, "multi": 4, "order": 5}


@dataclass(frozen=True, order=True)
class Feature:
    """A behaviour of a run: ``kind`` of thing done, with which ``tool`` (and ``other``)."""

    kind: str
    tool: str
    other: str = ""


_feature = lru_cache(maxsize=1 << 16)(Feature)        # one shared Feature per value
_shared = lru_cache(maxsize=1 << 16)(lambda t: t)     # one shared tuple per value
USER = -1   # in ``RunFeatures.shows``: cite the user's message before the last call first


@dataclass(slots=True)
class RunFeatures:
    """The features of one run and, for each, the calls that show it."""

    run: Run
    features: tuple[Feature, ...]        # in the order the run first showed them
    shows: tuple[tuple[int, ...], ...]   # per feature: call positions (``USER`` first: and
                                         # the user's message before the last of them)

    def cites(self, f: Feature) -> list[Cite]:
        """The first evidence of feature ``f`` in this run."""
        spec = self.shows[self.features.index(f)]
        user = bool(spec) and spec[0] == USER
        calls = [self.run.calls[i] for i in (spec[1:] if user else spec)]
        cs = [Cite(self.run.id, c.step, c.quote) for c in calls]
        if user and calls and calls[-1].user_step is not None:
            cs.insert(0, Cite(self.run.id, calls[-1].user_step, calls[-1].user_quote))
        return cs


def run_features(run: Run) -> RunFeatures:
    """Every contrast feature of a run with the calls that show it first (computed once per
    run: the held-out gate mines the same runs again for each fold)."""
    if run.features is not None:  # (features, shows), shared by runs that show the same
        return RunFeatures(run, *run.features)
    shows: dict[Feature, tuple[int, ...]] = {}

    def add(f: Feature, *calls: Call, user: bool = False) -> None:
        if f not in shows:
            shows[f] = _shared(((USER,) if user else ()) + tuple(c.pos for c in calls))

    first: dict[str, Call] = {}
    targets: set[str] = set()
    for c in run.calls:
        if c.tool in first:
            add(_feature("multi", c.tool), c)
        else:
            add(_feature("call", c.tool), c)
        if c.action:
            for prev_tool in sorted(first):
                if prev_tool != c.tool:
                    add(_feature("order", c.tool, prev_tool), first[prev_tool], c)
            if not c.confirmed:
                add(_feature("unconfirmed", c.tool), c, user=True)
            if c.targets and not (c.targets & targets):
                add(_feature("noprior", c.tool), c)
        for p in c.unseen:
            add(_feature("unseen", c.tool, p.replace("[]", "")), c)
        first.setdefault(c.tool, c)
        targets |= c.targets
    run.features = _shared((_shared(tuple(shows)), _shared(tuple(shows.values()))))
    return RunFeatures(run, *run.features)


def _describe(f: Feature) -> str:
    return {
        "call": f"called {f.tool}",
        "multi": f"called {f.tool} more than once",
        "order": f"called {f.other} before {f.tool}",
        "unconfirmed": f"called {f.tool} without an explicit yes from the user",
        "noprior": f"called {f.tool} on something no earlier call had looked up",
        "unseen": f"passed {f.tool} a {f.other} that had not appeared earlier",
    }[f.kind]


def _advice(f: Feature, side: str) -> tuple[str, str]:
    """(title, advice sentence) for a feature over-represented on ``side``."""
    t, o = f.tool, f.other
    if side == "fail":
        return {
            "call": (f"Unneeded {t} calls",
                     f"Call {t} only when the request needs it and the rules allow it."),
            "multi": (f"Extra {t} calls", f"Make sure each further {t} call was asked for."),
            "unconfirmed": (f"{t} without the user's yes",
                            f"Get an explicit yes from the user before calling {t}."),
            "noprior": (f"{t} on an unchecked target",
                        f"Look up what {t} will act on before calling it."),
            "unseen": (f"Made-up {o} for {t}",
                       f"Pass only {o} values that the user gave or a lookup returned."),
        }[f.kind]
    return {
        "call": (f"Call {t}", f"Call {t} before deciding what to do."),
        "multi": (f"Call {t} for every item", f"Call {t} for each item involved, not one."),
        "order": (f"Call {o} before {t}", f"Call {o} before calling {t}."),
    }[f.kind]


def _allowed(f: Feature, side: str, family: str | None) -> bool:
    if side == "fail":
        if f.kind not in FAIL_KINDS:
            return False
        if f.kind in ("call", "multi") and family is not None:
            # Among runs of one action tool, another action's presence mostly says which
            # task it was; "unneeded action" is judged between attempts of the same task.
            return f.kind == "multi" and kebab(f.tool) == family
        return f.kind not in ("call", "multi") or is_action_tool(f.tool)
    if f.kind not in SUCC_KINDS:
        return False
    if f.kind == "order":
        return not is_action_tool(f.other)
    return True


@dataclass
class _Hit:
    feature: Feature
    side: str
    scope: str          # "task" or a family name
    a: int              # failed runs with the feature
    n_fail: int
    c: int              # successful runs with the feature
    n_succ: int
    p: float
    lift: float
    odds_ratio: float | None
    strata: int
    runs: list[RunFeatures]
    strata_all: int = 0
    action: str | None = None
    one_sided: tuple[int, int, int] = (0, 0, 0)  # tasks only this side did it, its runs, reverse


def _scope_hits(groups: list[list[RunFeatures]], scope: str, max_p: float,
                settings: MinerSettings) -> list[_Hit]:
    family = None if scope == "task" else scope
    action = None
    if family:  # the family's most called action (a shell "write file" may share its name)
        n_calls = Counter(c.tool for g in groups for rf in g for c in rf.run.calls
                          if c.action and kebab(c.tool) == family)
        action = min(n_calls, key=lambda t: (-n_calls[t], t)) if n_calls else None
    # One pass: per group, how many failed / successful runs show each feature.
    counts: list[tuple[Counter[Feature], Counter[Feature], int, int]] = []
    holders: dict[Feature, list[RunFeatures]] = defaultdict(list)
    group_of: dict[str, int] = {}
    for gi, g in enumerate(groups):
        cf: Counter[Feature] = Counter()
        cs: Counter[Feature] = Counter()
        nf = 0
        for rf in g:
            if rf.run.success:
                cs.update(rf.features)
            else:
                nf += 1
                cf.update(rf.features)
            group_of[rf.run.id] = gi
            for f in rf.features:
                holders[f].append(rf)
        counts.append((cf, cs, nf, len(g) - nf))
    out: list[_Hit] = []
    for f in sorted(holders):
        if family and f.kind == "call" and kebab(f.tool) == family:
            continue
        strata = [Stratum(cf[f], nf - cf[f], cs[f], ns - cs[f]) for cf, cs, nf, ns in counts]
        if scope == "task":
            m = mantel_haenszel(strata)
            a, nf, c, ns, p_f, p_s = m.a, m.n_fail, m.c, m.n_succ, m.p_fail, m.p_succ
            orr: float | None = m.odds_ratio
            # the pooled rates mix tasks: the MH odds ratio is the effect size here
            effects = (m.odds_ratio, 1 / m.odds_ratio)
        else:
            st = strata[0]
            a, nf, c, ns = st.a, st.a + st.b, st.c, st.c + st.d
            p_f, p_s = fisher_greater(st.a, st.b, st.c, st.d), fisher_greater(
                st.c, st.d, st.a, st.b)
            orr = None
            effects = (lift(a, nf, c, ns), lift(c, ns, a, nf))
        for side, p, lf, hits in (("fail", p_f, effects[0], a), ("succ", p_s, effects[1], c)):
            if p > max_p or lf < settings.min_lift or hits < settings.min_support:
                continue
            if side == "succ" and c < settings.success_min_share * ns:
                continue  # a success habit is something most successful runs do
            if not _allowed(f, side, family):
                continue
            side_runs = sorted((rf for rf in holders[f] if rf.run.success == (side == "succ")),
                               key=lambda rf: rf.run.id)
            if n_tasks(rf.run for rf in side_runs) < 2:
                continue
            mine_ = [(st.a, st.c) if side == "fail" else (st.c, st.a) for st in strata]
            n_strata = sum(1 for x, _ in mine_ if x > 0)
            one = [(x, y) for x, y in mine_ if x > 0 and y == 0]
            reverse = sum(1 for x, y in mine_ if y > 0 and x == 0)
            if scope == "task" and one:  # cite the tasks where only this side did it
                only = {i for i, (x, y) in enumerate(mine_) if x > 0 and y == 0}
                side_runs = [rf for rf in side_runs if group_of[rf.run.id] in only]
            out.append(_Hit(f, side, scope, a, nf, c, ns, p, lf, orr, n_strata, side_runs,
                            len(groups), action, (len(one), sum(x for x, _ in one), reverse)))
    return out


def mine_contrasts(runs: list[Run], by_family: dict[str, list[Run]], settings: MinerSettings,
                   vocab: Vocabulary) -> list[Lesson]:
    """Contrast lessons from runs of the same task and runs of the same action tool."""
    lab = labeled(runs)
    feats = {r.id: run_features(r) for r in lab}
    hits: list[_Hit] = []
    by_task: dict[str, list[RunFeatures]] = defaultdict(list)
    for r in lab:
        if r.task_id is not None:
            by_task[r.task_id].append(feats[r.id])
    mixed = [by_task[k] for k in sorted(by_task)
             if len({rf.run.success for rf in by_task[k]}) == 2]
    if len(mixed) >= 2:
        hits += _scope_hits(mixed, "task", settings.task_max_p, settings)
    for fam in sorted(by_family):
        group = [feats[r.id] for r in by_family[fam] if r.id in feats]
        if len({rf.run.success for rf in group}) == 2:
            hits += _scope_hits([group], fam, settings.family_max_p, settings)
    best: dict[tuple[Feature, str], _Hit] = {}
    same_runs: set[tuple[str, frozenset[str]]] = set()
    for h in sorted(hits, key=lambda h: (h.scope != "task", KIND_RANK[h.feature.kind], h.p,
                                         h.scope, h.feature)):
        runs_key = (h.side, frozenset(rf.run.id for rf in h.runs))
        if (h.feature, h.side) in best or runs_key in same_runs:
            continue  # the same runs already make a simpler lesson
        best[(h.feature, h.side)] = h
        same_runs.add(runs_key)
    out: list[Lesson] = []
    for _key, h in sorted(best.items()):
        les = _contrast_lesson(h, settings, vocab)
        if les:
            out.append(les)
    return out


def _contrast_lesson(h: _Hit, settings: MinerSettings, vocab: Vocabulary) -> Lesson | None:
    f = h.feature
    title, advice = _advice(f, h.side)
    did = _describe(f)
    if h.scope == "task":
        where = f"attempts of the same {h.strata_all} tasks"
        title += " (same task)"
    elif h.scope == READ_ONLY_FAMILY:
        where = "runs that changed nothing"
        title += " when nothing is changed"
    else:
        where = f"runs that called {h.action or h.scope}"
    tasks, task_runs, reverse = h.one_sided
    kind: LessonKind
    polarity: Polarity
    if h.side == "fail" and h.scope == "task" and tasks:
        stat = (f"in {tasks} of {h.strata_all} tasks tried with both outcomes, failed attempts "
                f"{did} ({task_runs} runs) while no successful attempt of the same task did; "
                f"the reverse happened in {reverse}")
        kind, polarity = "pitfall", "failure"
    elif h.side == "succ" and h.scope == "task" and tasks:
        stat = (f"in {tasks} of {h.strata_all} tasks tried with both outcomes, successful "
                f"attempts {did} ({task_runs} runs) while no failed attempt of the same task "
                f"did; the reverse happened in {reverse}")
        kind, polarity = "rule", "success"
    elif h.side == "fail":
        stat = (f"among {where}, the failed ones {did} in {h.a} of {h.n_fail} cases, the "
                f"successful ones in {h.c} of {h.n_succ}")
        kind, polarity = "pitfall", "failure"
    else:
        stat = (f"among {where}, the successful ones {did} in {h.c} of {h.n_succ} cases, "
                f"the failed ones in {h.a} of {h.n_fail}")
        kind, polarity = "rule", "success"
    content = f"{advice} {stat[0].upper()}{stat[1:]}."
    if f.kind in ("call", "multi") and not is_action_tool(f.tool) and h.scope not in (
            "task", READ_ONLY_FAMILY) and h.scope in vocab:
        capability = h.scope
    else:
        capability = vocab.for_tool(f.tool)
    cites = (c for rf in h.runs for c in rf.cites(f))   # made as far as evidence needs
    meta = {"pattern": "contrast", "feature": [f.kind, f.tool, f.other], "side": h.side,
            "scope": h.scope, "failed_with": h.a, "failed_runs": h.n_fail,
            "success_with": h.c, "success_runs": h.n_succ, "p_value": round_p(h.p),
            "lift": round(h.lift, 3), "strata": h.strata, "action": h.action}
    if h.odds_ratio is not None:
        meta["mh_odds_ratio"] = round(h.odds_ratio, 3)
        meta["tasks_one_sided"], meta["runs_one_sided"], meta["tasks_reverse"] = h.one_sided
    return lesson(kind=kind, polarity=polarity, title=title,
                  description=advice, content=content, capability=capability, cites=cites,
                  support=len(h.runs), settings=settings, confidence=1 - h.p, meta=meta)


# ---------------------------------------------------------------- argument pitfalls

_DATEISH = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _call_items(c: Call) -> tuple[tuple[str, str, str | None, str | None], ...]:
    """Per argument leaf: ("len", base, n, None) or ("val", path, shape, str value); once per
    call (every fold of the held-out gate filters the same items)."""
    if c.items is None:
        items: list[tuple[str, str, str | None, str | None]] = []
        for p, v in call_leaves(c):
            path = p.replace("[]", "")
            if p.endswith("#len"):
                items.append(("len", path[:-4], str(min(int(v), 3)), None))
                continue
            items.append(("val", path, value_shape(v),
                          str(v) if isinstance(v, str | bool) else None))
        c.items = _shared(tuple(items))  # strings and None only: safe to share
    return c.items


def _call_features(c: Call, shapes: set[str], enums: dict[str, set[str]],
                   lens: dict[str, set[int]]) -> set[tuple[str, str, str]]:
    out: set[tuple[str, str, str]] = set()
    for kind, path, a, b in _call_items(c):
        if kind == "len":
            if len(lens.get(path, ())) >= 2:
                out.add(("len", path, a or ""))
            continue
        if a and a in shapes:
            out.add(("shape", path, a))
        elif b is not None and b in enums.get(path, ()):
            out.add(("enum", path, b))
    for p in c.unseen:
        out.add(("unseen", p.replace("[]", ""), ""))
    return out


def _mentions(key: tuple[str, str, str], sig: str) -> int:
    """How well an error message names a feature (its value counts twice its path)."""
    low = sig.lower()
    words = [w for w in re.split(r"[^a-z0-9]+", key[2].lower()) if len(w) >= 4]
    path = [w for w in re.split(r"[^a-z0-9]+", key[1].lower()) if len(w) >= 4]
    return 2 * sum(w in low for w in words) + sum(w in low for w in path)


def _pitfall_text(tool: str, kind: str, path: str, val: str,
                  always: bool) -> tuple[str, str, str]:
    """(title, feature phrase, advice); ``always`` when every such call failed."""
    check = "first check the condition that this message names"
    if kind == "shape":
        return (f"{tool} with a {val} {path}", f"a {path} of the form {val}_…",
                f"Do not pass a {val} {path} to {tool}." if always
                else f"Before passing a {val} {path} to {tool}, {check}.")
    if kind == "len":
        n = "3 or more" if val == "3" else val
        return (f"{tool} with {n} {path}", f"{n} items in {path}",
                f"With {n} items in {path}, {check} before calling {tool}.")
    if kind == "enum":
        return (f"{tool} with {path} {val}", f"{path} set to \"{val}\"",
                f"With {path} \"{val}\", {check} before calling {tool}.")
    return (f"{tool} with an unchecked {path}",
            f"a {path} that had not appeared earlier in the conversation",
            f"Pass only {path} values that the user gave or a lookup returned.")


def mine_arg_pitfalls(runs: list[Run], settings: MinerSettings,
                      vocab: Vocabulary) -> list[Lesson]:
    """Argument shapes that make a tool return an error far more often than without them."""
    calls: dict[str, list[tuple[Run, Call]]] = defaultdict(list)
    shape_vals: dict[str, set[str]] = defaultdict(set)
    for r in runs:
        for c in r.calls:
            calls[c.tool].append((r, c))
            for _, v in call_leaves(c):
                sh = value_shape(v)
                if sh:
                    shape_vals[sh].add(v)
    shapes = {sh for sh, vals in shape_vals.items() if len(vals) >= 3}
    out: list[Lesson] = []
    for tool in sorted(calls):
        tc = sorted(calls[tool], key=lambda x: (x[0].id, x[1].pos))
        n_err = sum(1 for _, c in tc if c.obs_error)
        if n_err < settings.min_support or n_err == len(tc):
            continue
        values: dict[str, Counter[str]] = defaultdict(Counter)
        lens: dict[str, set[int]] = defaultdict(set)
        for _, c in tc:
            for p, v in call_leaves(c):
                path = p.replace("[]", "")
                if p.endswith("#len"):
                    lens[path[:-4]].add(min(int(v), 3))
                elif isinstance(v, str | bool) and not value_shape(v) and not (
                        isinstance(v, str) and (_DATEISH.match(v) or len(v) > 40
                                                or "/" in v or "\\" in v)):
                    values[path][str(v)] += 1
        enums = {p: {v for v, n in cnt.items() if n >= 2} for p, cnt in values.items()
                 if 2 <= len(cnt) <= 6}
        feats = [_call_features(c, shapes, enums, lens) for _, c in tc]
        sig_total = Counter(c.obs_sig for _, c in tc if c.obs_error)
        holders: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for i, fs in enumerate(feats):
            for key in fs:
                holders[key].append(i)
        cands = []
        for key in sorted(holders):
            idx = holders[key]
            n, m = len(idx), len(tc) - len(idx)
            if m == 0:
                continue
            sigs = Counter(tc[i][1].obs_sig for i in idx if tc[i][1].obs_error)
            best = None
            for sig, a in sorted(sigs.items()):
                c_ = sig_total[sig] - a
                if a < settings.min_support:
                    continue
                pv = fisher_greater(a, n - a, c_, m - c_)
                lf = lift(a, n, c_, m)
                if pv > settings.pitfall_max_p or lf < settings.min_lift:
                    continue
                errs = [tc[i] for i in idx if tc[i][1].obs_error and tc[i][1].obs_sig == sig]
                if len({r.id for r, _ in errs}) < settings.min_support or n_tasks(
                        r for r, _ in errs) < 2:
                    continue
                if a * 2 < n and not _mentions(key, sig):
                    continue  # a minority of the calls, and the message is about something else
                if best is None or pv < best[0]:
                    best = (pv, key, a, n, c_, m, errs, sig, lf)
            if best:
                cands.append(best)
        kept: list[tuple] = []
        for cand in sorted(cands, key=lambda x: (-_mentions(x[1], x[7]), x[0], x[1])):
            ids = {(r.id, c.pos) for r, c in cand[6]}
            if any(len(ids & k) / len(ids | k) >= 0.8 for k in (
                    {(r.id, c.pos) for r, c in kc[6]} for kc in kept)):
                continue
            kept.append(cand)
        for p, (kind, path, val), a, n, c_, m, errs, sig, lf in kept:
            example = errs[0][1].obs_quote
            title, phrase, advice = _pitfall_text(tool, kind, path, val, a == n)
            content = (f"{tool} calls with {phrase} were answered \"{example}\" {a} of {n} "
                       f"times, against {c_} of {m} other {tool} calls. {advice}")
            cites: list[Cite] = []
            firsts = one_per_run(errs)
            for r, c in firsts[:2]:
                cites += [Cite(r.id, c.step, c.quote), Cite(r.id, c.obs_step or 0, c.obs_quote)]
            cites += [Cite(r.id, c.obs_step or 0, c.obs_quote) for r, c in firsts[2:]]
            les = lesson(
                kind="pitfall", polarity="failure", title=title,
                description=f"{tool} tends to fail when called with {phrase}.",
                content=content, capability=vocab.for_tool(tool), cites=cites,
                support=len({r.id for r, _ in errs}), settings=settings, confidence=1 - p,
                meta={"pattern": "argument", "tool": tool, "feature": [kind, path, val],
                      "errors_with": a, "calls_with": n, "errors_without": c_,
                      "calls_without": m, "p_value": round_p(p), "lift": round(lf, 3),
                      "error": sig})
            if les:
                out.append(les)
    return out
