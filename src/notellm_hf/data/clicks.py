"""What every pair engine reads from a click log: its columns, its file types, its checks, and the score rounding."""

from __future__ import annotations

from collections.abc import Iterable

CLICK_COLUMNS = ("user_id", "note_id", "timestamp")
CLICK_SUFFIXES = (".parquet", ".csv", ".tsv", ".arrow", ".feather")
# Scores are rounded so that sums that are equal in exact arithmetic tie exactly (top-t is then deterministic).
SCORE_DECIMALS = 12


def check_click_columns(source: str, columns: Iterable[str]) -> None:
    """A named error for a click log without the columns every engine reads."""
    columns = list(columns)
    missing = [column for column in CLICK_COLUMNS if column not in columns]
    if missing:
        raise ValueError(f"{source}: missing click columns {missing} (has {columns})")


def check_click_counts(source: str, null_counts: dict[str, int], total: int) -> None:
    """A named error for clicks that miss a value, or for an empty log (``null_counts``: column -> count)."""
    for column, count in null_counts.items():
        if count:
            raise ValueError(f"{source}: {count} clicks have no {column}")
    if total == 0:
        raise ValueError(f"{source}: the click log is empty")
