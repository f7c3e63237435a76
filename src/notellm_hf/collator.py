"""Batches of related-note pairs -> 2B prompt rows [anchors; positives] with CSFT labels."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .modeling_notellm import pad_sequences, padded_batch
from .prompting_notellm import IGNORE_INDEX, Note, NoteCompressionPrompt


def note_key(note_id: str) -> int:
    """Stable 64-bit key of a note id: equal across processes, so gathered batches can spot duplicates."""
    return int.from_bytes(hashlib.blake2b(note_id.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


@dataclass
class NoteLLMCollator:
    """Renders each pair's two notes and pads them into one batch for [`NoteLLMTrainer`].

    Each feature holds two notes (dicts with note fields, [`Note`] records, or note ids looked up in
    ``notes``) under ``anchor_column`` and ``positive_column``. A fraction ``hashtag_ratio`` of notes (drawn
    per note) get the hashtag prompt; notes without hashtags always get the category prompt. Returns
    ``input_ids``, ``attention_mask``, ``labels`` (output tokens + EOS only) and ``note_keys`` (for same-note
    masking in the loss).
    """

    tokenizer: Any
    prompt: NoteCompressionPrompt = field(default_factory=NoteCompressionPrompt)
    hashtag_ratio: float = 0.4
    seed: int | None = None
    anchor_column: str = "anchor"
    positive_column: str = "positive"
    notes: Mapping[str, Note] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.hashtag_ratio <= 1.0:
            raise ValueError(f"hashtag_ratio must be in [0, 1], got {self.hashtag_ratio}")
        if self.tokenizer.pad_token_id is None:
            raise ValueError(
                "the tokenizer has no pad token: build it with NoteLLMForEmbeddingAndGeneration.from_backbone"
            )
        self._rng = random.Random(self.seed)

    def _pair(self, index: int, feature: dict[str, Any]) -> tuple[Note, Note]:
        try:
            anchor, positive = feature[self.anchor_column], feature[self.positive_column]
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"pair {index}: expected a mapping with {self.anchor_column!r} and {self.positive_column!r} notes"
            ) from error
        anchor, positive = self._note(index, anchor), self._note(index, positive)
        if anchor.note_id == positive.note_id:
            raise ValueError(
                f"pair {index}: both sides are note {anchor.note_id!r}; a note is not its own related note"
            )
        return anchor, positive

    def _note(self, index: int, value: Any) -> Note:
        if isinstance(value, str) and self.notes is not None:
            if value not in self.notes:
                raise ValueError(f"pair {index}: note {value!r} is not in the note table")
            return self.notes[value]
        return Note.from_any(value)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("empty batch: a contrastive batch needs at least one pair")
        pairs = [self._pair(i, feature) for i, feature in enumerate(features)]
        notes = [a for a, _ in pairs] + [p for _, p in pairs]
        examples = []
        for note in notes:
            if note.hashtags and self._rng.random() < self.hashtag_ratio:
                hashtags = self.prompt.sample_hashtags(note, self._rng)
                examples.append(self.prompt.tokenize(self.tokenizer, note, "hashtag", hashtags=hashtags))
            else:
                examples.append(self.prompt.tokenize(self.tokenizer, note, "category"))
        return {
            **padded_batch([ex.input_ids for ex in examples], self.tokenizer.pad_token_id),
            "labels": pad_sequences([ex.labels for ex in examples], IGNORE_INDEX),
            "note_keys": torch.tensor([note_key(note.note_id) for note in notes], dtype=torch.long),
        }
