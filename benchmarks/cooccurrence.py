"""Co-occurrence pair builder: wall time and peak memory at 10M clicks on DuckDB and on Spark (`local[N]`), and
speed vs the pure-Python reference.

    python benchmarks/cooccurrence.py [--clicks 10000000 --users 1000000 --notes 200000] [--spark-cores 2]

Synthetic log: users' history lengths are Zipf-like (Pareto, mean ~10, capped at --max-length), note
popularity is Zipf (exponent 1.1), timestamps are increasing per user. The log is written to Parquet first and
each engine reads that file (the way a log too large for memory arrives). Each figure runs in a fresh process
so peak memory (max RSS) belongs to that run alone; for Spark it is the larger of the Python driver's and the
JVM's (VmHWM), and the JVM's start (a few seconds) is outside the timing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_log(clicks: int, users: int, notes: int, max_length: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.5, users) + 1.0
    lengths = np.clip(np.round(weights / weights.mean() * clicks / users), 1, max_length).astype(np.int64)
    lengths = lengths[np.cumsum(lengths) <= clicks]
    ranks = np.arange(1, notes + 1, dtype=np.float64)
    popularity = ranks**-1.1
    note_ids = rng.choice(notes, size=int(lengths.sum()), p=popularity / popularity.sum())
    user_ids = np.repeat(np.arange(len(lengths)), lengths)
    timestamps = np.arange(len(user_ids), dtype=np.int64)  # increasing within each user's block
    return pd.DataFrame({"user_id": user_ids, "note_id": note_ids, "timestamp": timestamps})


def run_one(args: argparse.Namespace) -> None:
    frame = synthetic_log(args.clicks, args.users, args.notes, args.max_length)
    jvm_peak_gib = 0.0
    if args.engine in ("duckdb", "spark"):
        from notellm_hf.data.pairs import build_cooccurrence_pairs

        path = Path(args.work) / "clicks.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path)
        options = {}
        if args.engine == "spark":
            from pyspark.sql import SparkSession

            options["spark"] = (
                SparkSession.builder.master(f"local[{args.spark_cores}]")
                .config("spark.driver.memory", args.spark_memory)
                .config("spark.sql.shuffle.partitions", str(4 * args.spark_cores))
                .config("spark.ui.enabled", "false")
                .getOrCreate()
            )
            options["spark"].range(1).count()  # JVM up before the clock starts
        start = time.perf_counter()
        count = len(build_cooccurrence_pairs(path, max_history=args.max_history, engine=args.engine, **options))
        seconds = time.perf_counter() - start
        if args.engine == "spark":
            jvm = options["spark"].sparkContext._gateway.proc.pid
            status = Path(f"/proc/{jvm}/status").read_text()
            jvm_peak_gib = (
                int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 2**20
            )
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from conftest import reference_pairs

        start = time.perf_counter()
        count = len(reference_pairs(frame.itertuples(index=False, name=None), max_history=args.max_history))
        seconds = time.perf_counter() - start
    peak_gib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, jvm_peak_gib)
    print(
        json.dumps(
            {
                "clicks": len(frame),
                "users": int(frame.user_id.nunique()),
                "pairs": count,
                "seconds": round(seconds, 2),
                "peak_gib": round(peak_gib, 2),
            }
        )
    )


def measure(
    engine: str, clicks: int, users: int, notes: int, max_length: int, max_history: int | None, *extra: str
) -> dict:
    command = [
        sys.executable,
        __file__,
        "--one",
        *extra,
        "--engine",
        engine,
        "--clicks",
        str(clicks),
        "--users",
        str(users),
        "--notes",
        str(notes),
        "--max-length",
        str(max_length),
    ]
    if max_history:
        command += ["--max-history", str(max_history)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--notes", type=int, default=200_000)
    parser.add_argument("--max-length", type=int, default=1000, help="cap on one user's history length")
    parser.add_argument("--max-history", type=int, default=None)
    parser.add_argument("--engine", choices=["duckdb", "spark", "python"], default="duckdb")
    parser.add_argument("--spark-cores", type=int, default=2, help="local[N] cores of the Spark run")
    parser.add_argument("--spark-memory", default="8g", help="the Spark driver's (= local executor's) heap")
    parser.add_argument("--work", default=str(Path(__file__).resolve().parents[1] / "outputs" / "cooccurrence"))
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args)
        return
    shape = (args.clicks, args.users, args.notes, args.max_length, args.max_history)
    spark_flags = ("--spark-cores", str(args.spark_cores), "--spark-memory", args.spark_memory, "--work", args.work)
    figures = {"duckdb": measure("duckdb", *shape, "--work", args.work)}
    figures[f"spark local[{args.spark_cores}]"] = measure("spark", *shape, *spark_flags)
    cores = {"duckdb": os.cpu_count() or 1, f"spark local[{args.spark_cores}]": args.spark_cores}
    for engine, large in figures.items():
        print(
            f"{engine:>14} {large['clicks']:>10,} clicks {large['users']:>9,} users -> {large['pairs']:>9,} pairs: "
            f"{large['seconds']:7.2f} s, peak {large['peak_gib']:.2f} GiB, "
            f"{large['clicks'] / large['seconds'] / cores[engine]:,.0f} clicks/s per core"
        )
    small_clicks, small_users = 100_000, 10_000
    fast = measure("duckdb", small_clicks, small_users, args.notes // 10, args.max_length, args.max_history)
    slow = measure("python", small_clicks, small_users, args.notes // 10, args.max_length, args.max_history)
    print(
        f"100k clicks: duckdb {fast['seconds']:.2f} s, python reference {slow['seconds']:.2f} s, "
        f"speed ratio {slow['seconds'] / fast['seconds']:.1f}x "
        f"(same {fast['pairs']:,} pairs: {fast['pairs'] == slow['pairs']})"
    )
    if args.out:
        from encode_speed import cpu_description

        figures["cpu"] = cpu_description()
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
