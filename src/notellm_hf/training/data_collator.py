"""Batches of related-note pairs -> 2B prompt rows [anchors; positives] with CSFT labels."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..models.notellm.processing_notellm import (
    IGNORE_INDEX,
    Note,
    NoteCompressionPrompt,
    PromptExample,
    pad_sequences,
    padded_batch,
)


def note_key(note_id: str) -> int:
    """Stable 64-bit key of a note id: equal across processes, so gathered batches can spot duplicates."""
    return int.from_bytes(hashlib.blake2b(note_id.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


@dataclass
class NoteLLMCollator:
    """Renders each pair's two notes and pads them into one batch for [`NoteLLMTrainer`].

    Each feature holds two notes (dicts with note fields, [`Note`] records, or note ids looked up in
    ``notes``) under ``anchor_column`` and ``positive_column``. A fraction ``hashtag_ratio`` of notes (drawn
    per note) get the hashtag prompt; notes without hashtags always get the category prompt. A feature may also
    list hard negatives under ``negatives_column`` (notes or note ids): they become extra rows after
    ``[anchors; positives]``, scored as candidates for every query. Returns ``input_ids``, ``attention_mask``,
    ``labels`` (output tokens + EOS only), ``note_keys`` (for same-note masking in the loss) and, when there are
    negatives, ``query_rows`` (= 2B).
    """

    tokenizer: Any
    prompt: NoteCompressionPrompt = field(default_factory=NoteCompressionPrompt)
    hashtag_ratio: float = 0.4
    seed: int = 0
    anchor_column: str = "anchor"
    positive_column: str = "positive"
    negatives_column: str = "negatives"
    notes: Mapping[str, Note] | None = None
    epoch: int = 0  # kept current by NoteLLMTrainer; part of the per-pair draw key

    def __post_init__(self) -> None:
        if not 0.0 <= self.hashtag_ratio <= 1.0:
            raise ValueError(f"hashtag_ratio must be in [0, 1], got {self.hashtag_ratio}")
        if self.tokenizer.pad_token_id is None:
            raise ValueError(
                "the tokenizer has no pad token: build it with NoteLLMForEmbeddingAndGeneration.from_backbone"
            )
        self._rng = random.Random(self.seed)

    def _rng_for(self, feature: dict[str, Any]) -> random.Random:
        """A pair's prompt draws: keyed by (seed, epoch, pair_index) when the feature carries its index, so a
        resumed run replays them exactly (a shared stream would be shifted by the dataloader's prefetch)."""
        if "pair_index" in feature:
            return random.Random(f"{self.seed}:{self.epoch}:{feature['pair_index']}")
        return self._rng

    def _example(self, note: Note, rng: random.Random) -> PromptExample:
        if note.hashtags and rng.random() < self.hashtag_ratio:
            hashtags = self.prompt.sample_hashtags(note, rng)
            return self.prompt.tokenize(self.tokenizer, note, "hashtag", hashtags=hashtags)
        return self.prompt.tokenize(self.tokenizer, note, "category")

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

    def pair_lengths(self, features: Sequence[dict[str, Any]]) -> list[int]:
        """Tokens of the longer of each pair's two category prompts (output included): the ``length`` column that
        ``train_sampling_strategy="group_by_length"`` batches by. A batch is padded to its longest row, so the
        longer note is the one to group on.
        """
        cache: dict[str, int] = {}

        def tokens(note: Note) -> int:
            if note.note_id not in cache:
                cache[note.note_id] = len(self.prompt.tokenize(self.tokenizer, note, "category").input_ids)
            return cache[note.note_id]

        return [max(map(tokens, self._pair(index, feature))) for index, feature in enumerate(features)]

    def anchor_categories(self, features: Sequence[dict[str, Any]]) -> list[str]:
        """Each pair's anchor category: what [`SameCategorySampler`] groups batches by."""
        return [self._pair(index, feature)[0].category for index, feature in enumerate(features)]

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("empty batch: a contrastive batch needs at least one pair")
        anchors, positives, negatives = [], [], []
        for index, feature in enumerate(features):
            anchor, positive = self._pair(index, feature)
            rng = self._rng_for(feature)
            anchors.append((anchor, self._example(anchor, rng)))
            positives.append((positive, self._example(positive, rng)))
            for negative in self._negatives(index, feature, anchor, positive):
                negatives.append((negative, self._example(negative, rng)))
        notes = [note for note, _ in anchors + positives + negatives]
        examples = [example for _, example in anchors + positives + negatives]
        batch = {
            **padded_batch([ex.input_ids for ex in examples], self.tokenizer.pad_token_id),
            "labels": pad_sequences([ex.labels for ex in examples], IGNORE_INDEX),
            "note_keys": torch.tensor([note_key(note.note_id) for note in notes], dtype=torch.long),
        }
        if negatives:
            batch["query_rows"] = torch.tensor(2 * len(features))
        return batch

    def _negatives(self, index: int, feature: dict[str, Any], anchor: Note, positive: Note) -> list[Note]:
        negatives = [self._note(index, value) for value in feature.get(self.negatives_column) or ()]
        for negative in negatives:
            if negative.note_id in (anchor.note_id, positive.note_id):
                raise ValueError(
                    f"pair {index}: hard negative {negative.note_id!r} is the pair's own anchor or positive note"
                )
        return negatives
