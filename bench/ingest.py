"""Ingest throughput and peak memory, against DuckDB's own read_json as the floor.

Generates a synthetic folder of tool-calling trajectories in two formats (OpenAI chat JSON
files and skillforge JSONL), ingests each in a fresh subprocess (so peak RSS is per run), and
loads the same JSONL with DuckDB's ``read_json`` into a table in the same run.

    python bench/ingest.py [--trajectories 20000] [--out DIR] [--python-path]

Prints steps/s, CPU time, peak RSS, and the ratios ours / DuckDB on the native JSONL, with
the load average before and after. ``--python-path`` also ingests the native JSONL with
DuckDB's reader turned off (every line through pydantic, as before ``_native_sql``), so the
two paths are compared in one run. Child processes keep their bytecode in a cache under the
output folder and a warm-up run fills it first, so no run pays for compiling skillforge's
modules (this machine sets PYTHONDONTWRITEBYTECODE).
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

TOOLS = [
    "get_user_details",
    "get_reservation_details",
    "search_direct_flight",
    "update_reservation_flights",
    "cancel_reservation",
    "calculate",
    "book_reservation",
]


def make_messages(rng: random.Random, i: int) -> tuple[list[dict], float]:
    msgs: list[dict] = [
        {"role": "system", "content": "You are an airline agent. Follow the policy."},
        {
            "role": "user",
            "content": f"Hi, I need help with reservation R{i:06d}, user u_{i % 977}.",
        },
    ]
    n_calls = rng.randint(4, 12)
    for c in range(n_calls):
        tool = rng.choice(TOOLS)
        cid = f"call_{i}_{c}"
        args = {"reservation_id": f"R{i:06d}", "user_id": f"u_{i % 977}", "n": c}
        msgs.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": cid,
                        "type": "function",
                        "function": {"name": tool, "arguments": json.dumps(args)},
                    }
                ],
            }
        )
        err = rng.random() < 0.08
        body = (
            "Error: reservation not found"
            if err
            else json.dumps(
                {
                    "status": "ok",
                    "reservation_id": f"R{i:06d}",
                    "flights": [
                        {"flight_number": f"HAT{rng.randint(1, 300):03d}", "date": "2024-05-20"}
                    ],
                }
            )
        )
        msgs.append({"role": "tool", "tool_call_id": cid, "name": tool, "content": body})
        if rng.random() < 0.3:
            msgs.append({"role": "assistant", "content": "Let me check that for you."})
            msgs.append({"role": "user", "content": "Sure, go ahead."})
    msgs.append({"role": "assistant", "content": "Your request is complete."})
    return msgs, float(rng.random() < 0.45)


def generate(root: Path, n: int) -> tuple[Path, Path, int]:
    """Write n trajectories as chat JSON files (100 runs per tau-style file) and as JSONL."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from skillforge.traces.native import dump_line
    from skillforge.traces.openai_chat import build_trajectory

    rng = random.Random(7)
    chat_dir = root / "chat"
    native_dir = root / "native"
    chat_dir.mkdir(parents=True)
    native_dir.mkdir(parents=True)
    steps = 0
    per_file = 100
    with (native_dir / "all.jsonl").open("w") as nat:
        for f0 in range(0, n, per_file):
            records = []
            for i in range(f0, min(n, f0 + per_file)):
                msgs, reward = make_messages(rng, i)
                records.append(
                    {
                        "task_id": i % 500,
                        "trial": i // 500,
                        "reward": reward,
                        "info": {},
                        "traj": msgs,
                    }
                )
                t = build_trajectory(msgs, fmt="openai-chat", file="gen", line=None)
                t.task_id = str(i % 500)
                t.outcome.reward = reward
                t.outcome.success = reward >= 1.0
                t.finalize()
                steps += len(t.steps)
                nat.write(dump_line(t) + "\n")
            (chat_dir / f"runs-{f0 // per_file:05d}.json").write_text(json.dumps(records))
    return chat_dir, native_dir / "all.jsonl", steps


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from skillforge import ingest, Settings
if sys.argv[3:] == ["python"]:
    import skillforge._native_sql
    skillforge._native_sql.ENABLED = False
t0 = time.perf_counter()
rep = ingest([Path(sys.argv[1])], settings=Settings.load(sys.argv[2]), show_progress=False)
dt = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": dt, "steps": rep.steps, "added": rep.added,
                  "problems": len(rep.problems),
                  "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

