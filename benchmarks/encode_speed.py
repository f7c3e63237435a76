"""Encoding speed and agreement of the ways to encode: notes/s, cosine to the first, and what retrieval makes of it.

    python benchmarks/encode_speed.py --model DIR [--data DIR] [--encoders "fp32,bf16,bf16 + prefix cache"]

Encodes a benchmark set's test pool with a trained NoteLLM side by side in one process (a warm-up batch first),
one way after the other (`ENCODERS`: `encode_notes` under the precisions of `notellm_hf.precision`, with or
without its shared-prefix key/value cache; the model's stock-module export on ONNX Runtime, fp32 and int8, fed
texts rendered by `NoteTextRenderer`), and reports for each: notes/s, the min / mean cosine of its embeddings to
the first encoder's, and the pool's Avg recall with the paired bootstrap interval against the first. The first,
"fp32", is `encode_notes` as it was before these levers. The CPU model and its bf16 flags are written next to the
figures. Default data: the dev slice the levers of issue 13 were chosen on (no test notes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from common import cpu_description

from notellm_hf.backbones import load_notellm
from notellm_hf.data import cache_dir, load_benchmark_set
from notellm_hf.evaluation import compare_to_reference, embedding_scorer, markdown_table, retrieval_metrics
from notellm_hf.hub import NoteTextRenderer, OnnxNoteEncoder, export_sentence_transformers
from notellm_hf.hub.onnx_export import ONNX_FILES
from notellm_hf.models.notellm.processing_notellm import Note
from notellm_hf.precision import inference_autocast

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class EncodingRun:
    """What every encoder works from: the trained model, its stock-module export (made on first use), settings."""

    model_folder: str
    out: Path
    batch_size: int
    calibration_notes: list[Note] = field(default_factory=list)  # training notes: the int8 file's smoothing
    model: Any = None
    tokenizer: Any = None
    stock_model: Any = None
    onnx_encoders: dict[str, OnnxNoteEncoder] = field(default_factory=dict)

    def stock_export(self) -> Path:
        folder = self.out / "stock"
        if not (folder / ONNX_FILES["int8"]).exists():
            export_sentence_transformers(self.model_folder, folder, onnx=True, calibration_notes=self.calibration_notes)
        return folder


def notellm_encoder(precision: str, reuse_prefix: bool) -> Callable[[EncodingRun, list[Note]], np.ndarray]:
    def encode(run: EncodingRun, notes: list[Note]) -> np.ndarray:
        with inference_autocast(precision, "cpu"):
            return run.model.encode_notes(
                run.tokenizer, notes, batch_size=run.batch_size, reuse_prefix=reuse_prefix
            ).numpy()

    return encode


def onnx_encoder(kind: str) -> Callable[[EncodingRun, list[Note]], np.ndarray]:
    def encode(run: EncodingRun, notes: list[Note]) -> np.ndarray:
        if kind not in run.onnx_encoders:
            run.onnx_encoders[kind] = OnnxNoteEncoder(run.stock_export(), kind)
        texts = NoteTextRenderer.from_model(run.model, run.tokenizer)(notes)  # rendering is part of the work
        return run.onnx_encoders[kind].encode(texts, batch_size=run.batch_size)

    return encode


def stock_encoder(run: EncodingRun, notes: list[Note]) -> np.ndarray:
    """The stock-module export on sentence-transformers (torch, fp32), fed rendered texts."""
    if run.stock_model is None:
        from sentence_transformers import SentenceTransformer

        run.stock_model = SentenceTransformer(str(run.stock_export()), device="cpu")
    texts = NoteTextRenderer.from_model(run.model, run.tokenizer)(notes)
    return run.stock_model.encode(texts, batch_size=run.batch_size)


ENCODERS = {
    "fp32": notellm_encoder("fp32", reuse_prefix=False),
    "bf16": notellm_encoder("bf16", reuse_prefix=False),
    "fp32 + prefix cache": notellm_encoder("fp32", reuse_prefix=True),
    "bf16 + prefix cache": notellm_encoder("bf16", reuse_prefix=True),
    "stock export": stock_encoder,
    "onnx fp32": onnx_encoder("fp32"),
    "onnx int8": onnx_encoder("int8"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a trained NoteLLM folder")
    parser.add_argument("--data", default=str(cache_dir() / "datasets" / "debian-dev-1500-2048"))
    parser.add_argument("--encoders", default=",".join(ENCODERS), help=f"comma-separated, from {list(ENCODERS)}")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--calibration-notes", type=int, default=64, help="training notes the int8 file is smoothed on")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="timed passes per encoder, interleaved; the median counts (a machine "
        "whose speed drifts then slows every encoder alike)",
    )
    parser.add_argument("--out", default=str(ROOT / "outputs" / "encode_speed"))
    args = parser.parse_args()
    benchmark = load_benchmark_set(args.data)
    test = benchmark.split_notes("test")
    pool = [Note.from_any(row) for row in test]
    ids, exposure = [note.note_id for note in pool], [e or 0.0 for e in test["exposure"]]
    calibration = [Note.from_any(row) for row in benchmark.split_notes("train").select(range(args.calibration_notes))]
    run = EncodingRun(args.model, Path(args.out), args.batch_size, calibration)
    run.model, run.tokenizer = load_notellm(args.model)
    names = args.encoders.split(",")
    results, embeddings, speed = {}, {}, {}
    for name in names:
        ENCODERS[name](run, pool[: args.batch_size])  # warm-up (and, for ONNX, the export on first use)
    timings: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            start = time.perf_counter()
            embeddings[name] = ENCODERS[name](run, pool)
            timings[name].append(time.perf_counter() - start)
            print(f"{name}: {len(pool)} notes in {timings[name][-1]:.1f} s", flush=True)
    for name in names:
        seconds = statistics.median(timings[name])
        speed[name] = {
            "seconds": round(seconds, 1),
            "seconds_per_round": [round(value, 1) for value in timings[name]],
            "notes_per_s": round(len(pool) / seconds, 2),
        }
        retrieval = retrieval_metrics(embedding_scorer(embeddings[name]), ids, benchmark.test_pairs, exposure)
        results[name] = {"retrieval": retrieval}
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
    meta.update(rounds=args.rounds, calibration_notes=args.calibration_notes)
    meta["cpu"] = cpu_description()
    report = {"meta": meta, "speed": speed, "results": results}
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"cpu": meta["cpu"], "speed": speed}, indent=2))
    print(markdown_table(results))


if __name__ == "__main__":
    main()
