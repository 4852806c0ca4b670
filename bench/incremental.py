"""Warm re-runs of distill on an unchanged folder, against the cold run of the same folder.

    python bench/incremental.py [--sizes 1000,10000,30000] [--repeat 3] [--no-full] [--no-cli]

For each size, writes that many synthetic airline runs (``bench/analyze_miner.py``'s
generator) as one skillforge JSONL file in a temp dir, then runs, each in a fresh subprocess:

* cold: ``distill`` into a new home (the whole pipeline: ingest, mine, held-out gate,
  consolidate, PDI, commit) -- the baseline;
* warm: the same folder into the same home again, ``--repeat`` times (the median is shown:
  a run this short suffers most from other load on the machine). Ingest skips the unchanged
  file and the reuse stage finds the cold run's keys, so its analysis is taken as it is;
* warm, whole pipeline (``reuse=False``; skipped with ``--no-full``): what the same re-run
  cost before the reuse stage, for comparison;
* the command line (skipped with ``--no-cli``): ``skillforge distill <folder> --out <lib>
  --home <home>`` as a user runs it, cold into another new home, then warm ``--repeat`` times;
  whole process, its cold run the baseline.

Prints the seconds inside ``distill()`` (what bench/scale.py times) and of the whole process
(interpreter start and imports included), the warm / cold ratios (target <= 0.10), and the warm
run's seconds by stage. Children write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped) and a
small distill runs first, so no measured run pays for compiling modules, as no user's does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DISTILL = r"""
import json, sys, time
from pathlib import Path
from skillforge import Settings, distill
from skillforge.store import connect, load_run
settings = Settings.load(sys.argv[2])
t0 = time.perf_counter()
rep = distill([Path(sys.argv[1])], settings=settings, out=Path(sys.argv[3]), show_progress=False,
              reuse=sys.argv[4] == "1")
dt = time.perf_counter() - t0
con = connect(settings.db_path, read_only=True)
run = load_run(con, rep.run_id)
con.close()
print(json.dumps({"seconds": dt, "reused_from": rep.reused_from, "run_id": rep.run_id,
                  "skills": [(s.name, s.status, s.version) for s in rep.skills],
                  "lessons": rep.counts.get("lessons"),
                  "timings": {k: round(v, 3) for k, v in run.timings.items()}}))
"""


def write_runs(path: Path, n: int) -> None:
    """``n`` synthetic runs as skillforge JSONL (the generator bench/scale.py uses)."""
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    from analyze_miner import make_trajectory

    from skillforge.traces.native import dump_line

    rng = random.Random(7)
    with path.open("w") as fh:
        for i in range(n):
            fh.write(dump_line(make_trajectory(rng, i)) + "\n")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT)}


def child(folder: Path, home: Path, lib: Path, reuse: bool) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", DISTILL, str(folder), str(home), str(lib),
                          "1" if reuse else "0"], capture_output=True, text=True,
                         timeout=3600, env=_env())
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process"] = time.perf_counter() - t0
    return res


def cli_child(folder: Path, home: Path, lib: Path) -> tuple[float, str]:
    """One ``skillforge distill`` command line: whole-process seconds and its output."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "skillforge.cli", "distill", str(folder),
                          "--out", str(lib), "--home", str(home)], capture_output=True,
                         text=True, timeout=3600, env=_env())
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return time.perf_counter() - t0, out.stdout