DUCK = r"""
import duckdb, json, resource, sys, time
t0 = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute(f"CREATE TABLE t AS SELECT * FROM read_json('{sys.argv[1]}', "
            "format='newline_delimited', maximum_object_size=100000000)")
n = con.execute("SELECT sum(len(steps)) FROM t").fetchone()[0]
con.close()
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "steps": n,
                  "cpu": me.ru_utime + me.ru_stime,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


PYCACHE: Path | None = None


def run_child(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    if PYCACHE is not None:  # bytecode kept (and filled by a warm-up run) for every child
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trajectories", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--scale-check",
        action="store_true",
        help="also ingest a half-size folder to show peak memory does not grow",
    )
    ap.add_argument("--python-path", action="store_true",
                    help="also ingest the native JSONL by the Python path (DuckDB's reader off)")
    a = ap.parse_args()
    root = Path(a.out or tempfile.mkdtemp(prefix="sf-bench-"))
    global PYCACHE
    PYCACHE = root / "pycache"
    try:
        t0 = time.perf_counter()
        chat_dir, jsonl, steps = generate(root / "data", a.trajectories)
        print(
            f"generated {a.trajectories} trajectories, {steps} steps in "
            f"{time.perf_counter() - t0:.1f}s "
            f"(chat {sum(f.stat().st_size for f in chat_dir.iterdir()) / 1e6:.0f} MB, "
            f"jsonl {jsonl.stat().st_size / 1e6:.0f} MB)"
        )
        warm = root / "warm"
        warm.mkdir()
        (warm / "one.jsonl").write_bytes(jsonl.read_bytes()[:200_000].rsplit(b"\n", 1)[0])
        run_child(CHILD, str(warm), str(root / "home-warm"))  # fills the bytecode cache
        print(f"load average before: {load()}")
        duck = run_child(DUCK, str(jsonl), str(root / "duck.duckdb"))
        nat = run_child(CHILD, str(jsonl), str(root / "home-native"))
        split = root / "data" / "native-split"  # the same lines as 50 files
        split.mkdir()
        lines = jsonl.read_bytes().splitlines(keepends=True)
        per = -(-len(lines) // 50)
        for k in range(0, len(lines), per):
            (split / f"part-{k // per:03d}.jsonl").write_bytes(b"".join(lines[k:k + per]))
        del lines
        many = run_child(CHILD, str(split), str(root / "home-split"))
        rows = [
            ("duckdb read_json (floor)", duck),
            ("skillforge jsonl", nat),
            ("skillforge jsonl, 50 files", many),
        ]
        if a.python_path:
            rows.append(("jsonl, Python path", run_child(
                CHILD, str(jsonl), str(root / "home-native-py"), "python")))
            rows.append(("50 files, Python path", run_child(
                CHILD, str(split), str(root / "home-split-py"), "python")))
        chat = run_child(CHILD, str(chat_dir), str(root / "home-chat"))
        rows.append(("openai chat json", chat))
        print(f"load average after: {load()}")
        print(f"{'run':28} {'steps':>9} {'seconds':>8} {'steps/s':>10} {'CPU s':>6} "
              f"{'CPU us/step':>11} {'peak RSS MB':>12}")
        for name, r in rows:
            print(
                f"{name:28} {r['steps']:>9} {r['seconds']:>8.2f} "
                f"{r['steps'] / r['seconds']:>10.0f} {r['cpu']:>6.2f} "
                f"{r['cpu'] / r['steps'] * 1e6:>11.1f} {r['rss_mb']:>12.0f}"
            )
        if nat.get("worker_rss_mb"):
            print(f"(the native ingest parsed in worker processes: largest worker peak RSS "
                  f"{nat['worker_rss_mb']:.0f} MB)")
        ratio = (nat["steps"] / nat["seconds"]) / (duck["steps"] / duck["seconds"])
        print(f"ratio skillforge-jsonl / duckdb read_json: {ratio:.2f}x (target >= 0.5x)")
        ratio_m = (many["steps"] / many["seconds"]) / (duck["steps"] / duck["seconds"])
        print(f"ratio skillforge-jsonl in 50 files / duckdb read_json: {ratio_m:.2f}x")
        for name, r in rows[1:-1]:
            speed = (r["steps"] / r["seconds"]) / (duck["steps"] / duck["seconds"])
            cpu = (r["cpu"] / r["steps"]) / (duck["cpu"] / duck["steps"])
            print(f"{name:28} speed {speed:.2f}x duckdb's, CPU per step {cpu:.2f}x duckdb's "
                  "(targets >= 0.8x, <= 1.5x)")
        if a.scale_check:
            half = root / "half"
            half.mkdir()
            files = sorted(chat_dir.iterdir())
            for f in files[: len(files) // 4]:
                shutil.copy(f, half / f.name)
            small = run_child(CHILD, str(half), str(root / "home-quarter"))
            print(
                f"peak RSS at 1/4 size (chat): {small['rss_mb']:.0f} MB vs full "
                f"{chat['rss_mb']:.0f} MB"
            )
    finally:
        if a.out is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
