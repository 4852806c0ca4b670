"""The offline miner on synthetic tau-like trajectories: time, memory, and linearity.

Generates a tool-calling airline world (cancel, book, change flights, add bags, questions
that need no change), where outcomes depend on behaviour: skipping the lookup or the user's
yes, unneeded cancellations, unrecovered errors and retry loops make failure more likely. Then
it times ``mine()`` on the trajectories in memory (at 1/4, 1/2 and full size, to show the
miner is linear), measures the miner's own allocations with tracemalloc and the process's
peak RSS, and times ``mine_store()`` end to end on a DuckDB store holding them.

    python bench/analyze_miner.py [--trajectories 10000] [--no-store]

``run_bench(n)`` returns the figures as a dict, for ``bench/analyze.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skillforge.analyze import mine, mine_store  # noqa: E402
from skillforge.traces.model import Outcome, Source, Step, Trajectory  # noqa: E402

FAMILIES = ["cancel", "book", "change", "bags", "question"]


class _Builder:
    def __init__(self) -> None:
        self.steps: list[Step] = [Step(index=0, role="system", kind="message",
                                       text="# Airline policy\nConfirm before any change.")]

    def say(self, role: str, text: str) -> None:
        self.steps.append(Step(index=len(self.steps), role=role, kind="message", text=text))

    def call(self, tool: str, args: dict[str, Any], result: str, error: bool = False) -> None:
        cid = f"call_{len(self.steps)}"
        self.steps.append(Step(index=len(self.steps), role="assistant", kind="tool_call",
                               tool_name=tool, tool_args=args, call_id=cid,
                               text=f"{tool}({json.dumps(args, sort_keys=True)})"))
        self.steps.append(Step(index=len(self.steps), role="tool",
                               kind="error" if error else "observation", tool_name=tool,
                               call_id=cid, text=result, is_error=error))


def make_trajectory(rng: random.Random, i: int) -> Trajectory:
    """One synthetic run; its outcome depends on what the agent did."""
    task = i % 1000
    fam = FAMILIES[task % len(FAMILIES)]
    user, res = f"user_{task:04d}", f"R{task:05d}X"
    b = _Builder()
    b.say("user", f"Hi, I am {user}. I need help with reservation {res} (call {i}).")
    risk = 0.1
    b.call("get_user_details", {"user_id": user},
           json.dumps({"user_id": user, "reservations": [res],
                       "payment_methods": {f"credit_card_{task}01": {}, f"gift_card_{task}02": {},
                                           f"certificate_{task}03": {}}}))
    looked = rng.random() < 0.85
    if looked:
        b.call("get_reservation_details", {"reservation_id": res},
               json.dumps({"reservation_id": res, "cabin": "economy", "insurance": "no"}))
    else:
        risk += 0.3
    if fam == "question":
        b.say("assistant", "Your reservation is confirmed for May 20.")
        if rng.random() < 0.2:
            b.call("transfer_to_human_agents", {"summary": f"{user} asks about {res}"},
                   "Transfer successful")
            risk += 0.2
    else:
        if fam in ("change", "book"):
            q = {"origin": "JFK", "destination": "SEA", "date": f"2024-05-{10 + task % 20}"}
            found = json.dumps([{"flight_number": f"HAT{task % 300:03d}"}])
            b.call("search_direct_flight", q, found)
            if rng.random() < 0.1:  # a loop: the same search again, same answer
                for _ in range(rng.randint(1, 3)):
                    b.call("search_direct_flight", q, found)
                risk += 0.3
        b.say("assistant", f"I will {fam} reservation {res}. Shall I proceed?")
        confirmed = rng.random() < 0.8
        b.say("user", "Yes, please proceed." if confirmed else "Hmm, what are my options?")
        if not confirmed:
            risk += 0.25
        tool, args = {
            "cancel": ("cancel_reservation", {"reservation_id": res}),
            "book": ("book_reservation", {"user_id": user, "flights": [f"HAT{task % 300:03d}"],
                                          "payment_methods": [{"payment_id": ""}]}),
            "change": ("update_reservation_flights", {"reservation_id": res, "payment_id": ""}),
            "bags": ("update_reservation_baggages", {"reservation_id": res, "payment_id": ""}),
        }[fam]
        pay = rng.choice(["credit_card", "gift_card", "certificate"])
        pid = f"{pay}_{task}0{['credit_card', 'gift_card', 'certificate'].index(pay) + 1}"
        if "payment_id" in args:
            args["payment_id"] = pid
        elif "payment_methods" in args:
            args["payment_methods"] = [{"payment_id": pid, "amount": 100 + task % 50}]
        cert = pay == "certificate" and fam in ("change", "bags")
        seats = fam in ("book", "change") and rng.random() < 0.08
        if cert or seats:
            msg = ("Error: certificate cannot be used to update reservation" if cert
                   else f"Error: not enough seats on flight HAT{task % 300:03d}")
            b.call(tool, args, msg, error=True)
            if rng.random() < 0.5:  # recovery: change the payment method and retry
                fixed = dict(args)
                if "payment_id" in fixed:
                    fixed["payment_id"] = f"credit_card_{task}01"
                else:
                    fixed["payment_methods"] = [{"payment_id": f"credit_card_{task}01",
                                                 "amount": 100 + task % 50}]
                b.call(tool, fixed, json.dumps({"reservation_id": res, "status": "ok"}))
            else:
                if rng.random() < 0.5:
                    b.call(tool, args, msg, error=True)  # retried as is: same error
                risk += 0.5
        else:
            b.call(tool, args, json.dumps({"reservation_id": res, "status": "ok"}))
        if fam != "cancel" and rng.random() < 0.1:  # an unneeded cancellation
            b.call("cancel_reservation", {"reservation_id": res},
                   json.dumps({"reservation_id": res, "status": "cancelled"}))
            risk += 0.5
        b.say("assistant", "Done. Anything else?")
    b.say("user", "No, thanks. ###STOP###")
    success = rng.random() > min(0.95, risk)
    return Trajectory(source=Source(format="synthetic", file="bench", line=i), task_id=str(task),
                      task=f"{fam} task {task}", agent="bench",
                      outcome=Outcome(success=success, reward=float(success)),
                      steps=b.steps).finalize()


def generate(n: int, seed: int = 7) -> list[Trajectory]:
    """``n`` synthetic trajectories (deterministic for a seed)."""
    rng = random.Random(seed)
    return [make_trajectory(rng, i) for i in range(n)]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bench(n: int = 10_000, *, store: bool = True) -> dict[str, Any]:
    """Time and memory of the miner on ``n`` synthetic trajectories; figures as a dict."""
    t0 = time.perf_counter()
    trajs = generate(n)
    steps = sum(len(t.steps) for t in trajs)
    out: dict[str, Any] = {"trajectories": n, "steps": steps,
                           "generate_s": round(time.perf_counter() - t0, 2)}
    # same-run baseline: one plain Python pass over the same trajectories (every step's
    # role, kind, tool name, text and arguments touched once, tool calls counted)
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    chars = 0
    for t in trajs:
        for s in t.steps:
            chars += len(s.text)
            if s.kind == "tool_call" and s.tool_name:
                counts[s.tool_name] = counts.get(s.tool_name, 0) + len(s.tool_args or ())
    out["plain_pass_s"] = round(time.perf_counter() - t0, 3)
    gc.collect()
    rss_before = _rss_mb()
    scaling = {}
    lessons = []
    for part in (n // 4, n // 2, n):
        t1 = time.perf_counter()
        lessons = mine(trajs[:part])
        scaling[part] = round(time.perf_counter() - t1, 2)
    out["mine_s"] = scaling[n]
    out["scaling_s"] = scaling
    out["lessons"] = len(lessons)
    out["lesson_kinds"] = {k: sum(1 for les in lessons if les.kind == k)
                           for k in ("workflow", "rule", "recovery", "pitfall")}
    out["peak_rss_mb"] = round(_rss_mb(), 1)
    out["rss_growth_mb"] = round(_rss_mb() - rss_before, 1)
    gc.collect()
    tracemalloc.start()
    again = mine(trajs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["mine_traced_peak_mb"] = round(peak / 2**20, 1)
    out["deterministic"] = [x.model_dump() for x in again] == [x.model_dump() for x in lessons]
    if store:
        from skillforge.store import connect, write_trajectories

        with tempfile.TemporaryDirectory(prefix="sf-miner-") as tmp:
            con = connect(Path(tmp) / "store.duckdb")
            for k in range(0, n, 2000):
                write_trajectories(con, trajs[k:k + 2000])
            del trajs
            gc.collect()
            # same-run baseline: the same steps read back from DuckDB in plain Python
            t2 = time.perf_counter()
            cur = con.execute("SELECT trajectory_id, idx, kind, tool_name, text, tool_args "
                              "FROM steps ORDER BY trajectory_id, idx")
            rows = 0
            while batch := cur.fetchmany(50_000):
                rows += len(batch)
            out["store_pass_s"] = round(time.perf_counter() - t2, 2)
            t2 = time.perf_counter()
            rep = mine_store(con)
            out["mine_store_s"] = round(time.perf_counter() - t2, 2)
            out["mine_store_lessons"] = rep.lessons
            con.close()
    out["peak_rss_mb_end"] = round(_rss_mb(), 1)
    out["titles"] = [les.title for les in lessons]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--trajectories", type=int, default=10_000)
    ap.add_argument("--no-store", action="store_true", help="skip the mine_store() timing")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    r = run_bench(a.trajectories, store=not a.no_store)
    if a.json:
        print(json.dumps(r, indent=2))
        return
    print(f"{r['trajectories']} synthetic trajectories, {r['steps']} steps "
          f"(generated in {r['generate_s']}s)")
    print("mine() seconds by size: " + ", ".join(f"{k}: {v}" for k, v in r["scaling_s"].items()))
    print(f"mine() on all: {r['mine_s']}s -> {r['lessons']} lessons {r['lesson_kinds']} "
          f"(deterministic: {r['deterministic']}; target < 60 s); baseline, a plain Python "
          f"pass over the same steps: {r['plain_pass_s']}s "
          f"({r['mine_s'] / max(r['plain_pass_s'], 1e-3):.0f}x)")
    print(f"memory: miner's traced peak {r['mine_traced_peak_mb']} MB; process peak RSS "
          f"{r['peak_rss_mb']} MB (grew {r['rss_growth_mb']} MB while mining)")
    if "mine_store_s" in r:
        print(f"mine_store() end to end (read from DuckDB, mine, write lessons): "
              f"{r['mine_store_s']}s -> {r['mine_store_lessons']} lessons; "
              f"peak RSS {r['peak_rss_mb_end']} MB; baseline, the same steps fetched from "
              f"DuckDB in plain Python: {r['store_pass_s']}s "
              f"({r['mine_store_s'] / max(r['store_pass_s'], 1e-3):.1f}x)")
    print("lessons: " + "; ".join(r["titles"]))


if __name__ == "__main__":
    main()
