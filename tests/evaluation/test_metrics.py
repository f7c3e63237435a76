import numpy as np
import pandas as pd
import pytest

from notellm_hf.evaluation import (
    category_metrics,
    embedding_scorer,
    exposure_buckets,
    hashtag_metrics,
    hashtag_rouge_per_note,
    popularity_scorer,
    retrieval_metrics,
    scaled_ks,
    target_ranks,
    text_tokens,
)


def oracle_recall(embeddings, pairs_idx, k):
    """Brute force: sort each query's candidates (query removed), ties placed ahead of the target."""
    hits = 0
    for q, t in pairs_idx:
        scores = embeddings[q] @ embeddings.T
        candidates = [j for j in range(len(embeddings)) if j != q]
        ahead = [j for j in candidates if j != t and scores[j] >= scores[t]]
        hits += len(ahead) + 1 <= k
    return 100.0 * hits / len(pairs_idx)


@pytest.mark.parametrize("seed", range(3))
def test_recall_matches_a_brute_force_oracle_with_ties(seed):
    rng = np.random.default_rng(seed)
    # Coarse integer vectors make many exact score ties.
    embeddings = rng.integers(-1, 2, size=(60, 4)).astype(np.float32)
    ids = [f"n{i}" for i in range(60)]
    pairs_idx = [tuple(rng.choice(60, 2, replace=False)) for _ in range(80)]
    pairs = pd.DataFrame({"note_id_a": [ids[q] for q, _ in pairs_idx], "note_id_b": [ids[t] for _, t in pairs_idx]})
    result = retrieval_metrics(embedding_scorer(embeddings), ids, pairs, absolute_ks=(1, 5, 20))
    for k in (1, 5, 20):
        assert result["recall"][f"R@{k}"] == pytest.approx(oracle_recall(embeddings, pairs_idx, k))


def test_query_is_excluded_and_constant_scores_earn_nothing():
    ids = ["a", "b", "c", "d"]
    pairs = pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["b"]})
    # a is closest to itself, then b: with the query excluded b ranks first.
    e = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    assert target_ranks(embedding_scorer(e), ids, pairs).tolist() == [1]
    assert target_ranks(embedding_scorer(np.ones((4, 2))), ids, pairs).tolist() == [3]  # ties count as ahead
    assert target_ranks(popularity_scorer([5, 1, 9, 3]), ids, pairs).tolist() == [3]  # c (9), d (3) ahead of b (1)


def test_scaled_ks_follow_the_papers_fractions():
    assert scaled_ks(257_937) == {"R@0.039%": 100, "R@0.39%": 1000, "R@3.9%": 10000, "R@39%": 100000}
    assert scaled_ks(1_019) == {"R@0.039%": 1, "R@0.39%": 4, "R@3.9%": 39, "R@39%": 395}


def test_exposure_buckets_and_bucketed_recall():
    ids = [f"n{i}" for i in range(10)]
    low, high = exposure_buckets(ids, [0, 0, 0, 0, 5, 6, 7, 8, 9, 100])
    assert low == {"n0", "n1", "n2"} and high == {"n9"}
    e = np.eye(10, dtype=np.float32)
    e[1] = e[0]  # n1 is n0's twin
    pairs = pd.DataFrame({"note_id_a": ["n0", "n5"], "note_id_b": ["n1", "n9"]})
    result = retrieval_metrics(embedding_scorer(e), ids, pairs, exposure=[0, 0, 0, 0, 5, 6, 7, 8, 9, 100])
    assert result["low_exposure"]["pairs"] == 1 and result["low_exposure"]["recall"]["R@39%"] == 100.0
    assert result["high_exposure"]["pairs"] == 1 and result["high_exposure"]["recall"]["R@0.39%"] == 0.0


def test_bad_retrieval_input_is_rejected():
    ids = ["a", "b", "c"]
    e = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="not in the pool"):
        retrieval_metrics(embedding_scorer(e), ids, pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["zz"]}))
    with pytest.raises(ValueError, match="NaN"):
        embedding_scorer(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="no test pairs"):
        retrieval_metrics(embedding_scorer(e), ids, pd.DataFrame({"note_id_a": [], "note_id_b": []}))


def test_category_metrics_by_hand():
    got = category_metrics(
        ["Food", "Travel", "Pizza", "Music"], ["Food", "Music", "Food", ""], ["Food", "Travel", "Music"]
    )
    assert got["accuracy"] == pytest.approx(100 / 3) and got["ill"] == 25.0


def test_hashtag_metrics_by_hand():
    perfect = hashtag_metrics([["space war", "alien planet", "cgi"]], [["space war", "alien planet", "cgi"]])
    assert perfect["bleu4"] == pytest.approx(100.0) and perfect["rouge1"] == pytest.approx(100.0)
    # hyp "space alien" vs ref "space war alien": unigram P = 2/2, R = 2/3 -> F1 = 0.8; no shared bigram.
    partial = hashtag_metrics([["space", "alien"]], [["space war", "alien"]])
    assert partial["rouge1"] == pytest.approx(80.0) and partial["rouge2"] == pytest.approx(0.0)
    assert partial["rougeL"] == pytest.approx(80.0)


def test_per_note_rouge_is_what_the_mean_averages():
    # Note 1: hyp "role program" vs ref "role program use gaming": P = 1, R = 1/2 -> F1 = 2/3; note 2: nothing shared.
    per_note = hashtag_rouge_per_note([["role::program"], ["x"]], [["role::program", "use::gaming"], ["y"]])
    np.testing.assert_allclose(per_note["rouge1"], [200 / 3, 0.0])
    np.testing.assert_allclose(per_note["rouge2"], [100 * 2 * (1 / 3) / (1 + 1 / 3), 0.0])  # 1 of 1 / 1 of 3 bigrams


def test_chinese_hashtags_are_tokenised_per_character():
    assert text_tokens("旅行 Beijing2024, 北京") == ["旅", "行", "beijing2024", "北", "京"]
    got = hashtag_metrics([["北京"]], [["北京旅行"]])
    assert got["rouge1"] == pytest.approx(100 * 2 * (1 * 0.5) / 1.5)
