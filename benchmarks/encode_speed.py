"""Encoding speed and agreement of the ways to encode: notes/s, cosine to the first, and what retrieval makes of it.

    python benchmarks/encode_speed.py --model DIR [--data DIR] [--encoders "fp32,bf16,bf16 + prefix cache"]

Encodes a benchmark set's test pool with a trained NoteLLM side by side in one process (a warm-up batch first),
one way after the other (`ENCODERS`: the precisions of `notellm_hf.precision`, with or without the shared-prefix
key/value cache of `encode_notes`), and reports for each: notes/s, the min / mean cosine of its embeddings to the
first encoder's, and the pool's Avg recall with the paired bootstrap interval against the first. The first,
"fp32", is `encode_notes` as it was before either lever. The CPU model and its bf16 flags are written next to the
figures. Default data: the dev slice the levers of issue 13 were chosen on (no test notes).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from notellm_hf.backbones import load_notellm
from notellm_hf.data import cache_dir, load_benchmark_set
from notellm_hf.evaluation import compare_to_reference, embedding_scorer, markdown_table, retrieval_metrics
from notellm_hf.models.notellm.processing_notellm import Note
from notellm_hf.precision import cpu_has_native_bf16, inference_autocast

ROOT = Path(__file__).resolve().parents[1]
# name -> (precision, reuse the shared prompt prefix's key/value cache)
ENCODERS = {
    "fp32": ("fp32", False),
    "bf16": ("bf16", False),
    "fp32 + prefix cache": ("fp32", True),
    "bf16 + prefix cache": ("bf16", True),
}


def cpu_description() -> dict[str, object]:
    """The CPU model and the flags that decide the bf16 choice (recorded with every timing)."""
    fields: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = fields.get("flags", "").split()
    wanted = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")
    return {
        "model": fields.get("model name", platform.processor()),
        "bf16_flags": [flag for flag in wanted if flag in flags],
        "native_bf16": cpu_has_native_bf16(),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a trained NoteLLM folder")
    parser.add_argument("--data", default=str(cache_dir() / "datasets" / "debian-dev-1500-2048"))
    parser.add_argument("--encoders", default=",".join(ENCODERS), help=f"comma-separated, from {list(ENCODERS)}")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default=str(ROOT / "outputs" / "encode_speed"))
    args = parser.parse_args()
    benchmark = load_benchmark_set(args.data)
    test = benchmark.split_notes("test")
    pool = [Note.from_any(row) for row in test]
    ids, exposure = [note.note_id for note in pool], [e or 0.0 for e in test["exposure"]]
    model, tokenizer = load_notellm(args.model)
    names = args.encoders.split(",")
    results, embeddings, speed = {}, {}, {}
    for name in names:
        precision, reuse_prefix = ENCODERS[name]
        with inference_autocast(precision, "cpu"):
            encode = partial(model.encode_notes, tokenizer, batch_size=args.batch_size, reuse_prefix=reuse_prefix)
            encode(pool[: args.batch_size])  # warm-up
            start = time.perf_counter()
            embeddings[name] = encode(pool).numpy()
            seconds = time.perf_counter() - start
        speed[name] = {"seconds": round(seconds, 1), "notes_per_s": round(len(pool) / seconds, 2)}
        retrieval = retrieval_metrics(embedding_scorer(embeddings[name]), ids, benchmark.test_pairs, exposure)
        results[name] = {"retrieval": retrieval}
        print(f"{name}: {len(pool)} notes in {seconds:.1f} s ({len(pool) / seconds:.2f} notes/s)", flush=True)
    first = names[0]
    for name in names:
        cosine = np.sum(embeddings[name] * embeddings[first], axis=1)  # both L2-normalised
        speed[name].update(
            cosine_min=round(float(cosine.min()), 5),
            cosine_mean=round(float(cosine.mean()), 5),
            speedup=round(speed[first]["seconds"] / speed[name]["seconds"], 2),
        )
    compare_to_reference(results, first)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"model": args.model, "data": args.data, "notes": len(pool), "batch_size": args.batch_size}
    meta["cpu"] = cpu_description()
    report = {"meta": meta, "speed": speed, "results": results}
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"cpu": meta["cpu"], "speed": speed}, indent=2))
    print(markdown_table(results))


if __name__ == "__main__":
    main()
