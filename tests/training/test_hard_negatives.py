import numpy as np
import pandas as pd
import pytest

from notellm_hf.training.hard_negatives import mine_hard_negatives


def unit(angle_degrees):
    angle = np.radians(angle_degrees)
    return [np.cos(angle), np.sin(angle)]


def test_the_closest_non_related_note_below_the_margin_is_picked():
    ids = ["a", "b", "c", "near", "close", "mid", "far"]
    # Angles from the anchor a (0 deg): b (positive, 30), c (related to a elsewhere, 5), near (28: within the
    # margin of the positive's cosine), close (40), mid (60), far (170).
    embeddings = np.array([unit(d) for d in (0, 30, 5, 28, 40, 60, 170)])
    pairs = pd.DataFrame({"note_id_a": ["a", "c"], "note_id_b": ["b", "a"]})
    mined = mine_hard_negatives(pairs, ids, embeddings, per_pair=2, margin=0.02)
    # Pair 1 (a -> b): cos(30) = 0.866 and cos(28) = 0.883 >= 0.866 - 0.02, so "near" is too close to the positive;
    # c is related to a (pair 2). Pair 2 (c -> a): the limit is cos(5) - 0.02 = 0.976; from c, near (23 deg away,
    # 0.921) and b (25 deg, 0.906) come first.
    assert mined[0] == ["close", "mid"]
    assert mined[1] == ["near", "b"]


def test_bad_inputs_are_named():
    pairs = pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["x"]})
    with pytest.raises(ValueError, match="1 pair notes have no embedding"):
        mine_hard_negatives(pairs, ["a", "b"], np.eye(2))
    with pytest.raises(ValueError, match="per_pair must be >= 1"):
        mine_hard_negatives(pairs, ["a", "x"], np.eye(2), per_pair=0)
    with pytest.raises(ValueError, match="margin must be >= 0"):
        mine_hard_negatives(pairs, ["a", "x"], np.eye(2), margin=-1)
