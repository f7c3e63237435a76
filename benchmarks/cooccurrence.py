"""Co-occurrence pair builder: wall time and peak memory at 10M clicks, and speed vs the pure-Python reference.

    python benchmarks/cooccurrence.py [--clicks 10000000 --users 1000000 --notes 200000]

Synthetic log: users' history lengths are Zipf-like (Pareto, mean ~10, capped at --max-length), note
popularity is Zipf (exponent 1.1), timestamps are increasing per user. Each figure runs in a fresh process
so peak memory (max RSS) belongs to that run alone.
"""

from __future__ import annotations

import argparse
import json
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
    if args.engine == "duckdb":
        from notellm_hf.data.pairs import build_cooccurrence_pairs

        start = time.perf_counter()
        count = len(build_cooccurrence_pairs(frame, max_history=args.max_history))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_pairs import reference_pairs

        start = time.perf_counter()
        count = len(reference_pairs(frame.itertuples(index=False, name=None), max_history=args.max_history))
    seconds = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
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


def measure(engine: str, clicks: int, users: int, notes: int, max_length: int, max_history: int | None) -> dict:
    command = [
        sys.executable,
        __file__,
        "--one",
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
    parser.add_argument("--engine", choices=["duckdb", "python"], default="duckdb")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args)
        return
    large = measure("duckdb", args.clicks, args.users, args.notes, args.max_length, args.max_history)
    print(
        f"duckdb  {large['clicks']:>10,} clicks {large['users']:>9,} users -> {large['pairs']:>9,} pairs: "
        f"{large['seconds']:7.2f} s, peak {large['peak_gib']:.2f} GiB (target <= 30 s, < 6 GiB)"
    )
    small_clicks, small_users = 100_000, 10_000
    fast = measure("duckdb", small_clicks, small_users, args.notes // 10, args.max_length, args.max_history)
    slow = measure("python", small_clicks, small_users, args.notes // 10, args.max_length, args.max_history)
    print(
        f"100k clicks: duckdb {fast['seconds']:.2f} s, python reference {slow['seconds']:.2f} s, "
        f"speed ratio {slow['seconds'] / fast['seconds']:.1f}x "
        f"(same {fast['pairs']:,} pairs: {fast['pairs'] == slow['pairs']})"
    )


if __name__ == "__main__":
    main()
