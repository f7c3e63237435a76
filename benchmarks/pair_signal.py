"""How much of a set's training pairs the note text can predict, before any NoteLLM run is spent on it.

    python benchmarks/pair_signal.py [--data debian,movielens] [--pairs 2048] [--batch 64] [--out outputs/pair_signal]

On the dev slice the quality benchmark trains on (`prepared_slice(..., "dev", 1500, 4096, dev=True)`), shuffles the
training pairs (seed 0), cuts them into batches of ``--batch`` pairs as the trainer does and scores, for each note
of a batch, its positive against the batch's other positives (in-batch accuracy; chance = 1 / batch) with
all-MiniLM-L6-v2 zero-shot, and the in-batch InfoNCE loss at several logit scales (ln(batch) is the loss of a model
that cannot tell the candidates apart). Where the notes' titles end in a release year ("Heat (1995)"), it also
scores the year alone (nearest year first; ties share the hit) and counts the pairs at most 2 years apart against
the same anchors paired with shuffled positives. Where a strong sentence encoder cannot tell a batch's candidates
apart either, NoteLLM's contrastive loss staying near ln(batch) says more about the pairs than about the recipe
(MovieLens: RESULTS.md, "Round 12, MovieLens"). Writes <out>/results.json.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from notellm_hf.data import load_benchmark_set, prepared_slice
from notellm_hf.data.sets.movielens import release_year
from notellm_hf.evaluation.baselines import minilm_path, sentence_transformer_embeddings
from notellm_hf.models.notellm.processing_notellm import Note

ROOT = Path(__file__).resolve().parents[1]
SETS = {"debian": "debian", "movielens": "movielens-tmdb"}
SCALES = (5.0, 10.0, 20.0, 50.0)


def in_batch_scores(similarity: torch.Tensor, batch: int) -> dict[str, float]:
    """Mean in-batch accuracy (ties at the top share the hit) and InfoNCE loss per scale over the diagonal blocks
    of an (n, n) anchor x positive similarity matrix."""
    accuracies, losses = [], {scale: [] for scale in SCALES}
    for start in range(0, len(similarity) - batch + 1, batch):
        block = similarity[start : start + batch, start : start + batch]
        top = block == block.max(dim=1, keepdim=True).values
        accuracies.append((top.diagonal().double() / top.sum(dim=1)).mean().item())
        for scale in SCALES:
            losses[scale].append(torch.nn.functional.cross_entropy(scale * block, torch.arange(batch)).item())
    return {
        "in_batch_accuracy": round(float(np.mean(accuracies)), 4),
        **{f"loss_at_scale_{scale:g}": round(float(np.mean(values)), 3) for scale, values in losses.items()},
    }


def minilm_unit_vectors(minilm: SentenceTransformer, notes: list[Note]) -> torch.Tensor:
    return torch.nn.functional.normalize(
        torch.as_tensor(np.asarray(sentence_transformer_embeddings(minilm, notes))), dim=-1
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="debian,movielens")
    parser.add_argument("--pairs", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", default=str(ROOT / "outputs" / "pair_signal"))
    args = parser.parse_args()
    minilm = SentenceTransformer(minilm_path())
    results = {}
    for name in args.data.split(","):
        benchmark = load_benchmark_set(prepared_slice(SETS[name], "dev", 1500, 4096, dev=True))
        pairs = benchmark.train_pairs.sample(frac=1.0, random_state=0).head(args.pairs)
        notes = {row["note_id"]: Note.from_any(row) for row in benchmark.split_notes("train")}
        anchors, positives = [notes[i] for i in pairs.note_id_a], [notes[i] for i in pairs.note_id_b]
        encoded = [minilm_unit_vectors(minilm, side) for side in (anchors, positives)]
        row = {
            "pairs": len(pairs),
            "batch": args.batch,
            "chance_accuracy": round(1 / args.batch, 4),
            "ln_batch": round(math.log(args.batch), 3),
            "all-MiniLM-L6-v2 zero-shot": in_batch_scores(encoded[0] @ encoded[1].T, args.batch),
        }
        # The year alone, over the pairs whose two titles both carry one (batched the same way).
        dated = [(release_year(x.title), release_year(y.title)) for x, y in zip(anchors, positives, strict=True)]
        dated = [(x, y) for x, y in dated if x is not None and y is not None]
        if dated:
            a, p = torch.tensor(dated, dtype=torch.float64).T
            accuracy = in_batch_scores(-(a[:, None] - p[None, :]).abs(), args.batch)["in_batch_accuracy"]
            shuffled = p[torch.randperm(len(p), generator=torch.Generator().manual_seed(0))]
            row["release year alone"] = {
                "pairs": len(dated),
                "in_batch_accuracy": accuracy,
                "pairs_at_most_2_years_apart": round(((a - p).abs() <= 2).double().mean().item(), 4),
                "random_pairs_at_most_2_years_apart": round(((a - shuffled).abs() <= 2).double().mean().item(), 4),
            }
        results[name] = row
        print(name, json.dumps(row), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
