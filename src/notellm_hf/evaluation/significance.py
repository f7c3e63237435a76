"""Paired bootstrap intervals: is one row's Avg recall really above another's on the same test pairs?

Avg (the mean of recall at the four pool-scaled k) is a mean over test pairs of each pair's own score,
``100 * mean_k [rank <= k]``, so two encoders scored on the same pairs differ by the mean of their per-pair
differences. Resampling the test pairs with replacement (the same draw for both rows) gives the spread of that
difference; the interval is its percentile interval. "A beats B" needs the whole interval above 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

RESAMPLES = 1_000
CONFIDENCE = 0.95


def per_pair_avg(ranks: np.ndarray, ks: Mapping[str, int]) -> np.ndarray:
    """Each test pair's contribution to Avg: 100 x the share of the scaled k that reach its target's rank."""
    ranks = np.asarray(ranks)
    return 100.0 * np.mean([ranks <= k for k in ks.values()], axis=0)


def paired_bootstrap(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """Mean of ``scores_a - scores_b`` over the pairs and its paired bootstrap percentile interval."""
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired scores need the same non-empty 1-D shape, got {a.shape} and {b.shape}")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"need resamples >= 1 and 0 < confidence < 1, got {resamples} and {confidence}")
    difference = a - b
    draws = np.random.default_rng(seed).integers(0, len(difference), size=(resamples, len(difference)))
    means = difference[draws].mean(axis=1)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return {
        "difference": float(difference.mean()),
        "low": float(low),
        "high": float(high),
        "pairs": int(len(difference)),
        "resamples": resamples,
        "seed": seed,
        "confidence": confidence,
    }


def compare_to_reference(
    results: dict[str, dict[str, Any]],
    reference: str,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> None:
    """Adds ``results[row]["vs_reference"]`` for every other row: reference Avg minus the row's Avg, with its paired
    bootstrap interval, on all test pairs and on each exposure bucket (positive: the reference is ahead)."""
    base = results[reference]["retrieval"]
    ks = base["scaled_ks"]
    for name, result in results.items():
        if name == reference:
            continue
        retrieval = result["retrieval"]
        if retrieval["pairs"] != base["pairs"] or retrieval["scaled_ks"] != ks:
            raise ValueError(f"rows {reference!r} and {name!r} were not scored on the same test pairs")
        reference_scores = per_pair_avg(np.asarray(base["ranks"]), ks)
        row_scores = per_pair_avg(np.asarray(retrieval["ranks"]), ks)
        comparison: dict[str, Any] = {"reference": reference}
        comparison["all"] = paired_bootstrap(reference_scores, row_scores, resamples, seed)
        for bucket in ("low_exposure", "high_exposure"):
            if bucket in base and base[bucket]["rows"]:
                rows = np.asarray(base[bucket]["rows"])
                comparison[bucket] = paired_bootstrap(reference_scores[rows], row_scores[rows], resamples, seed)
        result["vs_reference"] = comparison
