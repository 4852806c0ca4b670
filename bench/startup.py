"""Start-up time of the command line, against a bare ``python -c pass`` measured in the same run.

    python bench/startup.py [--repeat 9]

Runs each command ``--repeat`` times, alternating them so load on the machine hits all
alike, and prints the median wall time, the median CPU time (user + system, from the
children's rusage) and the ratio to ``python -c pass`` (target: within 6x for ``--help`` and
``traces stats``). ``traces stats`` reads a small store made in a temp dir first, three ways:
with its counts kept by an earlier read (``skillforge.store.stats_cache``: the store has not
changed since), right after a ``skillforge ingest`` of a new file (untimed, before every run;
the writer keeps the counts of what it wrote), and on a store whose file another program
touched before every run (no kept counts apply: DuckDB). Children write bytecode
(``PYTHONDONTWRITEBYTECODE`` is dropped) and every command runs once before the timed rounds,
so no timed run compiles modules.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("duckdb", "pyarrow", "numpy", "git", "langgraph", "openai", "detect_secrets",
         "skillforge.consolidate", "skillforge.analyze", "skillforge.distill",
         "skillforge.ingest", "skillforge.verify", "skillforge.store")


def _chat_file(path: Path, n: int = 20, tag: str = "") -> None:
    runs = []
    for i in range(n):
        msgs = [{"role": "user", "content": f"Cancel reservation R{i:04d}{tag}."},
                {"role": "assistant", "content": None, "tool_calls": [{
                    "id": f"c{i}", "type": "function", "function": {
                        "name": "cancel_reservation",
                        "arguments": json.dumps({"reservation_id": f"R{i:04d}"})}}]},
                {"role": "tool", "tool_call_id": f"c{i}", "content": "cancelled"},
                {"role": "assistant", "content": "Done."}]
        runs.append({"task_id": i, "reward": float(i % 2), "info": {}, "traj": msgs})
    path.write_text(json.dumps(runs))


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(cmd: list[str], before_run: Callable[[], None] | None = None) -> tuple[float, float]:
    if before_run is not None:
        before_run()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    a = ap.parse_args()
    py = sys.executable
    exe = Path(py).with_name("skillforge")
    sf = [str(exe)] if exe.exists() else [py, "-m", "skillforge.cli"]
    tmp = Path(tempfile.mkdtemp(prefix="sf-startup-"))
    try:
        home, changed, ingested = tmp / "home", tmp / "home-changed", tmp / "home-ingested"
        _chat_file(tmp / "runs.json")
        for h in (home, changed, ingested):
            subprocess.run([*sf, "ingest", "--home", str(h), str(tmp / "runs.json")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.1)  # the store file settles (stats_cache.SETTLE_S), then a first read
        subprocess.run([*sf, "traces", "stats", "--home", str(home)], check=True,
                       stdout=subprocess.DEVNULL)  # keeps the counts
        stats = [*sf, "traces", "stats", "--home"]
        cmds = {
            "python -c pass (baseline)": [py, "-c", "pass"],
            "python -c 'import skillforge'": [py, "-c", "import skillforge"],
            "skillforge --help": [*sf, "--help"],
            "skillforge traces stats": [*stats, str(home)],
            "traces stats, after ingest": [*stats, str(ingested)],
            "traces stats, file touched": [*stats, str(changed)],
        }
        added = iter(range(1, 1_000_000))

        def ingest_new() -> None:  # a new file each time, so the store really changes
            f = tmp / "new.json"
            _chat_file(f, 5, tag=f"-{next(added)}")
            subprocess.run([*sf, "ingest", "--home", str(ingested), str(f)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)

        touch = {"traces stats, file touched": lambda: os.utime(changed / "store.duckdb"),
                 "traces stats, after ingest": ingest_new}
        for name, cmd in cmds.items():  # warm-up: bytecode written, files in the page cache
            _timed(cmd, touch.get(name))
        walls: dict[str, list[float]] = {k: [] for k in cmds}
        cpus: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(a.repeat):
            for name, cmd in cmds.items():
                w, c = _timed(cmd, touch.get(name))
                walls[name].append(w)
                cpus[name].append(c)
        base_w = statistics.median(walls["python -c pass (baseline)"])
        base_c = statistics.median(cpus["python -c pass (baseline)"])
        print(f"{'command':32} {'wall ms':>8} {'CPU ms':>7} {'wall x':>7} {'CPU x':>6}")
        for name in cmds:
            w, c = statistics.median(walls[name]), statistics.median(cpus[name])
            print(f"{name:32} {w * 1e3:8.0f} {c * 1e3:7.0f} {w / base_w:7.1f} "
                  f"{c / max(base_c, 1e-3):6.1f}")
        code = ("import sys, skillforge.cli; print(' '.join(m for m in " + repr(HEAVY)
                + " if m in sys.modules) or 'none'); print(len(sys.modules))")
        out = subprocess.run([py, "-c", code], check=True, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split("\n")
        print(f"heavy modules loaded by 'import skillforge.cli': {out[0]} "
              f"({out[1]} modules in all)")
        print("target: --help and traces stats within 6x of python -c pass (wall); "
              "'after ingest' is the first read after `skillforge ingest` (counts kept by "
              "it), 'file touched' the first after another program changed the file (DuckDB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
