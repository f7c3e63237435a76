"""Your own notes and click log -> the benchmark layout, split the paper's way (`notellm data prepare custom`).

Notes: any table [`load_notes`] reads (``note_id`` plus any of title, content, hashtags, category, exposure);
notes without hashtags or category train retrieval only. Clicks: ``user_id``, ``note_id`` and, optionally,
``timestamp`` (numbers or date strings). With usable timestamps the split is by time (the test pool is the notes
that appear last, as in the paper), otherwise by a stable hash of the note id with unordered pairs (an order
needs times). A note's exposure (for the low/high-exposure buckets) is its click count unless the table gives one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ..benchmark_set import write_benchmark_set
from ..io import read_table
from ..notes import load_notes
from ..pairs import CooccurrenceArguments
from ..splits import SPLIT_RULES, split_behaviour

logger = logging.getLogger(__name__)


def read_click_log(clicks: Any) -> tuple[pd.DataFrame, bool]:
    """A click log (file or DataFrame) as a frame of ``user_id``, ``note_id`` (string), ``timestamp``, and whether
    its timestamps can order behaviour (present, parseable, more than one value)."""
    origin = "the click DataFrame" if isinstance(clicks, pd.DataFrame) else str(clicks)
    frame = clicks if isinstance(clicks, pd.DataFrame) else read_table(clicks, "click log")
    missing = [column for column in ("user_id", "note_id") if column not in frame.columns]
    if missing:
        raise ValueError(f"{origin}: missing click columns {missing} (has {list(frame.columns)})")
    if frame.empty:
        raise ValueError(f"{origin}: the click log is empty")
    for column in ("user_id", "note_id"):
        empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if empty.any():
            raise ValueError(f"{origin}: row {int(empty.to_numpy().argmax()) + 1}: no {column}")
    log = pd.DataFrame({"user_id": frame.user_id.astype(str), "note_id": frame.note_id.astype(str).str.strip()})
    if "timestamp" not in frame.columns:
        return log.assign(timestamp=0), False
    times = frame.timestamp
    if times.isna().any():
        raise ValueError(f"{origin}: row {int(times.isna().to_numpy().argmax()) + 1}: no timestamp")
    if not pd.api.types.is_numeric_dtype(times):
        try:
            times = pd.to_datetime(times, utc=True, format="mixed")
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"{origin}: column 'timestamp' holds values that are neither numbers nor dates: {error}"
            ) from None
    log["timestamp"] = times.to_numpy()
    return log, log.timestamp.nunique() > 1


def prepare_custom(
    notes: Any,
    clicks: Any,
    out_dir: str | Path,
    *,
    split: str = "auto",
    test_fraction: float = 0.3,
    pairs: CooccurrenceArguments | None = None,
) -> dict[str, Any]:
    """Writes ``out_dir`` in the layout of the built-in sets (notes with their split, train/test pairs, stats.json
    with the Table-1 statistics) from a note table and a click log; returns the statistics.

    ``split``: "time", "hash" or "auto" (time when the timestamps are usable). Clicks on notes missing from the
    note table are dropped and counted (an error when no click names a known note).
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"--test-fraction must be in (0, 1), got {test_fraction}")
    if split not in ("auto", *SPLIT_RULES):
        raise ValueError(f"--split must be one of {('auto', *SPLIT_RULES)}, got {split!r}")
    thresholds = pairs or CooccurrenceArguments()
    table = load_notes(notes).to_pandas()
    log, timed = read_click_log(clicks)
    known = log.note_id.isin(set(table.note_id))
    if not known.any():
        raise ValueError(
            f"{clicks if isinstance(clicks, (str, Path)) else 'the click log'}: none of its "
            f"{log.note_id.nunique():,} note ids matches a note of the note table (e.g. {log.note_id.iloc[0]!r} "
            f"vs {table.note_id.iloc[0]!r})"
        )
    if not known.all():
        logger.warning("dropped %d clicks on notes missing from the note table", int((~known).sum()))
    log = log[known]
    if split == "time" and not timed:
        raise ValueError("--split time needs a 'timestamp' column with more than one distinct value")
    rule = split if split != "auto" else ("time" if timed else "hash")
    if not timed:
        thresholds = CooccurrenceArguments(**{**vars(thresholds), "pairs_ordered": False})
    behaviour = split_behaviour(table.note_id, log, rule, test_fraction, thresholds)
    clicks_per_note = log.note_id.value_counts()
    table["exposure"] = table.exposure.fillna(table.note_id.map(clicks_per_note).fillna(0).astype(float))
    meta = {
        "name": Path(out_dir).name,
        "sources": {
            name: str(source) if isinstance(source, (str, Path)) else f"a {type(source).__name__}"
            for name, source in (("notes", notes), ("clicks", clicks))
        },
        "split": behaviour.meta,
        "clicks": {
            "kept": int(len(log)),
            "dropped_unknown_notes": int((~known).sum()),
            "users": int(log.user_id.nunique()),
            "notes_without_clicks": int((~table.note_id.isin(set(log.note_id))).sum()),
            "timestamps_usable": timed,
        },
    }
    return write_benchmark_set(out_dir, table, behaviour.split, behaviour.train_pairs, behaviour.test_pairs, meta)
