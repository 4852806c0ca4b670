"""A folder that grows (the harvest case): distill again after new runs arrive, with the
miner's per-run cache against the same re-run without it.

    python bench/grow.py [--sizes 10000,30000] [--grow 0.1]

For each size N, writes N synthetic airline runs (``bench/analyze_miner.py``'s generator)
as one skillforge JSONL file, distills it cold into a new home, copies that home, then adds a
second file of ``--grow`` x N new runs and distills the grown folder, each in a fresh
subprocess:

* with the cache: the home as the cold run left it; the mine stage takes the N runs it
  indexed before from the store's ``mine_cache`` and reads only the new ones from their steps;
* the baseline, in the same run: the copy, with its ``mine_cache`` emptied first, so the mine
  stage reads and indexes every run again (what a grown folder cost before the cache);
* for reference, a cold distill of the grown folder in a new home.

Prints the seconds inside ``distill()``, the mine stage's seconds (from the run record), the
ratios to the baseline, and checks that all three give the same lessons and skills.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
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
from skillforge.store import connect, load_run, load_lessons
settings = Settings.load(sys.argv[2])
if sys.argv[4] == "drop-cache":
    con = connect(settings.db_path)
    con.execute("DELETE FROM mine_cache")
    con.close()
t0 = time.perf_counter()
rep = distill([Path(sys.argv[1])], settings=settings, out=Path(sys.argv[3]), show_progress=False)
dt = time.perf_counter() - t0
con = connect(settings.db_path, read_only=True)
run = load_run(con, rep.run_id)
lessons = sorted(x.id for x in load_lessons(con, where="analyst = 'miner'"))
cached = con.execute("SELECT count(*), coalesce(sum(octet_length(data)), 0) "
                     "FROM mine_cache").fetchone()
con.close()
print(json.dumps({"seconds": dt, "skills": sorted((s.name, s.version) for s in rep.skills),
                  "lessons": lessons, "timings": {k: round(v, 3) for k, v in run.timings.items()},
                  "cache_chunks": cached[0], "cache_mb": cached[1] / 1e6,
                  "store_mb": settings.db_path.stat().st_size / 1e6}))
"""


def write_runs(path: Path, start: int, n: int) -> None:
    """Synthetic runs ``start`` .. ``start + n - 1`` as skillforge JSONL (distinct ids)."""
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    from analyze_miner import make_trajectory

    from skillforge.traces.native import dump_line

    rng = random.Random(7 + start)
    with path.open("w") as fh:
        for i in range(start, start + n):
            fh.write(dump_line(make_trajectory(rng, i)) + "\n")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT)}


def child(folder: Path, home: Path, lib: Path, mode: str = "keep") -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", DISTILL, str(folder), str(home), str(lib), mode],
                         capture_output=True, text=True, timeout=3600, env=_env())
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process"] = time.perf_counter() - t0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="10000,30000")
    ap.add_argument("--grow", type=float, default=0.1, help="new runs, as a share of N")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sf-grow-"))
    try:
        warm = tmp / "warmup"
        warm.mkdir()
        write_runs(warm / "runs.jsonl", 0, 200)
        child(warm, tmp / "warmup-home", tmp / "warmup-lib")  # compiles the modules once
        print(f"{'runs':>7} {'new':>6} | {'cold s':>7} | {'grown, cache s':>14} {'mine s':>7} | "
              f"{'grown, no cache s':>17} {'mine s':>7} | {'ratio':>6} {'mine ratio':>10} | "
              f"{'fresh home s':>12} | cache MB / store MB", flush=True)
        for n in [int(s) for s in a.sizes.split(",")]:
            folder = tmp / f"runs-{n}"
            folder.mkdir()
            write_runs(folder / "a.jsonl", 0, n)
            home, lib = tmp / f"home-{n}", tmp / f"lib-{n}"
            cold = child(folder, home, lib)
            shutil.copytree(home, tmp / f"home-{n}-b")
            shutil.copytree(lib, tmp / f"lib-{n}-b")
            # the copy is handed to the copied home (a library belongs to one home)
            (tmp / f"lib-{n}-b" / ".git" / "skillforge-owner.json").unlink(missing_ok=True)
            new = max(1, int(n * a.grow))
            write_runs(folder / "b.jsonl", n, new)
            kept = child(folder, home, lib)
            base = child(folder, tmp / f"home-{n}-b", tmp / f"lib-{n}-b", mode="drop-cache")
            fresh = child(folder, tmp / f"home-{n}-c", tmp / f"lib-{n}-c")
            same = kept["lessons"] == base["lessons"] == fresh["lessons"] and (
                kept["skills"] == base["skills"])
            km, bm = kept["timings"].get("mine", 0.0), base["timings"].get("mine", 0.0)
            print(f"{n:>7} {new:>6} | {cold['seconds']:>7.1f} | {kept['seconds']:>14.1f} "
                  f"{km:>7.1f} | {base['seconds']:>17.1f} {bm:>7.1f} | "
                  f"{kept['seconds'] / base['seconds']:>6.2f} {km / bm if bm else 0:>10.2f} | "
                  f"{fresh['seconds']:>12.1f} | {kept['cache_mb']:.1f} / {kept['store_mb']:.1f}"
                  f" | lessons {'same' if same else 'DIFFER'}", flush=True)
            print(f"        by stage, with the cache: {kept['timings']}", flush=True)
            print(f"        by stage, without:        {base['timings']}", flush=True)
            for p in (folder, home, lib, tmp / f"home-{n}-b", tmp / f"lib-{n}-b",
                      tmp / f"home-{n}-c", tmp / f"lib-{n}-c"):
                shutil.rmtree(p, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
