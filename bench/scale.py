"""Whole-distill scaling on synthetic runs, 1k..100k, against a plain Python pass over them.

    python bench/scale.py [--sizes 1000,3000,10000,30000,100000] [--budget 420] [--warm-max 10000]

For each size, writes that many synthetic airline runs (``bench/analyze_miner.py``'s
generator, where outcomes depend on behaviour) as one skillforge JSONL file in a temp dir,
then runs, each in a fresh subprocess so peak RSS is per run:

* the baseline: a plain Python pass over the same file (``json.loads`` each line, count steps
  and tool calls) -- what reading the data costs at all;
* ``distill`` cold: a new home (ingest, mine, consolidate, package; offline, no LLM);
* ``distill`` warm (sizes up to ``--warm-max``): the same folder into the same home again.

Prints wall time, CPU time (user + system, with worker processes), peak RSS, the ratio to the
baseline, the memory slope (KB per run between the two largest sizes) and the fitted exponent
of time vs size (1.0 is linear); per size, each pipeline stage's peak RSS (the kernel's
high-water mark is reset before it, Linux), its RSS at its end and its seconds. A size whose
projected time (from the previous size, taken as linear) exceeds ``--budget`` seconds is not
run; the output says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLAIN = r"""
import json, resource, sys, time
from collections import Counter
t0 = time.perf_counter()
steps, tools = 0, Counter()
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        rec = json.loads(line)
        for s in rec["steps"]:
            steps += 1
            if s.get("tool_name"):
                tools[s["tool_name"]] += 1
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": me.ru_utime + me.ru_stime,
                  "rss_mb": me.ru_maxrss / 1024, "steps": steps}))
"""

DISTILL = r"""
import importlib, json, resource, sys, time
from pathlib import Path
from skillforge import Settings, distill
D = importlib.import_module("skillforge.distill")  # the module (``skillforge.distill`` is the
                                                   # function once the package is loaded)

def status_mb(key):  # from /proc/self/status (Linux); None elsewhere
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None

def hwm_mb():  # peak RSS since the last reset, else the process's peak so far
    got = status_mb("VmHWM:")
    return got if got is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

stage_mb, stage_s, end_mb = {}, {}, {}
def per_stage(name, fn):  # the peak RSS of each stage: reset the high-water mark before it
    def run(r):
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass
        t = time.perf_counter()
        try:
            fn(r)
        finally:
            stage_mb[name] = round(hwm_mb())
            end_mb[name] = round(status_mb("VmRSS:") or 0)
            stage_s[name] = round(time.perf_counter() - t, 2)
    return run
D.PIPELINE = tuple((n, per_stage(n, f), bar) for n, f, bar in D.PIPELINE)
start_mb = hwm_mb()
t0 = time.perf_counter()
rep = distill([Path(sys.argv[1])], settings=Settings.load(sys.argv[2]), out=Path(sys.argv[3]),
              show_progress=False)
dt = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
c = rep.counts
peak = max([start_mb, hwm_mb(), me.ru_maxrss / 1024, *stage_mb.values()])
print(json.dumps({"seconds": dt, "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                  "rss_mb": peak, "worker_rss_mb": kids.ru_maxrss / 1024,
                  "stage_rss_mb": stage_mb, "stage_end_mb": end_mb,
                  "start_rss_mb": round(start_mb),
                  "lessons": c.get("lessons"), "skills": c.get("skills"),
                  "in_store": c.get("trajectories_in_store"),
                  "timings": stage_s}))
