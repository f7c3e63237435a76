"""GradCache: peak memory and time of one large contrastive batch, with and without `mini_batch_size`.

    python benchmarks/grad_cache.py [--notes 512] [--mini 32] [--trainable-layers 8]

Each configuration runs in a fresh process: SmolLM2-135M-Instruct, real Debian pairs, one forward + backward
(`NoteLLMTrainer.training_step`). Peak memory is the process's peak resident set size during the step
(VmHWM, reset just before it), so the loaded model is not counted twice. On a GPU (bf16 autocast) it is the
peak of allocated device memory over what was allocated before the step, after one untimed warm-up step (so
gradients count as loaded); the time is the mean of ``--repeats`` steps.
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


def worker(data: str, notes: int, mini: int | None, trainable_layers: int | None, repeats: int) -> dict:
    import torch
    from common import smollm2_collator

    from notellm_hf import NoteLLMTrainer, NoteLLMTrainingArguments

    benchmark, model, tokenizer, collator = smollm2_collator(data)
    pairs = benchmark.train_pairs.head(notes // 2)
    cuda = torch.cuda.is_available()
    batch = collator([{"anchor": a, "positive": b} for a, b in zip(pairs.note_id_a, pairs.note_id_b, strict=True)])
    args = NoteLLMTrainingArguments(
        output_dir="/tmp/notellm_grad_cache",
        use_cpu=not cuda,
        bf16=cuda,
        report_to="none",
        mini_batch_size=mini,
        trainable_layers=trainable_layers,
    )
    trainer = NoteLLMTrainer(model=model, args=args, processing_class=tokenizer, data_collator=collator)
    trainer.current_gradient_accumulation_steps = 1
    if cuda:
        trainer.training_step(model, dict(batch))  # warm-up: kernels, autocast casts, gradient buffers
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        repeats = 1  # a CPU step takes long enough to time once
        before = _rss_bytes()
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    start = time.perf_counter()
    for _ in range(repeats):
        trainer.training_step(model, dict(batch))
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / repeats
    peak = torch.cuda.max_memory_allocated() if cuda else _peak_rss_bytes()
    return {"seconds": seconds, "peak_over_loaded": peak - before, "tokens": int(batch["attention_mask"].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="~/.cache/notellm_hf/datasets/debian")
    parser.add_argument("--notes", type=int, default=512)
    parser.add_argument("--mini", type=int, default=32)
    parser.add_argument("--trainable-layers", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="timed steps on a GPU (one on a CPU)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    layers = args.trainable_layers or None
    if args.worker:
        notes, mini = json.loads(args.worker)
        print(json.dumps(worker(args.data, notes, mini, layers, args.repeats)))
        return
    runs = {
        f"plain, {args.mini} notes": (args.mini, None),
        f"plain, {args.notes} notes": (args.notes, None),
        f"GradCache, {args.notes} notes in chunks of {args.mini}": (args.notes, args.mini),
    }
    results = {}
    for name, setting in runs.items():
        command = [sys.executable, __file__, "--data", args.data, "--trainable-layers", str(args.trainable_layers)]
        command += ["--repeats", str(args.repeats)]
        out = subprocess.run([*command, "--worker", json.dumps(setting)], capture_output=True, text=True)
        if out.returncode and "OutOfMemoryError" in out.stderr:
            results[name] = None  # a finding in itself: the plain large batch does not fit
        elif out.returncode:
            raise SystemExit(f"{name} failed:\n{out.stderr[-4000:]}")
        else:
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    small, plain, cached = results.values()
    trained = "all layers" if layers is None else f"top {layers} layers"
    print(f"| run | step time | peak memory over the loaded model | ({trained} trainable) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        if r is None:
            print(f"| {name} | out of memory | - | - |")
        else:
            mib = r["peak_over_loaded"] / 2**20
            print(f"| {name} | {r['seconds']:.3f} s | {mib:.0f} MiB | {r['tokens']} tokens |")
    if small and cached:
        memory = cached["peak_over_loaded"] / small["peak_over_loaded"]
        print(f"GradCache / plain {args.mini}-note peak memory: {memory:.2f}x (target <= 1.5x)")
    if plain and cached:
        time_ratio = cached["seconds"] / plain["seconds"]
        print(f"GradCache / plain {args.notes}-note step time: {time_ratio:.2f}x (target <= 1.4x)")


if __name__ == "__main__":
    main()
