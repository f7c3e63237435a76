"""`notellm generate`: a NoteLLM folder and a note table in, each note's generated category or hashtags out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from .backbones import load_notellm
from .data.notes import read_notes


def generate_for_notes(
    model: str | Path,
    notes: str | Path,
    task: Literal["category", "hashtags"] = "category",
    categories: Sequence[str] | None = None,
    num_hashtags: int = 3,
    batch_size: int = 16,
) -> list[dict[str, Any]]:
    """One record per note, ``{"note_id": ..., task: output}``, in table order. With ``categories`` the category
    decoding can only spell a member of that closed list."""
    if task not in ("category", "hashtags"):
        raise ValueError(f"task must be 'category' or 'hashtags', got {task!r}")
    table = read_notes(notes)
    notellm, tokenizer = load_notellm(model)
    if task == "category":
        outputs = notellm.generate_category(tokenizer, table, categories=categories, batch_size=batch_size)
    else:
        outputs = notellm.generate_hashtags(tokenizer, table, num_hashtags=num_hashtags, batch_size=batch_size)
    return [{"note_id": note.note_id, task: output} for note, output in zip(table, outputs, strict=True)]
