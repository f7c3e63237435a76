"""How close the int8 ONNX file embeds to fp32, by SmoothQuant alpha and number of calibration notes (dev split).

    python benchmarks/int8_smoothing.py --model DIR [--alphas 0.5,0.8,0.9] [--calibration 8,64,256] [--notes 200]

Exports the trained NoteLLM ``--model`` once as stock modules, then for each (alpha, calibration count) writes the
ONNX files again (`add_onnx_files`, calibrated on the first training notes of ``--data``)
and embeds the first ``--notes`` test notes of the dev slice with the int8 and the fp32 graph: min / mean / 5th
percentile cosine. Only agreement is measured here (no timings): benchmarks/encode_speed.py times the shipped file.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from notellm_hf.data import cache_dir, load_benchmark_set
from notellm_hf.hub import NoteTextRenderer, OnnxNoteEncoder, add_onnx_files, export_sentence_transformers
from notellm_hf.models.notellm.processing_notellm import Note

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a trained NoteLLM folder")
    parser.add_argument("--data", default=str(cache_dir() / "datasets" / "debian-dev-1500-2048"))
    parser.add_argument("--alphas", default="0.5,0.8,0.9")
    parser.add_argument("--calibration", default="64", help="calibration note counts (comma-separated)")
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "outputs" / "int8_smoothing"))
    args = parser.parse_args()
    benchmark = load_benchmark_set(args.data)
    train = benchmark.split_notes("train")
    notes = [Note.from_any(row) for row in benchmark.split_notes("test").select(range(args.notes))]
    out = Path(args.out)
    stock = out / "stock"
    if not (stock / "modules.json").exists():
        export_sentence_transformers(args.model, stock)
    texts = NoteTextRenderer.from_pretrained(stock)(notes)
    rows = []
    for count in [int(value) for value in args.calibration.split(",")]:
        calibration = [Note.from_any(row) for row in train.select(range(count))]
        for alpha in [float(value) for value in args.alphas.split(",")]:
            add_onnx_files(stock, calibration, alpha)
            fp32 = OnnxNoteEncoder(stock, "fp32").encode(texts)
            cosine = np.sum(OnnxNoteEncoder(stock, "int8").encode(texts) * fp32, axis=1)
            row = {"alpha": alpha, "calibration_notes": count, "cosine_min": round(float(cosine.min()), 4)}
            row.update(cosine_mean=round(float(cosine.mean()), 5), cosine_p5=round(float(np.percentile(cosine, 5)), 4))
            rows.append(row)
            print(json.dumps(row), flush=True)
    shutil.rmtree(stock / "onnx")
    meta = {"model": args.model, "data": args.data, "notes": len(notes)}
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
