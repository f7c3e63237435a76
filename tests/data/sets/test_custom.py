import hashlib
import json
import math

import pandas as pd
import pytest

from notellm_hf.data.benchmark_set import load_benchmark_set
from notellm_hf.data.pairs import CooccurrenceArguments
from notellm_hf.data.sets.custom import prepare_custom

from conftest import reference_pairs, user_notes

EVERY_PAIR = CooccurrenceArguments(pairs_lower=0.0)


def test_time_split_puts_the_latest_notes_in_the_test_pool_and_keeps_their_behaviour_out_of_training(tmp_path):
    notes, clicks = user_notes()
    clicks.to_csv(tmp_path / "clicks.csv", index=False)
    notes.to_json(tmp_path / "notes.jsonl", orient="records", lines=True)
    stats = prepare_custom(tmp_path / "notes.jsonl", tmp_path / "clicks.csv", tmp_path / "set", pairs=EVERY_PAIR)
    data = load_benchmark_set(tmp_path / "set")
    split = dict(zip(data.notes["note_id"], data.notes["split"], strict=True))
    # Independent expectation: sort clicked notes by first click, the last ceil(30%) are the test pool.
    first = clicks.groupby("note_id").timestamp.min().sort_values(kind="stable")
    first = first.reset_index().sort_values(["timestamp", "note_id"])
    n_test = math.ceil(0.3 * len(first))
    assert {n for n, s in split.items() if s == "test"} == set(first.note_id.iloc[-n_test:])
    assert split["n38"] == split["n39"] == "train"  # never clicked
    cutoff = first.timestamp.iloc[-n_test]
    rows = list(clicks.itertuples(index=False, name=None))
    before = [c for c in rows if c[2] < cutoff]
    after = [c for c in rows if c[2] >= cutoff and split[c[1]] == "test"]
    assert list(data.train_pairs.itertuples(index=False, name=None)) == reference_pairs(before, lower=0.0)
    assert list(data.test_pairs.itertuples(index=False, name=None)) == reference_pairs(after, lower=0.0)
    exposure = dict(zip(data.notes["note_id"], data.notes["exposure"], strict=True))
    assert exposure["n05"] == (clicks.note_id == "n05").sum() and exposure["n39"] == 0
    assert stats["split"]["cutoff_timestamp"] == cutoff and stats["clicks"]["notes_without_clicks"] == 2
    assert stats["test"]["pairs"] == len(data.test_pairs) > 0
    assert json.loads((tmp_path / "set" / "stats.json").read_text()) == stats


def test_without_timestamps_the_split_is_a_stable_hash_and_pairs_are_unordered(tmp_path):
    notes, clicks = user_notes()
    stats = prepare_custom(notes, clicks.drop(columns="timestamp"), tmp_path / "set", pairs=EVERY_PAIR)
    data = load_benchmark_set(tmp_path / "set")
    split = dict(zip(data.notes["note_id"], data.notes["split"], strict=True))
    for note_id, side in split.items():
        bucket = int.from_bytes(hashlib.sha256(note_id.encode()).digest()[:8], "big") % 10_000
        assert side == ("test" if bucket < 3_000 else "train")
    for side, pairs in (("train", data.train_pairs), ("test", data.test_pairs)):
        rows = [(u, n, 0) for u, n, _ in clicks.itertuples(index=False, name=None) if split[n] == side]
        assert list(pairs.itertuples(index=False, name=None)) == reference_pairs(rows, lower=0.0, ordered=False)
    assert stats["split"]["rule"].startswith("hash") and stats["split"]["thresholds"]["ordered"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clicks": lambda c: c.assign(note_id="x" + c.note_id)}, "matches a note of the note table"),
        (
            {"notes": lambda n: n.assign(title=n.title.where(n.index != 2, ""), content="", hashtags=[[]] * len(n))},
            "row 3: note 'n02': title, content and hashtags are all empty",
        ),
        ({"test_fraction": 0.0}, r"must be in \(0, 1\)"),
        ({"test_fraction": 1.5}, r"must be in \(0, 1\)"),
        ({"test_fraction": 0.01}, "leaves no test pairs"),
        ({"split": "time", "clicks": lambda c: c.assign(timestamp=7)}, "more than one distinct value"),
        ({"clicks": lambda c: c.assign(timestamp=["soon"] * len(c))}, "neither numbers nor dates"),
        ({"clicks": lambda c: c.drop(columns="user_id")}, r"missing click columns \['user_id'\]"),
    ],
)
def test_bad_input_is_a_named_error_and_writes_nothing(tmp_path, change, message):
    notes, clicks = user_notes()
    notes = change.get("notes", lambda n: n)(notes)
    clicks = change.get("clicks", lambda c: c)(clicks)
    options = {k: v for k, v in change.items() if k in ("test_fraction", "split")}
    with pytest.raises(ValueError, match=message):
        prepare_custom(notes, clicks, tmp_path / "set", **options)
    assert list(tmp_path.iterdir()) == []


def test_clicks_on_unknown_notes_are_dropped_and_counted(tmp_path):
    notes, clicks = user_notes()
    stray = pd.DataFrame({"user_id": ["u0", "u1"], "note_id": ["gone", "gone"], "timestamp": [5, 6]})
    stats = prepare_custom(notes, pd.concat([clicks, stray]), tmp_path / "set", pairs=EVERY_PAIR)
    assert stats["clicks"]["dropped_unknown_notes"] == 2 and stats["clicks"]["kept"] == len(clicks)
