import numpy as np
import pandas as pd
import pytest

from notellm_hf.evaluation import compare_to_reference, embedding_scorer, paired_bootstrap, per_pair_avg
from notellm_hf.evaluation.metrics import retrieval_metrics


def test_per_pair_scores_average_to_avg_recall():
    ranks = np.array([1, 3, 10])
    ks = {"a": 1, "b": 3, "c": 5, "d": 20}
    # Hand count: rank 1 is inside all four k, rank 3 inside three, rank 10 inside one.
    assert per_pair_avg(ranks, ks).tolist() == [100.0, 75.0, 25.0]


def test_interval_matches_the_normal_approximation_of_the_mean_difference():
    rng = np.random.default_rng(1)
    b = rng.normal(50, 10, size=4000)
    a = b + rng.normal(0.5, 2.0, size=4000)
    result = paired_bootstrap(a, b, resamples=2000, seed=3)
    difference = a - b
    half_width = 1.96 * difference.std() / np.sqrt(len(difference))
    assert result["difference"] == pytest.approx(difference.mean())
    assert result["low"] == pytest.approx(difference.mean() - half_width, abs=0.15 * half_width)
    assert result["high"] == pytest.approx(difference.mean() + half_width, abs=0.15 * half_width)
    # Same seed, same interval; a constant shift has no spread.
    assert paired_bootstrap(a, b, resamples=2000, seed=3) == result
    shifted = paired_bootstrap(b + 2.0, b, resamples=100)
    assert shifted["low"] == pytest.approx(2.0) and shifted["high"] == pytest.approx(2.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="same non-empty 1-D shape"):
        paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="resamples >= 1"):
        paired_bootstrap(np.ones(3), np.ones(3), resamples=0)


def test_rows_are_compared_on_the_same_pairs_and_buckets():
    rng = np.random.default_rng(0)
    ids = [f"n{i}" for i in range(40)]
    pairs = pd.DataFrame({"note_id_a": ids[:20], "note_id_b": ids[20:]})
    exposure = list(range(40, 0, -1))  # targets (n20..n39) are the least exposed notes
    good = rng.normal(size=(40, 8))
    good[20:] = good[:20] + 0.1 * rng.normal(size=(20, 8))  # targets close to their queries
    results = {
        "good": {"retrieval": retrieval_metrics(embedding_scorer(good), ids, pairs, exposure)},
        "random": {"retrieval": retrieval_metrics(embedding_scorer(rng.normal(size=(40, 8))), ids, pairs, exposure)},
    }
    compare_to_reference(results, "good", resamples=500)
    comparison = results["random"]["vs_reference"]
    lead = results["good"]["retrieval"]["avg"] - results["random"]["retrieval"]["avg"]
    assert comparison["reference"] == "good" and comparison["all"]["difference"] == pytest.approx(lead)
    assert comparison["all"]["low"] > 0  # near-duplicate targets beat random vectors for sure
    low = results["good"]["retrieval"]["low_exposure"]
    assert comparison["low_exposure"]["pairs"] == low["pairs"]
    lead_low = low["avg"] - results["random"]["retrieval"]["low_exposure"]["avg"]
    assert comparison["low_exposure"]["difference"] == pytest.approx(lead_low)
    assert "vs_reference" not in results["good"]
