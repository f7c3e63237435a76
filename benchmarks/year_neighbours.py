"""How much release-year structure the pool embeddings of a MovieLens report hold (no encoding: it reads the report).

    python benchmarks/year_neighbours.py --report outputs/round12_ml/movielens/report \
        --data ~/.cache/notellm_hf/datasets/movielens-tmdb-dev-1500-4096 [--k 28] [--out year_neighbours.json]

For every embedding row saved by `evaluate_benchmark` (``embeddings_<row>.npy`` in pool order, ``pool_ids.json``),
over the pool movies whose title in ``--data`` ends in a release year: the share of each movie's ``--k`` nearest
neighbours (cosine) released at most 2 years apart (random pairs give the pool's base rate), and the rank
correlation between cosine and closeness in years over all pairs of the pool (global ordering by era), and the share
of the ``--k`` nearest neighbours of the movie's own category (first TMDB genre; random pairs give its base rate too):
a model can order by genre instead of era. The year is read from ``--data`` even when the report's notes had none, so
a report of notes without years gives the base rate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from notellm_hf.data.sets.movielens import release_year


def year_structure(embeddings: np.ndarray, years: np.ndarray, categories: np.ndarray, k: int) -> dict[str, float]:
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argsort(-similarity, axis=1)[:, :k]
    upper = np.triu_indices(len(years), 1)
    closeness = -np.abs(years[:, None] - years[None, :])[upper]
    return {
        f"top_{k}_within_2_years": round(float((np.abs(years[neighbours] - years[:, None]) <= 2).mean()), 4),
        f"top_{k}_same_category": round(float((categories[neighbours] == categories[:, None]).mean()), 4),
        "spearman_cosine_vs_year_closeness": round(
            float(pd.Series(similarity[upper]).corr(pd.Series(closeness), method="spearman")), 4
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--k", type=int, default=28)
    parser.add_argument("--out")
    args = parser.parse_args()
    report = Path(args.report)
    ids = json.loads((report / "pool_ids.json").read_text())
    notes = pd.read_parquet(Path(args.data).expanduser() / "notes.parquet").set_index("note_id")
    found = [release_year(notes.title[i]) for i in ids]
    dated = np.array([year is not None for year in found])
    years = np.array([float(year) for year in found if year is not None])
    categories = np.array([str(notes.category[i]) for i, year in zip(ids, found, strict=True) if year is not None])
    upper = np.triu_indices(len(years), 1)
    results = {
        "report": str(report),
        "dated_pool_movies": int(dated.sum()),
        "random_pairs_within_2_years": round(float((np.abs(years[:, None] - years[None, :])[upper] <= 2).mean()), 4),
        "random_pairs_same_category": round(float((categories[:, None] == categories[None, :])[upper].mean()), 4),
    }
    for path in sorted(report.glob("embeddings_*.npy")):
        row = path.stem.removeprefix("embeddings_")
        results[row] = year_structure(np.load(path)[dated], years, categories, args.k)
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
