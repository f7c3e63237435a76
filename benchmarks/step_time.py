"""Training step time of the CPU choices (LoRA, full and partial fine-tuning, prefix cache, token budgets).

    python benchmarks/step_time.py [--data ~/.cache/notellm_hf/datasets/debian] [--pairs 16] [--steps 3]
    python benchmarks/step_time.py --padding --data <set> --pairs 16   # real-token share, random vs grouped
    python benchmarks/step_time.py --lm-head                           # LM head on every vs labelled positions
    python benchmarks/step_time.py --only top8_80_padded,top8_80_chunks8,top8_80_chunks16 --pairs 32 --steps 6
    python benchmarks/step_time.py --auto-bf16 ...   # every row in bf16 autocast where the CPU has it (the configs)

Each row trains SmolLM2-135M-Instruct with `NoteLLMTrainer` on the same real pairs (``--pairs`` pairs = 2x notes
per step) and reports the mean wall time of a full optimizer step after one warm-up step. Partial fine-tuning
runs three epochs over the same batches: epoch 1 fills the frozen-prefix cache, later epochs replay it
(hit rate printed: a note's prompt variant is redrawn each epoch, so epoch 2 still meets new sequences).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from common import StepTimer, smollm2_collator
from datasets import Dataset

from notellm_hf import NoteLLMTrainer, NoteLLMTrainingArguments
from notellm_hf.training.lora import apply_lora


def run(
    name: str,
    data: Path,
    pairs: int,
    steps: int,
    epochs: int = 1,
    content: int = 48,
    whole_epoch: bool = False,
    **variant,
) -> list[str]:
    benchmark, model, tokenizer, collator = smollm2_collator(data, content)
    chosen = benchmark.train_pairs.head(pairs * steps)
    lora = variant.pop("lora", None)
    if lora:
        model = apply_lora(model, r=lora, lora_alpha=2 * lora)
    args = NoteLLMTrainingArguments(
        output_dir="/tmp/notellm_step_time",
        per_device_train_batch_size=pairs,
        num_train_epochs=epochs,
        learning_rate=1e-4,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        logging_steps=10_000,
        **variant,
    )
    timer = StepTimer()
    dataset = Dataset.from_dict(
        {
            "anchor": chosen.note_id_a.tolist(),
            "positive": chosen.note_id_b.tolist(),
            "pair_index": list(range(len(chosen))),
        }
    )
    if args.train_sampling_strategy == "group_by_length":
        dataset = dataset.add_column(args.length_column_name, collator.pair_lengths(list(dataset)))
    trainer = NoteLLMTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        data_collator=collator,
        callbacks=[timer],
    )
    trainer.train()
    rows = []
    for epoch in range(epochs):
        # Length-grouped epochs start with their longest batch: compare them over whole epochs, warm-up included.
        mean = timer.mean(first=epoch * steps if whole_epoch else max(epoch * steps, 1), last=(epoch + 1) * steps)
        label = name if epochs == 1 else f"{name}, epoch {epoch + 1}"
        rows.append(f"| {label} | {'bf16 autocast' if args.bf16 else 'fp32'} | {2 * pairs} | {mean:.2f} s |")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    cache = trainer.prefix_cache
    extra = "" if cache is None else f"; cache hits {cache.hits}, misses {cache.misses}"
    print(f"{name}: trainable parameters {trainable / 1e6:.1f}M{extra}", flush=True)
    return rows


def padding(data: Path, pairs: int, content: int) -> list[str]:
    """Share of real tokens in one epoch of batches, random vs length-grouped: what grouping can save at most."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    benchmark, _, _, collator = smollm2_collator(data, content)
    features = [
        {"anchor": a, "positive": b, "pair_index": i}
        for i, (a, b) in enumerate(zip(benchmark.train_pairs.note_id_a, benchmark.train_pairs.note_id_b, strict=True))
    ]
    generator = torch.Generator().manual_seed(0)
    orders = {
        "random": torch.randperm(len(features), generator=generator).tolist(),
        "length-grouped": list(
            LengthGroupedSampler(pairs, lengths=collator.pair_lengths(features), generator=generator)
        ),
    }
    rows = []
    for name, order in orders.items():
        real = padded = 0
        for start in range(0, len(order) - pairs + 1, pairs):
            mask = collator([features[i] for i in order[start : start + pairs]])["attention_mask"]
            real, padded = real + int(mask.sum()), padded + mask.numel()
        rows.append(f"| {name} batches of {pairs} pairs, content {content} tokens | {real / padded:.1%} real tokens |")
    return rows


