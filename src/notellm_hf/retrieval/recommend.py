"""[`Recommender`]: an encoder, the index of a pool and the pool's notes, answering the two questions of I2I
recommendation: which notes relate to an indexed note, and to a new one (cold start: embed, then search). With a
NoteLLM it also tells a note's generated hashtags and category. `notellm recommend` and `notellm explore` (and its
baseline column, with a Sentence-Transformers encoder) are this class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.benchmark_set import load_benchmark_set
from ..data.notes import read_notes
from ..models.notellm.processing_notellm import Note
from .index import NoteIndex
from .lexical import LexicalIndex, check_lexical_weight, hybrid_scores
from .neighbour_hashtags import neighbour_hashtags

logger = logging.getLogger(__name__)
# Hybrid retrieval re-scores the union of each side's top candidates: exact whenever the pool is no larger.
HYBRID_CANDIDATES = 1000
Encoder = Callable[[Sequence[Note]], np.ndarray]


def read_catalog(source: str | Path) -> list[Note]:
    """The notes a pool holds: a prepared benchmark set folder (all its notes) or any note table."""
    path = Path(source)
    if path.is_dir():
        return [Note.from_any(row) for row in load_benchmark_set(path).notes]
    return read_notes(path)


def pool_index(encode: Encoder, pool: Sequence[Note], name: str = "NoteLLM") -> NoteIndex:
    """An exact index of ``pool`` embedded with ``encode`` now (logged: it can take minutes on a CPU)."""
    if not pool:
        raise ValueError("no index and no notes to build one from: give an index or a catalog")
    start = time.time()
    logger.warning("embedding %d notes with %s to build the index (no saved index given)", len(pool), name)
    index = NoteIndex(encode(list(pool)), [note.note_id for note in pool])
    logger.warning("indexed %d notes in %.0f s", len(index), time.time() - start)
    return index


@dataclass
class Related:
    note_id: str
    score: float
    title: str  # "" when the catalog does not hold the note


class Recommender:
    """Args:
    index: the pool's embeddings ([`NoteIndex`]).
    encode: notes -> (n, d) L2-normalised embeddings in the index's space (for new notes; None: indexed notes only).
    catalog: the pool's notes by id (titles, and the text of indexed notes for generation).
    model / tokenizer: the NoteLLM behind ``encode``, for generated hashtags and categories.
    lexical_weight: > 0 ranks by ``(1 - w) x embedding cosine + w x TF-IDF cosine`` ([`LexicalIndex`] over the
        catalog's text of the indexed notes): the hybrid rows of `notellm evaluate --lexical`, with ``w`` chosen
        there on a dev split. The two sides' top ``HYBRID_CANDIDATES`` notes are re-scored exactly.
    """

    def __init__(
        self,
        index: NoteIndex,
        encode: Encoder | None,
        catalog: Sequence[Note] = (),
        model: Any = None,
        tokenizer: Any = None,
        name: str = "NoteLLM",
        lexical_weight: float = 0.0,
    ) -> None:
        self.index, self.encode, self.model, self.tokenizer, self.name = index, encode, model, tokenizer, name
        self.catalog = {note.note_id: note for note in catalog}
        self.categories = sorted({note.category for note in catalog if note.category}) or None
        self.hashtags = sorted({tag for note in catalog for tag in note.hashtags}) or None
        self.lexical_weight = check_lexical_weight(lexical_weight)
        self.lexical = self._lexical_index() if self.lexical_weight else None

    def _lexical_index(self) -> LexicalIndex:
        missing = [note_id for note_id in self.index.note_ids if note_id not in self.catalog]
        if missing:
            raise ValueError(
                f"hybrid retrieval reads the text of every indexed note: {len(missing)} are not in the catalog, "
                f"e.g. {missing[:3]}"
            )
        return LexicalIndex([self.catalog[note_id] for note_id in self.index.note_ids])

    def _hybrid(self, vectors: np.ndarray, lexical: np.ndarray, skip: Sequence[str], k: int) -> list[list[Related]]:
        """Per query: the union of the top candidates by embedding and by TF-IDF, ranked by the fused score."""
        depth = min(len(self.index), max(HYBRID_CANDIDATES, k + 1))
        _, dense_ids = self.index.search(vectors, depth)
        results = []
        for vector, lexical_row, ids, skipped in zip(vectors, lexical, dense_ids, skip, strict=True):
            lexical_top = np.argpartition(-lexical_row, depth - 1)[:depth]
            rows = sorted({self.lexical.position[i] for i in ids} | set(lexical_top.tolist()))
            rows = [row for row in rows if self.lexical.note_ids[row] != skipped]
            candidates = [self.lexical.note_ids[row] for row in rows]
            fused = hybrid_scores(self.index.vectors(candidates) @ vector, lexical_row[rows], self.lexical_weight)
            order = np.argsort(-fused, kind="stable")[:k]
            results.append(self._related([(candidates[j], float(fused[j])) for j in order]))
        return results

    @classmethod
    def from_notellm(
        cls,
        model: str | Path,
        catalog: Sequence[Note] = (),
        index: str | Path | NoteIndex | None = None,
        pool: Sequence[Note] | None = None,
        precision: str = "auto",
        lexical_weight: float = 0.0,
    ) -> Recommender:
        """A NoteLLM folder (or Hub id) with a saved index, or with none: then ``pool`` (default: the catalog) is
        embedded now. New notes are encoded in ``precision`` (`notellm_hf.precision.PRECISIONS`; "auto": bf16
        autocast where the CPU computes it natively, as `notellm evaluate` and `notellm encode` do)."""
        check_lexical_weight(lexical_weight)  # before loading anything
        from ..backbones import load_notellm
        from ..precision import inference_autocast

        notellm, tokenizer = load_notellm(model)
        notellm.eval()

        def encode(notes: Sequence[Note]) -> np.ndarray:
            progress = len(notes) > 64
            with inference_autocast(precision, notellm.device):
                return notellm.encode_notes(tokenizer, notes, batch_size=16, show_progress_bar=progress).numpy()

        if not isinstance(index, NoteIndex):
            index = (
                NoteIndex.load(index) if index is not None else pool_index(encode, catalog if pool is None else pool)
            )
        return cls(index, encode, catalog, notellm, tokenizer, lexical_weight=lexical_weight)

    def note(self, note_id: str) -> Note:
        try:
            return self.catalog[str(note_id)]
        except KeyError:
            raise ValueError(f"note {note_id!r} is not in the catalog") from None

    def _related(self, hits: Sequence[tuple[str, float]]) -> list[Related]:
        return [
            Related(note_id, score, self.catalog[note_id].title if note_id in self.catalog else "")
            for note_id, score in hits
        ]

    def related(self, note_id: str, k: int = 10) -> list[Related]:
        """The k notes most related to an indexed note (never the note itself; fewer when the pool is smaller)."""
        if self.lexical is not None:
            vector = self.index.vectors([note_id])  # a named error for a note the index does not hold
            lexical = self.lexical.similarity(np.array([self.lexical.position[str(note_id)]]))
            return self._hybrid(vector, lexical, [str(note_id)], k)[0]
        return self._related(self.index.recommend(str(note_id), min(k, len(self.index) - 1)))

    def related_to_new(self, notes: Sequence[Note], k: int = 10) -> list[list[Related]]:
        """Cold start: the k indexed notes most related to each new note (a note already indexed under the same id
        is left out of its own list)."""
        if not notes:
            return []
        if self.encode is None:
            raise ValueError("new notes need the encoder that built the index (--model)")
        if self.lexical is not None:
            skip = [note.note_id for note in notes]
            return self._hybrid(self.encode(list(notes)), self.lexical.similarity_to(notes), skip, k)
        scores, ids = self.index.search(self.encode(list(notes)), min(k + 1, len(self.index)))
        results = []
        for note, row_ids, row_scores in zip(notes, ids, scores, strict=True):
            hits = [(i, float(s)) for i, s in zip(row_ids, row_scores, strict=False) if i != note.note_id]
            results.append(self._related(hits[:k]))
        return results

    def lent_hashtags(self, related: Sequence[Related], num_hashtags: int = 3) -> list[str]:
        """The catalog tags a note's related notes carry most, each voting its score ([`neighbour_hashtags`]): at a
        small training budget these beat the generated hashtags (RESULTS, round 37)."""
        tags = {hit.note_id: self.catalog[hit.note_id].hashtags for hit in related if hit.note_id in self.catalog}
        return neighbour_hashtags([(hit.note_id, hit.score) for hit in related], tags, num_hashtags)

    def describe(self, notes: Sequence[Note], num_hashtags: int = 3) -> list[dict[str, Any]]:
        """Each note's generated hashtags and category, decoded within the catalog's hashtags and categories (open
        decoding when the catalog has none)."""
        if self.model is None:
            raise ValueError("this recommender has no NoteLLM to generate with")
        hashtags = self.model.generate_hashtags(
            self.tokenizer, notes, num_hashtags=num_hashtags, vocabulary=self.hashtags
        )
        categories = self.model.generate_category(self.tokenizer, notes, categories=self.categories)
        return [{"hashtags": tags, "category": category} for tags, category in zip(hashtags, categories, strict=True)]


def recommend(
    index: str | Path,
    note_ids: Sequence[str] = (),
    new_notes: str | Path | None = None,
    model: str | Path | None = None,
    catalog: str | Path | None = None,
    k: int = 10,
    generate: bool = False,
    precision: str = "auto",
    lexical_weight: float = 0.0,
) -> list[dict[str, Any]]:
    """`notellm recommend`: one record per query (indexed notes by id, then the notes of a new-note table) with its
    k related notes and, with ``generate``, its generated hashtags and category and the catalog tags its related notes
    carry (``neighbour_hashtags``). New notes are encoded in
    ``precision`` (`notellm_hf.precision.PRECISIONS`). ``lexical_weight`` > 0: hybrid ranking ([`Recommender`]), which
    reads the indexed notes' text from ``catalog``."""
    if not note_ids and new_notes is None:
        raise ValueError("nothing to recommend for: give note ids and/or a table of new notes")
    if model is None and (new_notes is not None or generate):
        raise ValueError("new notes and generation need --model (the NoteLLM that built the index)")
    if check_lexical_weight(lexical_weight) and catalog is None:
        raise ValueError("hybrid ranking (--lexical-weight) reads the indexed notes' text: give --catalog")
    notes = read_catalog(catalog) if catalog else []
    if model is None:
        recommender = Recommender(NoteIndex.load(index), encode=None, catalog=notes, lexical_weight=lexical_weight)
    else:
        recommender = Recommender.from_notellm(model, notes, index, precision=precision, lexical_weight=lexical_weight)
    fresh = read_notes(new_notes) if new_notes is not None else []
    queries = [recommender.note(i) for i in note_ids] + fresh if generate else []  # named error before any work
    related = [recommender.related(i, k) for i in note_ids] + recommender.related_to_new(fresh, k)
    query_ids = [str(i) for i in note_ids] + [note.note_id for note in fresh]
    records = [
        {"note_id": query, "related": [vars(hit) for hit in hits]}
        for query, hits in zip(query_ids, related, strict=True)
    ]
    if generate:
        for record, hits, generated in zip(records, related, recommender.describe(queries), strict=True):
            record.update(generated)
            record["neighbour_hashtags"] = recommender.lent_hashtags(hits)
    return records
