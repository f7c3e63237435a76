"""The paper's retrieval protocol on any note pool: recall@k at pool-scaled k, and exposure buckets.

Recall: for each test pair the first note is the query and the second the target; every pool note except the
query is ranked; a hit at k when the target ranks in the top k. Ranks are pessimistic: notes scoring the same
as the target count as ahead of it, so constant scores earn nothing. k is reported both absolute and scaled
to the pool at the paper's fractions (100, 1k, 10k, 100k of its 257,937-note pool), whose mean is "Avg".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..retrieval.lexical import LexicalIndex, check_lexical_weight, hybrid_scores

PAPER_POOL_SIZE = 257_937
PAPER_KS = (100, 1_000, 10_000, 100_000)
SCALED_LABELS = tuple(f"R@{100 * k / PAPER_POOL_SIZE:.2g}%" for k in PAPER_KS)  # R@0.039% ... R@39%
LOW_EXPOSURE_SHARE, HIGH_EXPOSURE_SHARE = 0.30, 0.10


def scaled_ks(pool_size: int) -> dict[str, int]:
    """The paper's k values scaled to a pool of ``pool_size`` notes (candidates = pool minus the query)."""
    candidates = pool_size - 1
    return {
        label: max(1, round(k * candidates / (PAPER_POOL_SIZE - 1)))
        for label, k in zip(SCALED_LABELS, PAPER_KS, strict=True)
    }


Scorer = Callable[[np.ndarray], np.ndarray]
"""Maps query rows (indices into the pool) to a (len(rows), pool) matrix of relatedness scores."""


def embedding_scorer(embeddings: np.ndarray) -> Scorer:
    """Inner-product scores between pool notes (cosine for L2-normalised embeddings)."""
    matrix = np.asarray(embeddings, dtype=np.float32)
    if not np.isfinite(matrix).all():
        raise ValueError("embeddings hold NaN or inf")
    return lambda rows: matrix[rows] @ matrix.T


def hybrid_scorer(embeddings: np.ndarray, lexical: LexicalIndex, weight: float) -> Scorer:
    """The convex combination of the embeddings' cosine and the pool's TF-IDF cosine (rows: the same pool notes)."""
    if len(lexical) != len(embeddings):
        raise ValueError(f"the lexical index holds {len(lexical)} notes, the embeddings {len(embeddings)}")
    check_lexical_weight(weight)
    dense = embedding_scorer(embeddings)
    return lambda rows: hybrid_scores(dense(rows), lexical.similarity(rows), weight)


def popularity_scorer(popularity: np.ndarray) -> Scorer:
    """The same ranking for every query: the most popular notes first."""
    scores = np.asarray(popularity, dtype=np.float64)[None, :]
    return lambda rows: np.repeat(scores, len(rows), axis=0)


def target_ranks(scorer: Scorer, pool_ids: Sequence[str], pairs: pd.DataFrame, chunk: int = 1024) -> np.ndarray:
    """1-based pessimistic rank of each pair's target among all pool notes but the query."""
    position = {note_id: row for row, note_id in enumerate(pool_ids)}
    if len(position) != len(pool_ids):
        raise ValueError("pool note ids repeat")
    missing = sorted({i for i in pd.concat([pairs.note_id_a, pairs.note_id_b]) if i not in position})
    if missing:
        raise ValueError(f"{len(missing)} pair notes are not in the pool, e.g. {missing[:3]}")
    queries = pairs.note_id_a.map(position).to_numpy()
    targets = pairs.note_id_b.map(position).to_numpy()
    if (queries == targets).any():
        raise ValueError("a pair's query and target are the same note")
    ranks = np.empty(len(pairs), dtype=np.int64)
    for start in range(0, len(pairs), chunk):
        q, t = queries[start : start + chunk], targets[start : start + chunk]
        scores = scorer(q)
        rows = np.arange(len(q))
        target_scores = scores[rows, t][:, None]
        ahead = (scores >= target_scores).sum(axis=1)  # counts the target itself, so ranks start at 1
        ahead -= scores[rows, q] >= target_scores[:, 0]  # the query is not a candidate
        ranks[start : start + chunk] = ahead
    return ranks


def exposure_buckets(pool_ids: Sequence[str], exposure: Sequence[float]) -> tuple[set[str], set[str]]:
    """(low, high): the bottom 30% and top 10% of pool notes by exposure (ties broken by note id)."""
    order = sorted(range(len(pool_ids)), key=lambda i: (exposure[i], pool_ids[i]))
    n = len(order)
    low = {pool_ids[i] for i in order[: round(n * LOW_EXPOSURE_SHARE)]}
    high = {pool_ids[i] for i in order[n - round(n * HIGH_EXPOSURE_SHARE) :]}
    return low, high


def _recalls(ranks: np.ndarray, ks: dict[str, int]) -> dict[str, float]:
    return {label: float(100.0 * (ranks <= k).mean()) if len(ranks) else float("nan") for label, k in ks.items()}


def _curve(ranks: np.ndarray, candidates: int, points: int = 40) -> dict[str, list[float]]:
    """Recall (%) at log-spaced k from 1 to the number of candidates, for plotting."""
    ks = np.unique(np.geomspace(1, candidates, points).round().astype(int))
    return {"k": ks.tolist(), "recall": [float(100.0 * (ranks <= k).mean()) for k in ks]}


def retrieval_metrics(
    scorer: Scorer,
    pool_ids: Sequence[str],
    pairs: pd.DataFrame,
    exposure: Sequence[float] | None = None,
    absolute_ks: Sequence[int] = (1, 10, 100),
) -> dict[str, Any]:
    """Recall (%) at absolute and pool-scaled k, their "Avg", and per exposure bucket of the target.

    ``ranks`` (each test pair's target rank, in pair order) and each bucket's ``rows`` (the pairs it holds) are
    kept so that two rows can be compared pair by pair (`significance.compare_to_reference`).
    """
    pool_ids = [str(i) for i in pool_ids]
    if len(pool_ids) < 2:
        raise ValueError("the pool needs at least two notes")
    if len(pairs) == 0:
        raise ValueError("no test pairs")
    ks = scaled_ks(len(pool_ids))
    ranks = target_ranks(scorer, pool_ids, pairs)
    scaled = _recalls(ranks, ks)
    result: dict[str, Any] = {
        "pool_size": len(pool_ids),
        "pairs": int(len(pairs)),
        "scaled_ks": ks,
        "recall": {**_recalls(ranks, {f"R@{k}": k for k in absolute_ks if k < len(pool_ids)}), **scaled},
        "avg": float(np.mean(list(scaled.values()))),
        "curve": _curve(ranks, len(pool_ids) - 1),
        "ranks": ranks.tolist(),
    }
    if exposure is not None:
        low, high = exposure_buckets(pool_ids, list(exposure))
        for name, bucket in (("low_exposure", low), ("high_exposure", high)):
            selected = pairs.note_id_b.isin(bucket).to_numpy()
            recalls = _recalls(ranks[selected], ks)
            result[name] = {
                "pairs": int(selected.sum()),
                "recall": recalls,
                "avg": float(np.mean(list(recalls.values()))),
                "rows": np.flatnonzero(selected).tolist(),
            }
    return result
