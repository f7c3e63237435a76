import random

import pandas as pd
import pyarrow as pa
import pytest

from notellm_hf.data.pairs import build_cooccurrence_pairs, load_pairs

from conftest import reference_pairs


def random_log(seed, users=60, notes=25, clicks=500):
    rng = random.Random(seed)
    return [(rng.randrange(users), f"n{rng.randrange(notes):02d}", rng.randrange(40)) for _ in range(clicks)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "options",
    [dict(), dict(ordered=False), dict(max_history=5), dict(top_t=3, lower=0.05, upper=0.6), dict(lower=0.0)],
)
def test_agrees_exactly_with_the_reference(seed, options):
    log = random_log(seed)
    frame = pd.DataFrame(log, columns=["user_id", "note_id", "timestamp"])
    got = build_cooccurrence_pairs(frame, **options)
    assert list(got.columns) == ["note_id_a", "note_id_b", "score"]
    assert list(got.itertuples(index=False, name=None)) == reference_pairs(log, **options)


def test_hand_computed_example():
    log = [(1, "a", 1), (1, "b", 2), (1, "c", 3), (2, "a", 5), (2, "b", 4), (3, "a", 1)]
    frame = pd.DataFrame(log, columns=["user_id", "note_id", "timestamp"])
    got = build_cooccurrence_pairs(frame, lower=0)
    assert list(got.itertuples(index=False, name=None)) == [
        ("a", "b", round(1 / 3, 12)),
        ("a", "c", round(1 / 3, 12)),
        ("b", "a", 0.5),
        ("b", "c", round(1 / 3, 12)),
    ]


def test_files_and_arrow_tables_give_the_same_pairs(tmp_path):
    frame = pd.DataFrame(random_log(7), columns=["user_id", "note_id", "timestamp"])
    expected = build_cooccurrence_pairs(frame)
    frame.to_parquet(tmp_path / "clicks.parquet")
    frame.to_csv(tmp_path / "clicks.csv", index=False)
    for source in (tmp_path / "clicks.parquet", str(tmp_path / "clicks.csv"), pa.Table.from_pandas(frame)):
        pd.testing.assert_frame_equal(build_cooccurrence_pairs(source), expected)


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"user_id": [1], "note_id": ["a"]}), r"missing click columns \['timestamp'\]"),
        (
            pd.DataFrame({"user_id": [1, 1], "note_id": ["a", "b"], "timestamp": [1, None]}),
            "1 clicks have no timestamp",
        ),
        (pd.DataFrame({"user_id": [1], "note_id": [None], "timestamp": [1]}), "1 clicks have no note_id"),
        (pd.DataFrame({"user_id": [], "note_id": [], "timestamp": []}), "empty"),
    ],
)
def test_bad_logs_fail_clearly(frame, message):
    with pytest.raises(ValueError, match=message):
        build_cooccurrence_pairs(frame)


def test_bad_arguments_and_sources_fail_clearly(tmp_path):
    frame = pd.DataFrame(random_log(1), columns=["user_id", "note_id", "timestamp"])
    with pytest.raises(ValueError, match="upper"):
        build_cooccurrence_pairs(frame, upper=0.001, lower=0.01)
    with pytest.raises(ValueError, match="top_t"):
        build_cooccurrence_pairs(frame, top_t=0)
    with pytest.raises(FileNotFoundError):
        build_cooccurrence_pairs(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="unsupported file type"):
        build_cooccurrence_pairs(__file__)


def test_partitioned_aggregation_gives_the_same_pairs():
    frame = pd.DataFrame(random_log(3, clicks=2000), columns=["user_id", "note_id", "timestamp"])
    for ordered in (True, False):
        whole = build_cooccurrence_pairs(frame, ordered=ordered, lower=0)
        parts = build_cooccurrence_pairs(frame, ordered=ordered, lower=0, pairs_per_partition=500)
        pd.testing.assert_frame_equal(parts, whole)


def test_unknown_notes_are_an_error_or_a_counted_drop():
    frame = pd.DataFrame(
        {"user_id": [1, 1, 1, 2, 2], "note_id": ["a", "b", "x", "a", "b"], "timestamp": [1, 2, 3, 4, 5]}
    )
    with pytest.raises(ValueError, match=r"1 clicks name notes missing from the note table \(e.g. 'x'\)"):
        build_cooccurrence_pairs(frame, known_note_ids=["a", "b"], lower=0)
    dropped = build_cooccurrence_pairs(frame, known_note_ids=["a", "b"], on_unknown="drop", lower=0)
    expected = build_cooccurrence_pairs(frame[frame.note_id != "x"], lower=0)
    pd.testing.assert_frame_equal(dropped, expected)
    assert dropped.attrs["dropped_clicks"] == 1


def test_load_pairs_validates_rows(tmp_path):
    good = pd.DataFrame({"note_id_a": ["a", "b"], "note_id_b": ["b", "c"]})
    good.to_csv(tmp_path / "pairs.csv", index=False)
    loaded = load_pairs(tmp_path / "pairs.csv", known_note_ids=["a", "b", "c"])
    assert loaded.to_dict(orient="list") == {"note_id_a": ["a", "b"], "note_id_b": ["b", "c"], "score": [1.0, 1.0]}
    cases = [
        (pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["a"]}), "row 1: note 'a' is paired with itself"),
        (pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["b"], "score": [-1.0]}), "score must be a number >= 0"),
        (pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["b"], "score": [float("nan")]}), "score must be"),
        (pd.DataFrame({"note_id_a": ["a", None], "note_id_b": ["b", "c"]}), "row 2: missing note id"),
        (pd.DataFrame({"note_id_a": ["a"]}), r"missing pair columns \['note_id_b'\]"),
    ]
    for frame, message in cases:
        with pytest.raises(ValueError, match=message):
            load_pairs(frame)
    with pytest.raises(ValueError, match="note 'z' is not in the note table"):
        load_pairs(pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["z"]}), known_note_ids=["a"])


def test_non_utf8_click_file_is_a_clear_error(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_bytes(b"user_id,note_id,timestamp\n1,caf\xe9,1\n1,b,2\n")
    with pytest.raises(ValueError, match="clicks.csv: cannot be read as a click log"):
        build_cooccurrence_pairs(path)
