"""Zero-shot quality of the embedding head's starting points, on a dev split (no setting is chosen on test notes),
and, with ``--model``, whether a trained model's d-dim head loses what its read-out states hold.

    python benchmarks/head_init.py [--data debian] [--pool 1500] [--fit-notes 512] [--out outputs/head_init]
    python benchmarks/head_init.py --train-pairs 4096 --content-tokens 80 --fit-pairs 256,512,1024 \
        --pair-grid 0.1:0,0.3:0.5,0.6:0.5,0.6:1,0.8:0.5,0.9:0.5      # the pair_cca sweep of round 36
    python benchmarks/head_init.py --model outputs/round11/debian/top_16_layers/model --train-pairs 4096

Builds (cached) a dev set from the set's training notes (`dev_benchmark_set`) and a demo-sized slice of it, reads the
SmolLM2 NoteLLM's read-out states (the CPU configs' token budgets) of the dev pool and of ``--fit-notes`` training notes
once, and scores the untrained model with each head: random (the model's own init), 'pca' and 'pca_whitened' (fitted on
the training notes) and, with ``--fit-pairs``, 'pair_cca' (fitted on that many training pairs, sampled with seed 0, at
each shrinkage:power of ``--pair-grid``), next to all-MiniLM-L6-v2 zero-shot, with paired bootstrap intervals against
MiniLM. With ``--model`` (a trained NoteLLM folder, scored on the dev slice it was trained with) the rows are its
trained head and no head at all (the read-out state itself, raw and with the training notes' mean state removed), with
intervals against the trained head. Without ``--model`` it also reports the contrastive loss training would start from
with each head, on ``--start-batches`` batches of 32 training pairs (read on the category prompt serving uses;
training's hashtag prompts are not rendered), at similarity scales from 1 to 40 (the recipes start at e^tau = 20): a
start far above the random level ln(2B - 1) is a loss the first steps cut by pulling the embeddings together, not by
learning (MovieLens, round 23). Writes <out>/results.json and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from common import SETS, dev_pool, smollm2_notellm
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer

from notellm_hf import NoteLLMForEmbeddingAndGeneration
from notellm_hf.evaluation import compare_to_reference, embedding_scorer, markdown_table, retrieval_metrics
from notellm_hf.evaluation.baselines import minilm_path, sentence_transformer_embeddings
from notellm_hf.training.head_init import pair_canonical_head, principal_head, readout_states
from notellm_hf.training.losses import NoteLLMContrastiveLoss

ROOT = Path(__file__).resolve().parents[1]
START_SCALES = (1.0, 2.0, 5.0, 10.0, 20.0, 40.0)
START_BATCH = 32  # pairs per batch, as the CPU recipes train


def start_losses(
    states: torch.Tensor, batches: list[torch.Tensor], heads: dict[str, torch.Tensor], scales=START_SCALES
) -> dict[str, dict[str, float]]:
    """Mean in-batch contrastive loss (the trainer's, 2B notes a batch) over ``batches`` of read-out-state rows
    ``[anchors; positives]``, per head weight and similarity scale."""
    loss = NoteLLMContrastiveLoss()
    table = {}
    for name, weight in heads.items():
        row = {}
        for scale in scales:
            values = []
            for rows in batches:
                embeddings = (states[rows].double() @ weight.T).float()
                values.append(loss(embeddings, rows, torch.tensor(scale)).loss.item())
            row[f"{scale:g}"] = round(sum(values) / len(values), 3)
        table[name] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=sorted(SETS), default="debian")
    parser.add_argument("--pool", type=int, default=1500)
    parser.add_argument("--train-pairs", type=int, default=2048)
    parser.add_argument("--fit-notes", type=int, default=512)
    parser.add_argument(
        "--fit-pairs", default="", help="comma-separated training-pair counts the pair_cca heads are fitted on"
    )
    parser.add_argument(
        "--pair-grid", default="0.6:0.5", help="comma-separated shrinkage:power settings of the pair_cca heads"
    )
    parser.add_argument("--content-tokens", type=int, default=48, help="untrained model's content budget")
    parser.add_argument("--start-batches", type=int, default=6, help="training batches of 32 pairs for the start loss")
    parser.add_argument("--model", help="a trained NoteLLM folder: compare its head with its read-out states")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "head_init"))
    args = parser.parse_args()
    start = time.time()
    dev = dev_pool(args.data, args.pool, args.train_pairs, args.fit_notes)
    data, benchmark, pool, ids, exposure, pairs = dev.data, dev.benchmark, dev.pool, dev.ids, dev.exposure, dev.pairs
    notes, fit = dev.train_notes, dev.fit
    if args.model:
        model = NoteLLMForEmbeddingAndGeneration.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    else:
        model, tokenizer, _ = smollm2_notellm(content_max_tokens=args.content_tokens)
    print(f"dev pool {len(pool)} notes, {len(pairs)} pairs; fitting on {len(fit)} training notes", flush=True)
    pool_states, fit_states = readout_states(model, tokenizer, pool), readout_states(model, tokenizer, fit)
    print(f"read-out states in {time.time() - start:.0f} s", flush=True)
    zero = torch.zeros(pool_states.shape[1], dtype=torch.float64)
    if args.model:
        # (weight, state subtracted first): the head as trained, and the read-out state with no head at all.
        identity = torch.eye(pool_states.shape[1], dtype=torch.float64)
        heads = {
            "NoteLLM trained, its head": (model.embedding_head.weight.detach().double(), zero),
            "NoteLLM trained, no head (read-out state)": (identity, zero),
            "NoteLLM trained, no head, training notes' mean removed": (identity, fit_states.double().mean(dim=0)),
        }
    else:
        dim = model.config.embedding_dim
        heads = {
            "NoteLLM untrained, random head": (model.embedding_head.weight.detach().double(), zero),
            "NoteLLM untrained, pca head": (principal_head(fit_states, dim, whiten=False), zero),
            "NoteLLM untrained, pca_whitened head": (principal_head(fit_states, dim, whiten=True), zero),
        }
        counts = [int(count) for count in args.fit_pairs.split(",") if count]
        if counts:
            # The largest sample's first n pairs for each n: every count reads the same notes.
            chosen = benchmark.train_pairs.sample(n=max(counts), random_state=0)
            anchors, positives = (
                readout_states(model, tokenizer, [notes[i] for i in chosen[side]])
                for side in ("note_id_a", "note_id_b")
            )
            for count in counts:
                for setting in args.pair_grid.split(","):
                    shrinkage, power = (float(value) for value in setting.split(":"))
                    weight = pair_canonical_head(anchors[:count], positives[:count], dim, shrinkage, power)
                    name = f"NoteLLM untrained, pair_cca head ({count} pairs, shrinkage {shrinkage:g}, power {power:g})"
                    heads[name] = (weight, zero)
    results = {}
    minilm = sentence_transformer_embeddings(SentenceTransformer(minilm_path()), pool)
    results["MiniLM zero-shot"] = {"retrieval": retrieval_metrics(embedding_scorer(minilm), ids, pairs, exposure)}
    for name, (weight, shift) in heads.items():
        embeddings = torch.nn.functional.normalize((pool_states.double() - shift) @ weight.T, dim=-1).float().numpy()
        results[name] = {"retrieval": retrieval_metrics(embedding_scorer(embeddings), ids, pairs, exposure)}
    compare_to_reference(results, next(iter(heads)) if args.model else "MiniLM zero-shot")
    start_loss = None
    if not args.model:
        # Consecutive batches of a seeded shuffle of the training pairs, as the trainer draws them.
        order = random.Random(0).sample(range(len(benchmark.train_pairs)), START_BATCH * args.start_batches)
        anchors = [benchmark.train_pairs.note_id_a.iloc[i] for i in order]
        positives = [benchmark.train_pairs.note_id_b.iloc[i] for i in order]
        ids_read = sorted(set(anchors) | set(positives))
        row_of = {note_id: row for row, note_id in enumerate(ids_read)}
        states = readout_states(model, tokenizer, [notes[i] for i in ids_read])
        batches = [
            torch.tensor([row_of[i] for i in anchors[s : s + START_BATCH] + positives[s : s + START_BATCH]])
            for s in range(0, len(order), START_BATCH)
        ]
        weights = {name: weight for name, (weight, _) in heads.items()}
        start_loss = {
            "random_level": round(math.log(2 * START_BATCH - 1), 3),
            "losses": start_losses(states, batches, weights),
        }
    out = Path(args.out) / args.data
    out.mkdir(parents=True, exist_ok=True)
    meta = {"data": str(data), "model": args.model, "fit_notes": len(fit), "seconds": round(time.time() - start, 1)}
    meta["content_tokens"] = args.content_tokens
    meta["fit_pairs"], meta["pair_grid"] = args.fit_pairs, args.pair_grid
    payload = {"meta": meta, "results": results, "start_loss": start_loss}
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(markdown_table(results))
    if start_loss:
        print(f"\nstart loss by similarity scale (random level ln(2B - 1) = {start_loss['random_level']}):")
        for name, row in start_loss["losses"].items():
            print(f"  {name}: " + ", ".join(f"{scale} -> {value}" for scale, value in row.items()))
    print(f"done in {time.time() - start:.0f} s; {out / 'results.json'}")


if __name__ == "__main__":
    main()
