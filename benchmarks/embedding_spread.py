"""How spread out the pool embeddings of a report are, and what centring them would rank (no encoding: it reads the
report).

    python benchmarks/embedding_spread.py --report outputs/round30b_ml_dev_hold_check_seed2/movielens/report \
        [--pairs ~/.cache/notellm_hf/datasets/movielens-tmdb-dev-1500-4096/test_pairs.parquet] [--out spread.json]

For every embedding row saved by `evaluate_benchmark` (``embeddings_<row>.npy`` in pool order, ``pool_ids.json``):
the mean and standard deviation of the cosine over all pairs of pool notes, the length of the mean embedding (1 when
every note has the same embedding) and the participation ratio of the centred embeddings (how many directions their
variance spreads over). Why: a contrastive loss at scale s sees logits s x cosine, so when the cosines of all notes
lie within a narrow band the softmax is near uniform and the loss sits at its random level whatever the embeddings
order; MovieLens runs that stayed at that level show it (benchmarks/RESULTS.md, round 30). With ``--pairs``, each
row is also scored with the pool mean subtracted and the embeddings renormalised (centring, as post-processing does
for anisotropic sentence embeddings), with the paired interval of centred minus raw Avg.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from notellm_hf.evaluation.metrics import embedding_scorer, retrieval_metrics
from notellm_hf.evaluation.significance import paired_bootstrap, per_pair_avg


def unit_rows(embeddings: np.ndarray) -> np.ndarray:
    matrix = np.asarray(embeddings, dtype=np.float64)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def spread(embeddings: np.ndarray) -> dict[str, float]:
    unit = unit_rows(embeddings)
    cosines = (unit @ unit.T)[np.triu_indices(len(unit), 1)]
    variances = np.linalg.svd(unit - unit.mean(axis=0), compute_uv=False) ** 2
    return {
        "mean_cosine": round(float(cosines.mean()), 4),
        "cosine_sd": round(float(cosines.std()), 4),
        "mean_embedding_length": round(float(np.linalg.norm(unit.mean(axis=0))), 4),
        "participation_ratio": round(float(variances.sum() ** 2 / (variances**2).sum()), 2),
    }


def centring(embeddings: np.ndarray, pool_ids: list[str], pairs: pd.DataFrame) -> dict[str, float]:
    """Avg of the raw and of the centred embeddings on ``pairs``, and the paired interval of centred minus raw."""
    unit = unit_rows(embeddings)
    raw = retrieval_metrics(embedding_scorer(unit), pool_ids, pairs)
    centred = retrieval_metrics(embedding_scorer(unit_rows(unit - unit.mean(axis=0))), pool_ids, pairs)
    ks = raw["scaled_ks"]
    gain = paired_bootstrap(per_pair_avg(np.asarray(centred["ranks"]), ks), per_pair_avg(np.asarray(raw["ranks"]), ks))
    return {"avg": round(raw["avg"], 2), "centred_avg": round(centred["avg"], 2), "centred_minus_raw": gain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", required=True)
    parser.add_argument("--pairs", help="test pairs (parquet with note_id_a, note_id_b) of the report's pool")
    parser.add_argument("--out")
    args = parser.parse_args()
    report = Path(args.report)
    ids = [str(i) for i in json.loads((report / "pool_ids.json").read_text())]
    pairs = None if args.pairs is None else pd.read_parquet(Path(args.pairs).expanduser())
    results: dict[str, object] = {"report": str(report)}
    for path in sorted(report.glob("embeddings_*.npy")):
        embeddings = np.load(path)
        row = spread(embeddings)
        if pairs is not None:
            row.update(centring(embeddings, ids, pairs))
        results[path.stem.removeprefix("embeddings_")] = row
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
