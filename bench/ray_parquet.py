"""Issue 18 item 5: ``--executor ray`` against the local executor, and the Parquet export.

    python bench/ray_parquet.py [--repeat 3] [--runs 5000] [--cpus 2] [--ray-runs N]
                                [--skip-ray] [--skip-parquet]

Ray (needs the ``ray`` extra): a local Ray instance with ``--cpus`` CPUs is started once (its
start-up is printed apart). Then, alternating local and Ray ``--repeat`` times in one process,
the held-out gate on the tau-bench airline runs (5 folds, mined once beforehand) and a whole
offline distill of them into a fresh home; medians, and the Ray / local ratio. ``--ray-runs N``
uses N synthetic runs instead of the airline runs.

Parquet: ``--runs`` synthetic airline runs (``bench/analyze_miner.py``'s generator) as one
skillforge JSONL file. Baseline: ``skillforge ingest`` of that file into a fresh home. Then
``traces export --parquet`` of the store, ``skillforge ingest`` of the export into another
fresh home, and one aggregate query (tool calls per tool) by DuckDB over the store file and
over the Parquet files; sizes of the JSONL, the store file and the export.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
TAU = ROOT.parent / "shared" / "data" / "tau-bench-airline"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_ray(repeat: int, cpus: int, runs: int) -> None:
    import ray

    from skillforge import Settings, distill
    from skillforge.analyze.miner import mine_store
    from skillforge.executors import LocalExecutor, RayExecutor
    from skillforge.ingest import ingest
    from skillforge.store import connect, load_lessons
    from skillforge.verify.crossval import CrossvalConfig, crossval_gate

    start, _ = timed(lambda: ray.init(num_cpus=cpus, include_dashboard=False,
                                      log_to_driver=False))
    ex = RayExecutor()
    with tempfile.TemporaryDirectory() as d:
        src = TAU
        label = "tau-bench airline, 200 runs"
        if runs:
            from scale import write_runs

            src = Path(d) / "synthetic.jsonl"
            write_runs(src, runs)
            label = f"synthetic, {runs} runs"
        s = Settings.load(Path(d) / "home")
        ingest([src], settings=s, show_progress=False)
        con = connect(s.db_path)
        mined = mine_store(con)
        lessons = load_lessons(con)
        con.close()
        cfg = CrossvalConfig(folds=5)
        warm, _ = timed(lambda: crossval_gate(lessons, mined.runs, cfg, executor=ex))
        gate: dict[str, list[float]] = {"local": [], "ray": []}
        whole: dict[str, list[float]] = {"local": [], "ray": []}
        kept: dict[str, list[str]] = {}
        for i in range(repeat):
            for name, e in (("local", LocalExecutor()), ("ray", ex)):
                sec, rep = timed(lambda e=e: crossval_gate(lessons, mined.runs, cfg, executor=e))
                gate[name].append(sec)
                kept[name] = [k.id for k in rep.kept]
                home = Path(d) / f"{name}{i}"
                sec, _ = timed(lambda name=name, home=home: distill(
                    [src], settings=Settings.load(home / "home"), out=home / "lib",
                    show_progress=False, executor=name, reuse=False))
                whole[name].append(sec)
    print(f"Ray: local instance with {cpus} CPUs started in {start:.1f} s; first gate on it "
          f"(workers importing skillforge) {warm:.1f} s; same lessons kept: "
          f"{kept['local'] == kept['ray']}")
    print(f"| what ({label}) | local s | ray s | ray / local |")
    print("|---|---:|---:|---:|")
    for what, m in (("held-out gate, 5 folds", gate), ("whole distill (offline)", whole)):
        lo, ra = statistics.median(m["local"]), statistics.median(m["ray"])
        print(f"| {what} (median of {repeat}) | {lo:.2f} | {ra:.2f} | {ra / lo:.2f}x |")
    ex.close()
    ray.shutdown()


def bench_parquet(runs: int) -> None:
    import duckdb
    from scale import write_runs

    from skillforge import Settings
    from skillforge.ingest import ingest
    from skillforge.store import connect
    from skillforge.store.parquet import export_parquet

    random.seed(7)
    with tempfile.TemporaryDirectory() as d:
        jsonl = Path(d) / "runs.jsonl"
        steps = write_runs(jsonl, runs)
        s1 = Settings.load(Path(d) / "h1")
        base, _ = timed(lambda: ingest([jsonl], settings=s1, show_progress=False))
        con = connect(s1.db_path, read_only=True)
        exp_s, rep = timed(lambda: export_parquet(con, Path(d) / "export"))
        con.close()
        s2 = Settings.load(Path(d) / "h2")
        back, irep = timed(lambda: ingest([Path(d) / "export"], settings=s2,
                                          show_progress=False))
        assert irep.added == runs, irep.summary()
        q = ("SELECT tool_name, count(*) FROM {src} WHERE kind = 'tool_call' GROUP BY 1 "
             "ORDER BY 2 DESC")
        store = duckdb.connect(str(s1.db_path), read_only=True)
        q_store, a = timed(lambda: store.execute(q.format(src="steps")).fetchall())
        store.close()
        pq = duckdb.connect()
        glob = f"read_parquet('{Path(d) / 'export'}/steps/**/*.parquet', hive_partitioning=1)"
        q_pq, b = timed(lambda: pq.execute(q.format(src=glob)).fetchall())
        assert a == b
        mb = 1e6
        print(f"Parquet: {runs} synthetic runs, {steps} steps")
        print("| what | seconds | x baseline | size MB |")
        print("|---|---:|---:|---:|")
        print(f"| ingest the JSONL (baseline) | {base:.2f} | 1.00x | "
              f"{jsonl.stat().st_size / mb:.1f} JSONL, {s1.db_path.stat().st_size / mb:.1f} "
              "store file |")
        print(f"| traces export --parquet | {exp_s:.2f} | {exp_s / base:.2f}x | "
              f"{rep.bytes / mb:.1f} ({rep.files} files, {rep.partitions} partitions) |")
        print(f"| ingest the export into a new home | {back:.2f} | {back / base:.2f}x | |")
        print(f"| DuckDB query: tool calls per tool, store file | {q_store:.3f} | | |")
        print(f"| the same query over the Parquet steps | {q_pq:.3f} | | |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--ray-runs", type=int, default=0)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-parquet", action="store_true")
    a = ap.parse_args()
    if not a.skip_ray:
        bench_ray(a.repeat, a.cpus, a.ray_runs)
    if not a.skip_parquet:
        bench_parquet(a.runs)


if __name__ == "__main__":
    main()