def cli_runs(folder: Path, home: Path, lib: Path, repeat: int) -> tuple[float, float]:
    """Cold then warm (median of ``repeat``) command-line distills: whole-process seconds."""
    cold, _ = cli_child(folder, home, lib)
    warms = []
    for _ in range(max(1, repeat)):
        dt, text = cli_child(folder, home, lib)
        assert "reused analysis of run" in text, text
        warms.append(dt)
    return cold, statistics.median(warms)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,30000")
    ap.add_argument("--repeat", type=int, default=3, help="warm re-runs per size (median)")
    ap.add_argument("--no-full", action="store_true",
                    help="skip the warm re-run through the whole pipeline (reuse=False)")
    ap.add_argument("--no-cli", action="store_true",
                    help="skip the command-line runs (cold and warm `skillforge distill`)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sf-incr-"))
    ratios = []
    try:
        warmup = tmp / "warmup"
        warmup.mkdir()
        write_runs(warmup / "runs.jsonl", 200)
        for _ in range(2):  # compiles every module a cold and a warm run import
            child(warmup, tmp / "warmup-home", tmp / "warmup-lib", reuse=True)
        print(f"{'runs':>7} | {'cold s':>7} {'warm s':>7} {'warm/cold':>9} | "
              f"{'cold proc s':>11} {'warm proc s':>11} {'proc ratio':>10} | "
              f"{'full re-run s':>13} {'full/cold':>9} | "
              f"{'cli cold s':>10} {'cli warm s':>10} {'cli ratio':>9}", flush=True)
        for n in [int(s) for s in a.sizes.split(",")]:
            folder = tmp / f"runs-{n}"
            folder.mkdir()
            write_runs(folder / "runs.jsonl", n)
            home, lib = tmp / f"home-{n}", tmp / f"lib-{n}"
            cold = child(folder, home, lib, reuse=True)
            warms = [child(folder, home, lib, reuse=True) for _ in range(max(1, a.repeat))]
            for w in warms:
                assert w["reused_from"] == cold["run_id"], w
            warm = sorted(warms, key=lambda w: w["seconds"])[len(warms) // 2]
            warm["process"] = statistics.median(w["process"] for w in warms)
            assert [s[0] for s in warm["skills"]] == [s[0] for s in cold["skills"]]
            full = None if a.no_full else child(folder, home, lib, reuse=False)
            cli = None if a.no_cli else cli_runs(folder, tmp / f"cli-home-{n}",
                                                 tmp / f"cli-lib-{n}", a.repeat)
            ratio = warm["seconds"] / cold["seconds"]
            ratios.append((n, ratio, warm["process"] / cold["process"],
                           cli[1] / cli[0] if cli else None))
            f = (f"{full['seconds']:>13.1f} {full['seconds'] / cold['seconds']:>9.2f}" if full
                 else f"{'-':>13} {'-':>9}")
            c = (f"{cli[0]:>10.2f} {cli[1]:>10.2f} {cli[1] / cli[0]:>9.3f}" if cli
                 else f"{'-':>10} {'-':>10} {'-':>9}")
            print(f"{n:>7} | {cold['seconds']:>7.2f} {warm['seconds']:>7.2f} {ratio:>9.3f} | "
                  f"{cold['process']:>11.2f} {warm['process']:>11.2f} "
                  f"{warm['process'] / cold['process']:>10.3f} | {f} | {c}", flush=True)
            print(f"        warm runs (s): {sorted(round(w['seconds'], 2) for w in warms)}; "
                  f"median one by stage (s): {warm['timings']}; "
                  f"{len(cold['skills'])} skills, {cold['lessons']} lessons", flush=True)
            if full:
                unchanged = {s[1] for s in full["skills"]} <= {"unchanged", "rejected"}
                print(f"        whole pipeline on the same input: skills "
                      f"{'unchanged' if unchanged else 'CHANGED'} "
                      f"({[s[1] for s in full['skills']]})", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(lib, ignore_errors=True)
            shutil.rmtree(tmp / f"cli-home-{n}", ignore_errors=True)
            shutil.rmtree(tmp / f"cli-lib-{n}", ignore_errors=True)
        print("warm re-run of an unchanged folder / cold, inside distill(): "
              + ", ".join(f"{n}: {r:.3f}" for n, r, _, _ in ratios)
              + "; whole process: " + ", ".join(f"{n}: {p:.3f}" for n, _, p, _ in ratios)
              + ("; command line: " + ", ".join(f"{n}: {c:.3f}" for n, _, _, c in ratios)
                 if not a.no_cli else "")
              + " (target <= 0.10)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
