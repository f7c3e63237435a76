"""Note tables: loaded from JSONL, Parquet, CSV, a DataFrame or a `datasets.Dataset`, validated at the boundary.

Every row becomes a [`Note`] (the same validation the model applies) plus an optional ``exposure``;
errors name the source, the row and the field. Duplicate note ids are an error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import datasets
import pandas as pd

from ..models.notellm.processing_notellm import Note, truncate_to_tokens
from .io import TABLE_SUFFIXES, read_table

NOTE_SUFFIXES = (*TABLE_SUFFIXES, ".json")

NOTE_FEATURES = datasets.Features(
    {
        "note_id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "content": datasets.Value("string"),
        "hashtags": datasets.List(datasets.Value("string")),
        "category": datasets.Value("string"),
        "exposure": datasets.Value("float64"),
    }
)


def note_text(note: Note, tokenizer: Any = None, title_tokens: int = 20, content_tokens: int = 80) -> str:
    """A note as plain text (title, hashtags, content), as MiniLM and the lexical index read it; cut to NoteLLM's
    token budgets when a tokenizer is given."""
    title, content = note.title, note.content
    if tokenizer is not None:
        title = truncate_to_tokens(tokenizer, title, title_tokens)
        content = truncate_to_tokens(tokenizer, content, content_tokens)
    return ". ".join(part for part in (title, ", ".join(note.hashtags), content) if part)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame with missing cells (NaN, None) as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _rows(source: Any) -> tuple[list[dict[str, Any]], str]:
    if isinstance(source, datasets.Dataset):
        return source.to_list(), "the notes dataset"
    if isinstance(source, pd.DataFrame):
        return _records(source), "the notes DataFrame"
    return _records(read_table(source, "notes file", NOTE_SUFFIXES, text_cells=True)), str(source)


def _hashtags(value: Any) -> Any:
    """CSV cells hold hashtags as a JSON list (``["a", "b"]``); other sources give lists (or arrays)."""
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # Note rejects a bare string with a message naming the field
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _exposure(value: Any, note_id: str) -> float | None:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        exposure = float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"note {note_id!r}: field 'exposure' must be a number, got {value!r}") from error
    if exposure < 0 or math.isnan(exposure):
        raise ValueError(f"note {note_id!r}: field 'exposure' must be >= 0, got {value!r}")
    return exposure


def load_notes(source: Any) -> datasets.Dataset:
    """Loads and validates a note table; returns a `datasets.Dataset` with [`NOTE_FEATURES`].

    Columns: ``note_id`` (required), ``title``, ``content``, ``hashtags`` (list of strings; in CSV a JSON
    list), ``category``, ``exposure`` (optional, >= 0). Missing text fields read as empty.
    """
    rows, origin = _rows(source)
    if not rows:
        raise ValueError(f"{origin}: no notes")
    if "note_id" not in rows[0]:
        raise ValueError(f"{origin}: missing column 'note_id' (has {sorted(rows[0])})")
    records, seen = [], {}
    for number, row in enumerate(rows, start=1):
        try:
            note = Note.from_any({**row, "hashtags": _hashtags(row.get("hashtags"))})
            exposure = _exposure(row.get("exposure"), note.note_id)
        except ValueError as error:
            raise ValueError(f"{origin}: row {number}: {error}") from error
        if note.note_id in seen:
            raise ValueError(f"{origin}: row {number}: note {note.note_id!r} repeats row {seen[note.note_id]}")
        seen[note.note_id] = number
        records.append(
            {
                "note_id": note.note_id,
                "title": note.title,
                "content": note.content,
                "hashtags": list(note.hashtags),
                "category": note.category,
                "exposure": exposure,
            }
        )
    return datasets.Dataset.from_list(records, features=NOTE_FEATURES)


def notes_by_id(notes: datasets.Dataset) -> dict[str, Note]:
    """Validated [`Note`] records keyed by note id (what the collator and encoders take)."""
    return {row["note_id"]: Note.from_any(row) for row in notes}


def read_notes(source: Any) -> list[Note]:
    """A note table (any source [`load_notes`] takes) as validated [`Note`] records in table order."""
    return list(notes_by_id(load_notes(source)).values())
