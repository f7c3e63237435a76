"""GradCache: peak memory and time of one large contrastive batch, with and without `mini_batch_size`.

    python benchmarks/grad_cache.py [--notes 256] [--mini 32] [--trainable-layers 8]

Each configuration runs in a fresh process: SmolLM2-135M-Instruct, real Debian pairs, one forward + backward
(`NoteLLMTrainer.training_step`). Peak memory is the process's peak resident set size during the step
(VmHWM, reset just before it), so the loaded model is not counted twice.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def worker(data: str, notes: int, mini: int | None, trainable_layers: int | None) -> dict:
    from common import smollm2_notellm

    from notellm_hf import NoteLLMCollator, NoteLLMTrainer, NoteLLMTrainingArguments
    from notellm_hf.data.benchmark_set import load_benchmark_set
    from notellm_hf.data.notes import notes_by_id

    benchmark = load_benchmark_set(Path(data).expanduser())
    model, tokenizer, _ = smollm2_notellm()
    prompt = model.note_prompt
    pairs = benchmark.train_pairs.head(notes // 2)
    collator = NoteLLMCollator(tokenizer, prompt=prompt, seed=0, notes=notes_by_id(benchmark.notes))
    batch = collator([{"anchor": a, "positive": b} for a, b in zip(pairs.note_id_a, pairs.note_id_b, strict=True)])
    args = NoteLLMTrainingArguments(
        output_dir="/tmp/notellm_grad_cache",
        use_cpu=True,
        report_to="none",
        mini_batch_size=mini,
        trainable_layers=trainable_layers,
    )
    trainer = NoteLLMTrainer(model=model, args=args, processing_class=tokenizer, data_collator=collator)
    trainer.current_gradient_accumulation_steps = 1
    before = _rss_bytes()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    start = time.perf_counter()
    trainer.training_step(model, dict(batch))
    seconds = time.perf_counter() - start
    tokens = int(batch["attention_mask"].sum())
    return {"seconds": seconds, "peak_over_loaded": _peak_rss_bytes() - before, "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="~/.cache/notellm_hf/datasets/debian")
    parser.add_argument("--notes", type=int, default=256)
    parser.add_argument("--mini", type=int, default=32)
    parser.add_argument("--trainable-layers", type=int, default=8)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    layers = args.trainable_layers or None
    if args.worker:
        notes, mini = json.loads(args.worker)
        print(json.dumps(worker(args.data, notes, mini, layers)))
        return
    runs = {
        f"plain, {args.mini} notes": (args.mini, None),
        f"plain, {args.notes} notes": (args.notes, None),
        f"GradCache, {args.notes} notes in chunks of {args.mini}": (args.notes, args.mini),
    }
    results = {}
    for name, setting in runs.items():
        command = [sys.executable, __file__, "--data", args.data, "--trainable-layers", str(args.trainable_layers)]
        out = subprocess.run([*command, "--worker", json.dumps(setting)], capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    small, plain, cached = results.values()
    print(f"| run | step time | peak memory over the loaded model | (top {layers} layers trainable, fp32) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.1f} s | {r['peak_over_loaded'] / 2**20:.0f} MiB | {r['tokens']} tokens |")
    memory = cached["peak_over_loaded"] / small["peak_over_loaded"]
    time_ratio = cached["seconds"] / plain["seconds"]
    print(f"GradCache / plain {args.mini}-note peak memory: {memory:.2f}x (target <= 1.5x)")
    print(f"GradCache / plain {args.notes}-note step time: {time_ratio:.2f}x (target <= 1.4x)")


if __name__ == "__main__":
    main()
