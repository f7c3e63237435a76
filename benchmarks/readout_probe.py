"""Does a trained NoteLLM's own token states hold the lexical evidence its one-state embedding lacks? (no training)

    python benchmarks/readout_probe.py --model outputs/X/debian/NoteLLM/model --train-pairs 4096 \
        [--report outputs/X/debian/report/results.json] [--out outputs/readout_probe]

Why: on Debian, NoteLLM trails all-MiniLM-L6-v2 fine-tuned on the pairs whose partners share rare words (the target
is TF-IDF's first pick: -5.55 Avg on the H200, -6.92 on the CPU, `lexical_strata.py`), and a TF-IDF cosine fused in
repairs that. MiniLM mean-pools its word-piece states; NoteLLM reads one state before ``[EMB]``. If the mean of the
trained model's own states (``readout="mean"``, the same forward pass) carries those words, fusing its cosine with the
embedding's should gain where TF-IDF gains, and a read-out that concatenates both states is worth a training run;
if not, the words are lost before the last layer and only an outside lexical signal brings them back.

Rows on the dev slice the model was trained with (``prepared_slice(..., dev=True)``): the model's embedding (the
reference), the mean state (the mean state of ``--fit-notes`` training notes removed, as the pca head does), the
convex fusion ``(1 - w) x embedding cosine + w x mean-state cosine`` at each ``--weights`` (a dev sweep: its best
is optimistic), the TF-IDF fusion at ``--lexical-weight``, and ``--report``'s ranked rows scored on the same pool
(e.g. MiniLM fine-tuned). Each with its paired interval against the reference, overall and by the TF-IDF rank of
the target (`lexical_strata`). Writes <out>/results.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from common import SETS, dev_pool
from lexical_strata import lexical_strata
from transformers import AutoTokenizer

from notellm_hf import NoteLLMForEmbeddingAndGeneration
from notellm_hf.data.io import write_text
from notellm_hf.evaluation import compare_to_reference, embedding_scorer, retrieval_metrics
from notellm_hf.evaluation.metrics import hybrid_scorer, target_ranks
from notellm_hf.retrieval.lexical import LexicalIndex, hybrid_scores
from notellm_hf.training.head_init import readout_states

ROOT = Path(__file__).resolve().parents[1]


def unit_rows(matrix: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(matrix.double(), dim=-1).float().numpy()


def mean_states(model, tokenizer, notes) -> torch.Tensor:
    """(n, h) means of the last-layer states of the tokens before ``[EMB]`` (the ``readout="mean"`` state)."""
    kept = model.config.readout
    model.config.readout = "mean"
    try:
        return readout_states(model, tokenizer, notes)
    finally:
        model.config.readout = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a trained NoteLLM folder (trained on the dev slice)")
    parser.add_argument("--data", choices=sorted(SETS), default="debian")
    parser.add_argument("--pool", type=int, default=1500)
    parser.add_argument("--train-pairs", type=int, default=4096)
    parser.add_argument("--fit-notes", type=int, default=512)
    parser.add_argument("--weights", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--lexical-weight", type=float, default=0.5)
    parser.add_argument("--report", help="a results.json of the same dev pool: its ranked rows are added")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "readout_probe"))
    args = parser.parse_args()
    start = time.time()
    dev = dev_pool(args.data, args.pool, args.train_pairs, args.fit_notes)
    pool, ids, exposure, pairs = dev.pool, dev.ids, dev.exposure, dev.pairs
    model = NoteLLMForEmbeddingAndGeneration.from_pretrained(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    embedding = unit_rows(model.embedding_head(readout_states(model, tokenizer, pool)).detach())
    mean = unit_rows(mean_states(model, tokenizer, pool) - mean_states(model, tokenizer, dev.fit).mean(dim=0))
    print(f"dev pool {len(pool)} notes, {len(pairs)} pairs; states in {time.time() - start:.0f} s", flush=True)

    lexical = LexicalIndex(pool)
    own, states = embedding_scorer(embedding), embedding_scorer(mean)
    scorers = {"NoteLLM (its embedding)": own, "mean of its states before [EMB]": states}
    for weight in [float(w) for w in args.weights.split(",")]:
        scorers[f"embedding + mean states, w {weight:g}"] = lambda rows, w=weight: hybrid_scores(
            own(rows), states(rows), w
        )
    scorers[f"embedding + TF-IDF, w {args.lexical_weight:g}"] = hybrid_scorer(embedding, lexical, args.lexical_weight)
    results = {name: {"retrieval": retrieval_metrics(s, ids, pairs, exposure)} for name, s in scorers.items()}
    if args.report:
        for row, result in json.loads(Path(args.report).read_text())["results"].items():
            if "ranks" in result["retrieval"]:
                if result["retrieval"]["pool_size"] != len(ids) or result["retrieval"]["pairs"] != len(pairs):
                    raise SystemExit(f"{args.report}: row {row!r} was not scored on this dev pool")
                results[f"report: {row}"] = {"retrieval": result["retrieval"]}
    reference = next(iter(scorers))
    compare_to_reference(results, reference)
    lexical_ranks = target_ranks(lexical.similarity, ids, pairs)
    row_ranks = {name: np.asarray(r["retrieval"]["ranks"]) for name, r in results.items()}
    strata = lexical_strata(lexical_ranks, row_ranks, results[reference]["retrieval"]["scaled_ks"], len(ids), reference)
    for name, result in results.items():
        versus = result.get("vs_reference", {}).get("all")
        interval = ""
        if versus:
            interval = f"  ref - row {versus['difference']:+.2f} [{versus['low']:+.2f}, {versus['high']:+.2f}]"
        print(f"{name:45s} Avg {result['retrieval']['avg']:.2f}{interval}", flush=True)
    print(json.dumps(strata, indent=2))
    for result in results.values():  # the strata keep what a reader needs; ranks and curves stay out of the file
        for key in ("ranks", "curve"):
            result["retrieval"].pop(key, None)
    record = {"model": args.model, "data": str(dev.data), "seconds": round(time.time() - start, 1)}
    record |= {"results": results, "strata": strata}
    write_text(Path(args.out) / "results.json", json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
