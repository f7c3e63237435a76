"""Index build rate from embedding shards: what a 10^8-note index costs to build, measured at 10^6.

    python benchmarks/index_build.py [--vectors 1000000 --dim 128 --factory "IVF4096,PQ16" --shard-size 100000]
        [--factory "IVF4096,PQ16,RFlat" --k-factor 10]

Writes `--vectors` clustered unit vectors (the synthetic set of `throughput.py`) as `encode_to_shards`-style shards,
then times `NoteIndex.from_shards` (train on the first 262,144 vectors, then add shard by shard), and reports the
build time, the build rate per core (vectors/s / cores), the saved files' bytes per vector (faiss index, note ids)
and recall@10 of 1,000 held-out queries against the exact inner-product top 10 with their search rate (one batch),
at the given nprobe (and refine k_factor).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from encode_speed import cpu_description
from throughput import clustered_unit_vectors

from notellm_hf.retrieval.index import NoteIndex


def write_shards(vectors: np.ndarray, folder: Path, shard_size: int) -> None:
    for number, start in enumerate(range(0, len(vectors), shard_size)):
        block = vectors[start : start + shard_size]
        np.save(folder / f"shard-{number:05d}.npy", block)
        ids = [f"n{start + row}" for row in range(len(block))]
        (folder / f"shard-{number:05d}.ids.json").write_text(json.dumps(ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--factory", default="IVF4096,PQ16")
    parser.add_argument("--nprobe", type=int, default=32)
    parser.add_argument("--k-factor", type=float, help="a refine stage's re-ranked candidates per result (',RFlat')")
    parser.add_argument("--shard-size", type=int, default=100_000)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    data = clustered_unit_vectors(args.vectors + 1000, args.dim, clusters=4096, seed=0)
    vectors, queries = data[: args.vectors], data[args.vectors :]
    with tempfile.TemporaryDirectory() as folder:
        write_shards(vectors, Path(folder), args.shard_size)
        start = time.perf_counter()
        index = NoteIndex.from_shards(folder, factory=args.factory, nprobe=args.nprobe, k_factor=args.k_factor)
        build_seconds = time.perf_counter() - start
        saved = index.save(Path(folder) / "index")
        sizes = {path.name: path.stat().st_size for path in saved.iterdir()}
    exact = np.concatenate(
        [np.argpartition(-(block @ vectors.T), 10, axis=1)[:, :10] for block in np.array_split(queries, 10)]
    )
    start = time.perf_counter()
    _, found = index.search(queries, k=10)
    search_seconds = time.perf_counter() - start
    hits = [len({f"n{row}" for row in truth} & set(ids)) for truth, ids in zip(exact, found, strict=True)]
    cores = os.cpu_count() or 1
    figures = {
        "factory": args.factory,
        "vectors": args.vectors,
        "dim": args.dim,
        "build_seconds": round(build_seconds, 1),
        "vectors_per_s_per_core": round(args.vectors / build_seconds / cores),
        "bytes_per_vector": {name: round(size / args.vectors, 1) for name, size in sizes.items()},
        "recall_at_10": round(float(np.mean(hits)) / 10, 3),
        "queries_per_s": round(len(queries) / search_seconds),
        "nprobe": args.nprobe,
        "k_factor": args.k_factor,
        "cpu": cpu_description(),
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
