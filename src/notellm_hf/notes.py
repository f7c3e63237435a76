"""Reading note records from files, validated at the boundary (errors name the file, line and field)."""

from __future__ import annotations

import json
from pathlib import Path

from .prompting_notellm import Note


def read_notes_jsonl(path: str | Path) -> list[Note]:
    """One JSON object per line with ``note_id``, ``title``, ``content``, ``hashtags``, ``category``."""
    notes: list[Note] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                note = Note.from_any(record)
            except (json.JSONDecodeError, ValueError) as error:
                raise ValueError(f"{path}:{line_number}: {error}") from error
            if note.note_id in seen:
                raise ValueError(f"{path}:{line_number}: note {note.note_id!r} repeats line {seen[note.note_id]}")
            seen[note.note_id] = line_number
            notes.append(note)
    if not notes:
        raise ValueError(f"{path}: no notes")
    return notes
