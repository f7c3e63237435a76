"""[`LexicalTeacher`]: the TF-IDF cosines between a batch's training notes, as soft targets of the contrastive loss.

Why: on Debian NoteLLM's embedding trails all-MiniLM-L6-v2 fine-tuned at the very top ranks, on pairs whose partners
share rare words (package names) that TF-IDF matches exactly; fused with a TF-IDF cosine at serving time it leads
(benchmarks/RESULTS.md, rounds 19 and 33), but then every pool needs a second, sparse index. The paper's one-hot
InfoNCE tells the embedding only which in-batch note is related; a teacher's distribution over all of them also says
which unrelated notes share the rare words, so the one dense vector may learn to weigh them (Hinton et al.'s soft
targets, with a lexical teacher). The IDF is counted over the training notes only: the test pool stays unseen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..models.notellm.processing_notellm import Note
from ..retrieval.lexical import LexicalIndex
from .data_collator import note_key


class LexicalTeacher:
    """``teacher(query_keys, candidate_keys)`` -> (n, C) logits: ``scale`` x the TF-IDF cosine (sublinear term
    frequency, [`LexicalIndex`]) between the notes of those `note_key`s, fitted on ``notes``.

    ``scale`` plays the contrastive loss's e^tau: the teacher's softmax is as sharp over cosines in [0, 1] as the
    student's is over its own at that scale.
    """

    def __init__(self, notes: Sequence[Note], scale: float = 20.0) -> None:
        if not scale > 0:
            raise ValueError(f"the lexical teacher's scale must be > 0, got {scale}")
        self.index = LexicalIndex(notes)
        self.rows = {note_key(note_id): row for row, note_id in enumerate(self.index.note_ids)}
        self.scale = float(scale)

    def _rows(self, keys: torch.Tensor) -> np.ndarray:
        try:
            return np.array([self.rows[key] for key in keys.tolist()], dtype=np.int64)
        except KeyError as error:
            raise ValueError(
                f"a batch holds a note (key {error.args[0]}) the lexical teacher was not fitted on: fit it on every "
                "note training can put in a batch (anchors, positives, hard negatives)"
            ) from None

    def __call__(self, query_keys: torch.Tensor, candidate_keys: torch.Tensor) -> torch.Tensor:
        matrix = self.index.matrix
        cosines = (matrix[self._rows(query_keys)] @ matrix[self._rows(candidate_keys)].T).toarray()
        return torch.from_numpy(cosines).to(candidate_keys.device, torch.float32) * self.scale
