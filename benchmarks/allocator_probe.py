"""Encoding and training speed under glibc's malloc and under jemalloc, side by side in one run.

    python benchmarks/allocator_probe.py [--notes 1000] [--steps 16] [--conf MALLOC_CONF ...]
        [--glibc-tunables GLIBC_TUNABLES ...] [--no-jemalloc] [--out F.json]

Each allocator gets a fresh process (glibc's malloc, then glibc's malloc once per ``--glibc-tunables``, e.g.
``glibc.malloc.hugetlb=1``, then jemalloc preloaded once per ``--conf``). In it, the
demo's NoteLLM (SmolLM2-135M, the shipped CPU config, precision `auto`) encodes ``--notes`` notes of the demo's
Debian test pool, trains ``--steps`` steps of the demo recipe (random head, so no read-out pass), then encodes the same
notes again (the order of `make demo` before it moved training into a child process). The resident memory after
the first and the last step shows whether an allocator setting keeps what it frees (the demo must fit in 24 GiB); the
training's user and kernel CPU seconds and minor page faults show where a setting saves (CPU training on glibc's
defaults spent a fifth to a third of its CPU time in the kernel in session 27).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import StepTimer, cpu_description
from transformers import TrainerCallback

from notellm_hf.allocator import DEBIAN_JEMALLOC

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "recipes" / "smollm2-135m-cpu" / "config_debian.yaml"


class ResidentMemory(TrainerCallback):
    """Resident set size (GiB) after each optimizer step."""

    def __init__(self) -> None:
        self.gib: list[float] = []

    def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        self.gib.append(round(pages * os.sysconf("SC_PAGE_SIZE") / 2**30, 2))


def measure(notes: int, steps: int) -> dict[str, object]:
    """Encoding seconds before and after ``steps`` training steps in this process, and the mean step time."""
    from notellm_hf import Note, NoteLLMForEmbeddingAndGeneration
    from notellm_hf.backbones import resolve_backbone
    from notellm_hf.data import load_benchmark_set, prepared_slice
    from notellm_hf.precision import inference_autocast
    from notellm_hf.training.recipe import parse_recipe_args, train

    data = prepared_slice("debian", "demo", 3000, 4096)
    pool = [Note.from_any(row) for row in load_benchmark_set(data).split_notes("test")][:notes]
    with tempfile.TemporaryDirectory() as out:
        argv = ["--config", str(CONFIG), "--benchmark", str(data), "--output_dir", out, "--max_steps", str(steps)]
        recipe_args = parse_recipe_args([*argv, "--save_strategy", "no", "--embedding_head_init", "random"])
        model_args, notellm_args = recipe_args[0], recipe_args[1]

        def encoding_seconds() -> float:
            model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(
                resolve_backbone(model_args.model_name_or_path), **notellm_args.config_kwargs()
            )
            start = time.perf_counter()
            with inference_autocast("auto", "cpu"):
                model.encode_notes(tokenizer, pool, batch_size=16)
            return time.perf_counter() - start

        before = encoding_seconds()
        timer, memory = StepTimer(), ResidentMemory()
        start = resource.getrusage(resource.RUSAGE_SELF)
        train(*recipe_args, callbacks=[timer, memory])
        end = resource.getrusage(resource.RUSAGE_SELF)
        after = encoding_seconds()
    return {
        "cpu": cpu_description(),
        "encode_before_training_s": round(before, 2),
        "encode_after_training_s": round(after, 2),
        "step_s": round(timer.mean(), 2),
        "rss_gib_first_last_step": [memory.gib[0], memory.gib[-1]],
        "train_user_s": round(end.ru_utime - start.ru_utime, 1),
        "train_kernel_s": round(end.ru_stime - start.ru_stime, 1),
        "train_minor_faults": end.ru_minflt - start.ru_minflt,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument(
        "--conf", action="append", help="a MALLOC_CONF for jemalloc (repeatable; default: jemalloc's own)"
    )
    parser.add_argument(
        "--glibc-tunables", action="append", default=[], help="a GLIBC_TUNABLES for glibc's malloc (repeatable)"
    )
    parser.add_argument("--no-jemalloc", action="store_true", help="glibc rows only (no jemalloc needed)")
    parser.add_argument("--out", default="outputs/allocator_probe.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.notes, args.steps)))
        return
    if not args.no_jemalloc and not DEBIAN_JEMALLOC.exists():
        parser.error(f"{DEBIAN_JEMALLOC} is missing: `make jemalloc` installs Debian's libjemalloc2")
    unset = ("LD_PRELOAD", "MALLOC_CONF", "GLIBC_TUNABLES")
    plain = {key: value for key, value in os.environ.items() if key not in unset}
    allocators = {"glibc malloc": plain}
    for tunables in args.glibc_tunables:
        allocators[f"glibc malloc {tunables}"] = {**plain, "GLIBC_TUNABLES": tunables}
    for conf in [] if args.no_jemalloc else args.conf or [""]:
        preload = {"LD_PRELOAD": str(DEBIAN_JEMALLOC), "MALLOC_CONF": conf}
        allocators[f"jemalloc {conf or '(defaults)'}"] = {**plain, **preload}
    command = [sys.executable, __file__, "--child", "--notes", str(args.notes), "--steps", str(args.steps)]
    rows = {}
    for name, env in allocators.items():
        child = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        rows[name] = json.loads(child.stdout.strip().splitlines()[-1])
        print(name, rows[name], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"notes": args.notes, "steps": args.steps, "rows": rows}, indent=2))
    print(
        f"| allocator | encode {args.notes} notes, fresh | after {args.steps} steps | step time | RSS, steps 1 / last "
        "| training CPU s, user / kernel | minor faults |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} ({row['cpu']['allocator']}) | {row['encode_before_training_s']} s | "
            f"{row['encode_after_training_s']} s | {row['step_s']} s | {row['rss_gib_first_last_step']} GiB | "
            f"{row['train_user_s']} / {row['train_kernel_s']} | {row['train_minor_faults']:,} |"
        )


if __name__ == "__main__":
    main()
