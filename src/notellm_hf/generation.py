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
    hashtag_vocabulary: Sequence[str] | str | Path | None = None,
) -> list[dict[str, Any]]:
    """One record per note, ``{"note_id": ..., task: output}``, in table order. With ``categories`` the category
    decoding can only spell a member of that closed list; with ``hashtag_vocabulary`` the hashtags are the likeliest
    members of that list (a constrained beam search), given as tags or as a text file of one tag a line."""
    if task not in ("category", "hashtags"):
        raise ValueError(f"task must be 'category' or 'hashtags', got {task!r}")
    if isinstance(hashtag_vocabulary, (str, Path)):
        hashtag_vocabulary = read_hashtag_vocabulary(hashtag_vocabulary)
    table = read_notes(notes)
    notellm, tokenizer = load_notellm(model)
    if task == "category":
        outputs = notellm.generate_category(tokenizer, table, categories=categories, batch_size=batch_size)
    else:
        outputs = notellm.generate_hashtags(
            tokenizer, table, num_hashtags=num_hashtags, batch_size=batch_size, vocabulary=hashtag_vocabulary
        )
    return [{"note_id": note.note_id, task: output} for note, output in zip(table, outputs, strict=True)]


def read_hashtag_vocabulary(path: str | Path) -> list[str]:
    """The tags of a text file, one a line (blank lines skipped); a missing or empty file is a named error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"hashtag vocabulary {path} does not exist")
    tags = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not tags:
        raise ValueError(f"hashtag vocabulary {path} holds no tags")
    return tags
