"""[`LexicalIndex`] and [`hybrid_scores`]: a TF-IDF cosine between notes, the lexical half of hybrid retrieval.

Why: on Debian a NoteLLM ranks a note's neighbourhood better than all-MiniLM-L6-v2 fine-tuned on the same pairs,
yet puts fewer related notes in the very top ranks, where the partners share rare words (library and program
names) that one read-out state compresses away; TF-IDF alone scores that top rank as well as the encoders do
(benchmarks/RESULTS.md, round 19). The convex combination ``(1 - w) * embedding cosine + w * TF-IDF cosine`` (the
fusion Bruch et al. 2023, "An Analysis of Fusion Functions for Hybrid Retrieval", recommend over rank fusion) adds
those words back without retraining; ``w`` is chosen on a dev split, per encoder (cosine spreads differ).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.notes import note_text
from ..models.notellm.processing_notellm import Note


class LexicalIndex:
    """L2-normalised TF-IDF vectors (sublinear term frequency) of a pool's notes (title, hashtags, content).

    The inverse document frequencies are fitted on the pool itself: a word is weighed by how rare it is among the
    notes being served, so shared rare names count and shared boilerplate does not. Needs scikit-learn (the
    ``eval`` extra).
    """

    def __init__(self, notes: Sequence[Note]) -> None:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
        except ImportError:
            raise ImportError("hybrid retrieval needs scikit-learn: pip install 'notellm-hf[eval]'") from None

        if not notes:
            raise ValueError("a lexical index needs at least one note")
        self.note_ids = [note.note_id for note in notes]
        self.position = {note_id: row for row, note_id in enumerate(self.note_ids)}
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float32)
        try:
            self.matrix = self.vectorizer.fit_transform([note_text(note) for note in notes]).tocsr()
        except ValueError as error:  # scikit-learn's "empty vocabulary": no note holds a word of 2+ characters
            raise ValueError(f"the notes hold no words to index lexically ({error})") from None

    def __len__(self) -> int:
        return len(self.note_ids)

    def similarity(self, rows: np.ndarray) -> np.ndarray:
        """TF-IDF cosine of the pool notes at ``rows`` to every pool note: (len(rows), len(pool))."""
        return (self.matrix[np.asarray(rows)] @ self.matrix.T).toarray()

    def similarity_to(self, notes: Sequence[Note]) -> np.ndarray:
        """TF-IDF cosine of new notes to every pool note (words the pool never saw count for nothing)."""
        return (self.vectorizer.transform([note_text(note) for note in notes]) @ self.matrix.T).toarray()


def hybrid_scores(embedding_scores: np.ndarray, lexical_scores: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * embedding_scores + weight * lexical_scores``; weight 0 is the encoder alone."""
    check_lexical_weight(weight)
    return (1.0 - weight) * np.asarray(embedding_scores) + weight * np.asarray(lexical_scores)


def check_lexical_weight(weight: float) -> float:
    """A lexical weight in [0, 1], or a named error."""
    if not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f"the lexical weight must lie in [0, 1] (0: the encoder alone), got {weight}")
    return float(weight)


def parse_lexical_weights(specs: Sequence[str]) -> dict[str, list[float]]:
    """``["NoteLLM=0.5", "minilm-finetuned=0,0.25,0.5"]`` -> ``{row: [weights]}`` (the ``--lexical`` flags)."""
    weights: dict[str, list[float]] = {}
    for spec in specs:
        row, _, values = spec.rpartition("=")
        try:
            parsed = [check_lexical_weight(float(value)) for value in values.split(",")]
        except ValueError as error:
            raise ValueError(
                f"--lexical {spec!r}: expected ROW=WEIGHT[,WEIGHT...], weights in [0, 1] ({error})"
            ) from None
        if not row or row in weights:
            raise ValueError(f"--lexical {spec!r}: {'a row named twice' if row else 'no row name before ='}")
        weights[row] = parsed
    return weights
