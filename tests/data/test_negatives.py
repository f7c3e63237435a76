import pandas as pd
import pytest

from notellm_hf.data.negatives import load_hard_negatives, negative_columns

PAIRS = pd.DataFrame({"note_id_a": ["a", "c", "a", "a"], "note_id_b": ["b", "a", "d", "b"]})
NOTES = ["a", "b", "c", "d", "x", "y", "z"]


def test_triplet_and_n_tuple_rows_attach_to_their_pairs(tmp_path):
    # Two rows name pair (a, b): their negatives merge in file order without repeats; (c, a) is named once with an
    # empty cell (an n-tuple shorter than the others); (a, d) is not named and gets none; (a, b) is a training pair
    # twice and gets its negatives at both rows.
    path = tmp_path / "negatives.csv"
    pd.DataFrame(
        {
            "note_id_a": ["a", "c", "a"],
            "note_id_b": ["b", "a", "b"],
            "negative_2": ["y", None, "z"],
            "negative_1": ["x", "z", "x"],
        }
    ).to_csv(path, index=False)
    assert load_hard_negatives(path, PAIRS, NOTES) == [["x", "y", "z"], ["z"], [], ["x", "y", "z"]]
    triplets = pd.DataFrame({"note_id_a": ["a", "a"], "note_id_b": ["d", "d"], "negative": ["y", "x"]})
    assert load_hard_negatives(triplets, PAIRS, NOTES) == [[], [], ["y", "x"], []]


def test_negative_columns_follow_their_number():
    assert negative_columns(["negative_10", "note_id_a", "negative_2", "negative", "negatives", "negative_x"]) == [
        "negative",
        "negative_2",
        "negative_10",
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"note_id_a": "b", "note_id_b": "a", "negative": "x"}, r"row 2: \('b', 'a'\) is not a training pair"),
        ({"note_id_a": "a", "note_id_b": "b", "negative": "ghost"}, "row 2, negative: note 'ghost' is not in the note"),
        ({"note_id_a": "a", "note_id_b": "b", "negative": "b"}, "row 2, negative: 'b' is the pair's own anchor or"),
        ({"note_id_a": "a", "note_id_b": "b", "negative": "a"}, "row 2, negative: 'a' is the pair's own anchor or"),
        # d is related to a by the pair (a, d): pushing it away from a would teach the opposite of the data.
        ({"note_id_a": "a", "note_id_b": "b", "negative": "d"}, "row 2, negative: 'd' is related to the anchor 'a'"),
    ],
)
def test_bad_rows_are_named(row, message):
    frame = pd.DataFrame([{"note_id_a": "a", "note_id_b": "b", "negative": "x"}, row])
    with pytest.raises(ValueError, match=message):
        load_hard_negatives(frame, PAIRS, NOTES)


def test_files_without_the_layout_are_named(tmp_path):
    with pytest.raises(ValueError, match="expected columns note_id_a, note_id_b and negative or negative_1..n"):
        load_hard_negatives(pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["b"], "neg": ["x"]}), PAIRS, NOTES)
    with pytest.raises(FileNotFoundError, match="hard-negatives file .* does not exist"):
        load_hard_negatives(tmp_path / "missing.csv", PAIRS, NOTES)
