"""Hard-negative files: negatives the user mined elsewhere, attached to the training pairs they name.

The layout is sentence-transformers' (``mine_hard_negatives`` output with note ids instead of texts):
``note_id_a``, ``note_id_b`` and ``negative`` (triplets) or ``negative_1`` .. ``negative_n`` (n-tuples).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from .io import TABLE_SUFFIXES, read_table
from .pairs import related_notes


def negative_columns(columns: Iterable[str]) -> list[str]:
    """The negative columns among ``columns``: ``negative`` first, then ``negative_1`` .. ``negative_n`` by number."""
    names = [c for c in columns if c == "negative" or (c.startswith("negative_") and c[len("negative_") :].isdigit())]
    return sorted(names, key=lambda c: 0 if c == "negative" else int(c[len("negative_") :]))


def load_hard_negatives(source: Any, pairs: pd.DataFrame, known_note_ids: Iterable[str]) -> list[list[str]]:
    """One list of hard negatives per row of ``pairs``, read from a file (or DataFrame) in the layout above: a
    pair's negatives from every row naming it, in file order, without repeats; pairs the file does not name get
    none, and empty cells are skipped (n-tuples of unequal length); a pair listed more than once in ``pairs``
    gets its negatives at every listing.

    Checked before training starts, each error naming the row and column: a pair that is not among ``pairs``
    (its negatives would be dropped silently), a note not in the note table, a negative equal to its own anchor or
    positive, or one related to the anchor by a training pair (a false negative the loss would push away).
    """
    if isinstance(source, pd.DataFrame):
        frame, origin = source, "the hard-negatives DataFrame"
    else:
        frame, origin = read_table(source, "hard-negatives file", TABLE_SUFFIXES), str(source)
    columns = negative_columns(frame.columns)
    if "note_id_a" not in frame.columns or "note_id_b" not in frame.columns or not columns:
        raise ValueError(
            f"{origin}: expected columns note_id_a, note_id_b and negative or negative_1..n, has {list(frame.columns)}"
        )
    known = {str(i) for i in known_note_ids}
    keys = list(zip(pairs.note_id_a, pairs.note_id_b, strict=True))
    related = related_notes(pairs)
    negatives: dict[tuple[str, str], list[str]] = {key: [] for key in keys}
    for row, (a, b, *cells) in enumerate(frame[["note_id_a", "note_id_b", *columns]].itertuples(index=False), 1):
        anchor, positive = str(a), str(b)
        if (anchor, positive) not in negatives:
            raise ValueError(f"{origin}: row {row}: ({anchor!r}, {positive!r}) is not a training pair")
        listed = negatives[anchor, positive]
        for column, value in zip(columns, cells, strict=True):
            if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "":
                continue
            negative = str(value)
            if negative not in known:
                raise ValueError(f"{origin}: row {row}, {column}: note {negative!r} is not in the note table")
            if negative in (anchor, positive):
                raise ValueError(f"{origin}: row {row}, {column}: {negative!r} is the pair's own anchor or positive")
            if negative in related[anchor]:
                raise ValueError(
                    f"{origin}: row {row}, {column}: {negative!r} is related to the anchor {anchor!r} by a training "
                    "pair, so it is not a negative"
                )
            if negative not in listed:
                listed.append(negative)
    return [list(negatives[key]) for key in keys]  # a pair listed twice gets its negatives twice