def lm_head(data: Path, pairs: int, repeats: int = 3) -> list[str]:
    """Forward + backward of the LM head and cross-entropy on one real batch: every position (a plain causal-LM
    loss) vs the labelled positions only (NoteLLM's `_generation_loss`). The decoder's hidden states are fixed."""
    import torch.nn.functional as F

    benchmark, model, _, collator = smollm2_collator(data)
    chosen = benchmark.train_pairs.head(pairs)
    batch = collator([{"anchor": a, "positive": b} for a, b in zip(chosen.note_id_a, chosen.note_id_b, strict=True)])
    with torch.no_grad():
        hidden = model.language_model.get_decoder()(batch["input_ids"], attention_mask=batch["attention_mask"])
    hidden, targets = hidden.last_hidden_state[:, :-1], batch["labels"][:, 1:]
    head = model.get_output_embeddings()
    choices = {
        "every position": targets.new_ones(targets.shape, dtype=torch.bool),
        "labelled positions": targets != -100,
    }
    rows = []
    for name, selected in choices.items():
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            states = hidden[selected].detach().requires_grad_()
            F.cross_entropy(head(states).float(), targets[selected], ignore_index=-100).backward()
            times.append(time.perf_counter() - start)
        mean = sum(times[1:]) / repeats
        rows.append(
            f"| LM head + loss on {name} ({int(selected.sum())} of {selected.numel()}) | {2 * pairs} | {mean:.2f} s |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="~/.cache/notellm_hf/datasets/debian")
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated row keys to run")
    parser.add_argument("--padding", action="store_true", help="only count real vs padded tokens over the pairs")
    parser.add_argument("--lm-head", action="store_true", help="only time the LM head: every vs labelled positions")
    parser.add_argument(
        "--auto-bf16", action="store_true", help="train every row as the CPU configs do: bf16 where native, else fp32"
    )
    args = parser.parse_args()
    data = Path(args.data).expanduser()
    if args.lm_head:
        print("\n".join(lm_head(data, args.pairs)), flush=True)
        return
    if args.padding:
        for content in (48, 80):
            print("\n".join(padding(data, args.pairs, content)), flush=True)
        return
    torch.set_num_threads(torch.get_num_threads())
    variants = {
        "full": ("full fine-tuning", {}),
        "lora": ("LoRA r=16 (all linear layers)", {"lora": 16}),
        "top8": ("top 8 of 30 layers + frozen-prefix cache", {"trainable_layers": 8, "epochs": 3}),
        "top8_80": (
            "top 8 of 30 layers + frozen-prefix cache, content budget 80 tokens (paper)",
            {"trainable_layers": 8, "epochs": 3, "content": 80},
        ),
        "top8_random": (
            "top 8 of 30 layers, random batches, one whole epoch",
            {"trainable_layers": 8, "whole_epoch": True},
        ),
        "top8_grouped": (
            "top 8 of 30 layers, length-grouped batches, one whole epoch",
            {"trainable_layers": 8, "whole_epoch": True, "train_sampling_strategy": "group_by_length"},
        ),
        "top4": ("top 4 of 30 layers + frozen-prefix cache", {"trainable_layers": 4, "epochs": 3}),
        "top8_80_padded": (
            "top 8 of 30 layers, content 80, the batch padded to its longest row",
            {"trainable_layers": 8, "content": 80},
        ),
        **{
            f"top8_80_chunks{rows}": (
                f"top 8 of 30 layers, content 80, length-sorted forward chunks of {rows} rows",
                {"trainable_layers": 8, "content": 80, "length_sorted_chunk_size": rows},
            )
            for rows in (4, 8, 16)
        },
    }
    keys = args.only.split(",") if args.only else list(variants)
    rows = ["| configuration | precision | notes/step | step time |", "|---|---|---|---|"]
    for key in keys:
        name, variant = variants[key]
        rows += run(name, data, args.pairs, args.steps, **variant, auto_bf16=args.auto_bf16)
        print("\n".join(rows), flush=True)


if __name__ == "__main__":
    main()
