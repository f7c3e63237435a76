"""Train/test splits of notes and of the behaviour that relates them (the paper's protocol, Sec. 5.1).

Two rules, one for each kind of data:
- **time**: the notes first clicked last form the test pool (new notes, as NoteLLM is evaluated on); training
  pairs come from the clicks before the cut-off, test pairs from the clicks at or after it among test-pool notes,
  so no test-pool behaviour reaches training;
- **hash**: a stable hash of the note id, for data without usable timestamps (or relations that are not clicks,
  like Debian's dependencies); each split's pairs come from the clicks on its own notes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .pairs import CooccurrenceArguments, build_cooccurrence_pairs

SPLIT_RULES = ("time", "hash")


def stable_split(note_ids: pd.Series, test_fraction: float, salt: str = "") -> pd.Series:
    """Deterministic split by a hash of ``salt`` + id: a note stays in its split across snapshots of the data, and
    another ``salt`` draws an independent split."""
    bucket = note_ids.map(lambda i: int.from_bytes(hashlib.sha256((salt + i).encode()).digest()[:8], "big") % 10_000)
    return pd.Series(["test" if b < test_fraction * 10_000 else "train" for b in bucket], index=note_ids.to_numpy())


def time_split(clicks: pd.DataFrame, test_fraction: float) -> tuple[pd.Series, Any]:
    """Notes whose first interaction is latest form the test pool: (note_id -> split, cut-off time)."""
    first = clicks.groupby("note_id").timestamp.min().reset_index().sort_values(["timestamp", "note_id"])
    n_test = math.ceil(len(first) * test_fraction)
    split = pd.Series("train", index=first.note_id.to_numpy())
    split.iloc[len(first) - n_test :] = "test"
    return split, first.timestamp.iloc[len(first) - n_test]


def _json_time(value: Any) -> Any:
    """A cut-off time as stats.json can hold it: ISO text for dates, a plain number otherwise."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


@dataclass
class BehaviourSplit:
    """A split of the notes and the related pairs of each side."""

    split: pd.Series  # note_id -> "train" / "test", for every note given
    train_pairs: pd.DataFrame
    test_pairs: pd.DataFrame
    meta: dict[str, Any]  # the rule and its parameters, for stats.json


def split_behaviour(
    note_ids: pd.Series,
    clicks: pd.DataFrame,
    rule: str,
    test_fraction: float,
    thresholds: CooccurrenceArguments,
) -> BehaviourSplit:
    """Splits notes by ``rule`` ("time" or "hash") and builds each side's pairs from ``clicks`` (``user_id``,
    ``note_id``, ``timestamp``; note ids as strings, all in ``note_ids``). Notes nobody clicked stay in training
    under the time rule (they have no time; they appear in no pair). Raises a named error when a side is left
    without notes or pairs."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if rule not in SPLIT_RULES:
        raise ValueError(f"split rule must be one of {SPLIT_RULES}, got {rule!r}")
    if rule == "time":
        clicked, cutoff = time_split(clicks, test_fraction)
        split = pd.Series("train", index=note_ids.to_numpy())
        split[clicked.index] = clicked
        test_notes = set(clicked.index[clicked == "test"])
        train_clicks = clicks[clicks.timestamp < cutoff]
        test_clicks = clicks[(clicks.timestamp >= cutoff) & clicks.note_id.isin(test_notes)]
        meta = {
            "rule": "time: notes whose first click is latest form the test pool; train pairs from clicks before the "
            "cut-off, test pairs from clicks at or after it among test-pool notes",
            "cutoff_timestamp": cutoff.isoformat()
            if isinstance(cutoff, pd.Timestamp)
            else getattr(cutoff, "item", lambda: cutoff)(),
        }
    else:
        split = stable_split(note_ids, test_fraction)
        train_clicks = clicks[clicks.note_id.map(split) == "train"]
        test_clicks = clicks[clicks.note_id.map(split) == "test"]
        meta = {"rule": "hash: sha256(note_id) bucket; each split's pairs from the clicks on its own notes"}
    sides = {}
    for side, side_clicks in (("train", train_clicks), ("test", test_clicks)):
        if not (split == side).any():
            raise ValueError(f"the {rule} split with test_fraction {test_fraction} leaves no {side} notes")
        pairs = build_cooccurrence_pairs(side_clicks, **thresholds.thresholds()) if len(side_clicks) else None
        if pairs is None or pairs.empty:
            raise ValueError(
                f"the {rule} split leaves no {side} pairs: {len(side_clicks):,} clicks on {side} notes give no pair "
                f"scoring in [{thresholds.pairs_lower}, {thresholds.pairs_upper}] (lower --lower, change "
                "--test-fraction, or give more clicks)"
            )
        sides[side] = pairs
    meta.update(test_fraction=test_fraction, thresholds=thresholds.thresholds())
    return BehaviourSplit(split, sides["train"], sides["test"], meta)