"""


def write_runs(path: Path, n: int) -> int:
    """``n`` synthetic runs as skillforge JSONL, written one at a time (memory flat)."""
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    from analyze_miner import make_trajectory

    from skillforge.traces.native import dump_line

    rng = random.Random(7)
    steps = 0
    with path.open("w") as fh:
        for i in range(n):
            t = make_trajectory(rng, i)
            steps += len(t.steps)
            fh.write(dump_line(t) + "\n")
    return steps


def child(code: str, *args: str, timeout: float) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / den if den else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    ap.add_argument("--budget", type=float, default=420.0,
                    help="skip a size whose projected cold distill exceeds this (seconds)")
    ap.add_argument("--warm-max", type=int, default=10_000,
                    help="largest size also re-run warm (unchanged folder, same home)")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="sf-scale-"))
    rows: list[dict] = []
    skipped: list[int] = []
    try:
        print(f"{'runs':>7} {'steps':>9} {'MB':>6} | {'plain s':>7} | {'distill s':>9} "
              f"{'CPU s':>7} {'peak RSS MB':>11} {'x plain':>8} | {'warm s':>7} {'warm/cold':>9}"
              f"  lessons/skills", flush=True)
        for n in sizes:
            if rows:
                last = rows[-1]
                projected = last["cold"]["seconds"] * n / last["n"]
                if projected > a.budget:
                    skipped.append(n)
                    print(f"{n:>7} not run: projected {projected:.0f}s > budget {a.budget:.0f}s",
                          flush=True)
                    continue
            folder = tmp / f"runs-{n}"
            folder.mkdir()
            f = folder / "runs.jsonl"
            steps = write_runs(f, n)
            plain = child(PLAIN, str(f), timeout=3600)
            home, lib = tmp / f"home-{n}", tmp / f"lib-{n}"
            cold = child(DISTILL, str(folder), str(home), str(lib), timeout=3600)
            warm = None
            if n <= a.warm_max:
                warm = child(DISTILL, str(folder), str(home), str(lib), timeout=3600)
            rows.append({"n": n, "steps": steps, "mb": f.stat().st_size / 1e6, "plain": plain,
                         "cold": cold, "warm": warm})
            w = (f"{warm['seconds']:>7.1f} {warm['seconds'] / cold['seconds']:>9.2f}" if warm
                 else f"{'-':>7} {'-':>9}")
            print(f"{n:>7} {steps:>9} {rows[-1]['mb']:>6.0f} | {plain['seconds']:>7.2f} | "
                  f"{cold['seconds']:>9.1f} {cold['cpu']:>7.1f} {cold['rss_mb']:>11.0f} "
                  f"{cold['seconds'] / plain['seconds']:>8.1f} | {w}  "
                  f"{cold['lessons']}/{cold['skills']}", flush=True)
            st, tm = cold.get("stage_rss_mb", {}), cold.get("timings", {})
            if st:
                ends = cold.get("stage_end_mb", {})
                print(f"{'':>7} cold, by stage (peak RSS MB, RSS at its end, s): start "
                      f"{cold['start_rss_mb']}, " + ", ".join(
                          f"{k} {v}/{ends.get(k, '-')}/{tm.get(k, 0):.1f}"
                          for k, v in st.items()), flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(lib, ignore_errors=True)
        if len(rows) >= 2:
            ns = [r["n"] for r in rows]
            print(f"fitted exponent, distill time vs runs: "
                  f"{exponent(ns, [r['cold']['seconds'] for r in rows]):.2f} "
                  f"(plain pass: {exponent(ns, [r['plain']['seconds'] for r in rows]):.2f}; "
                  "1.0 = linear)")
            print(f"fitted exponent, distill peak RSS vs runs: "
                  f"{exponent(ns, [r['cold']['rss_mb'] for r in rows]):.2f}")
            r1, r2 = rows[-2], rows[-1]
            slope = (r2["cold"]["rss_mb"] - r1["cold"]["rss_mb"]) * 1024 / (r2["n"] - r1["n"])
            print(f"distill peak RSS slope between {r1['n']} and {r2['n']} runs: "
                  f"{slope:.1f} KB per run (projected at 100k: "
                  f"{r2['cold']['rss_mb'] + slope * (100_000 - r2['n']) / 1024:.0f} MB; "
                  "target < 600 MB)")
            warm_rows = [r for r in rows if r["warm"]]
            if warm_rows:
                print("warm re-run of an unchanged folder / cold: " + ", ".join(
                    f"{r['n']}: {r['warm']['seconds'] / r['cold']['seconds']:.2f}"
                    for r in warm_rows) + " (target <= 0.10)")
                big = warm_rows[-1]
                for label, rr in (("cold", big["cold"]), ("warm", big["warm"])):
                    top = sorted(rr.get("timings", {}).items(), key=lambda kv: -kv[1])[:6]
                    print(f"{label} distill of {big['n']} runs, seconds by stage: "
                          + ", ".join(f"{k} {v}" for k, v in top))
        if skipped:
            print(f"not run (over the {a.budget:.0f}s budget on this machine): "
                  f"{', '.join(map(str, skipped))}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)



if __name__ == "__main__":
    main()
