import pandas as pd
import pytest

from notellm_hf.data.splits import stable_split, time_split


def test_stable_split_is_deterministic_and_near_the_fraction():
    ids = pd.Series([f"package-{i}" for i in range(5000)])
    first, second = stable_split(ids, 0.3), stable_split(ids[::-1], 0.3)
    assert (first == second[first.index]).all()
    assert (first == "test").mean() == pytest.approx(0.3, abs=0.03)


def test_time_split_takes_the_notes_first_seen_last_and_breaks_ties_by_id():
    clicks = pd.DataFrame(
        {"note_id": ["a", "b", "c", "d", "a", "e"], "timestamp": [5, 1, 9, 9, 0, 7], "user_id": [1, 1, 2, 2, 3, 3]}
    )
    split, cutoff = time_split(clicks, 0.4)  # ceil(0.4 * 5) = 2 test notes: first seen a 0, b 1, e 7, c 9, d 9
    assert dict(split) == {"a": "train", "b": "train", "e": "train", "c": "test", "d": "test"} and cutoff == 9
