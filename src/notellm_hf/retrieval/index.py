"""[`NoteIndex`]: the faiss index that serves item-to-item recommendations from note embeddings.

Inner product over the stored vectors (cosine for NoteLLM's L2-normalised embeddings). Exact by default;
any faiss factory string for large pools ("HNSW32,Flat", "IVF1024,Flat", "IVF1024,SQ8", ...). Saved as a
faiss file plus a JSON table of note ids: nothing is pickled. faiss is imported where an index is built, saved or
loaded, so that training and evaluation (which score with plain matrix products) run where faiss is not installed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.io import atomic_path, write_text
from .encoding import iter_shards

INDEX_FILE = "index.faiss"
IDS_FILE = "note_ids.json"


def _as_matrix(embeddings: np.ndarray, dim: int | None = None) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
    if matrix.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (n, d), got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"embeddings have {matrix.shape[1]} dims, the index holds {dim}-dim vectors")
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} embeddings hold NaN or inf (first at row {int(np.argmax(bad))})")
    return matrix


class NoteIndex:
    """Note embeddings + note ids behind a faiss index.

    Args:
        embeddings: (n, d) vectors; note_ids: n unique ids.
        factory: faiss factory string; "Flat" (exact) by default. IVF indexes are trained on ``embeddings``.
        nprobe / ef_search: search-time knobs of IVF / HNSW indexes; k_factor: a refine stage (a factory ending in
            ",RFlat") re-ranks k x k_factor candidates on the full vectors (faiss's default 1 re-ranks only the k it
            returns, so compressed codes such as PQ keep their recall).
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        note_ids: Sequence[str],
        factory: str = "Flat",
        nprobe: int | None = None,
        ef_search: int | None = None,
        k_factor: float | None = None,
    ) -> None:
        matrix = _as_matrix(embeddings)
        self._build(factory, matrix, nprobe, ef_search, k_factor)
        self.add(matrix, note_ids)

    @classmethod
    def from_shards(
        cls,
        directory: str | Path,
        factory: str = "Flat",
        nprobe: int | None = None,
        ef_search: int | None = None,
        train_size: int = 262_144,
        k_factor: float | None = None,
    ) -> NoteIndex:
        """Builds the index from `encode_to_shards` output one shard at a time (memory: one shard plus the
        training sample). Indexes that need training (IVF) train on the first ``train_size`` vectors."""
        sample: list[np.ndarray] = []
        for embeddings, _ in iter_shards(directory):
            sample.append(np.asarray(embeddings[: train_size - sum(map(len, sample))]))
            if sum(map(len, sample)) >= train_size:
                break
        self = cls.__new__(cls)
        self._build(factory, _as_matrix(np.concatenate(sample)), nprobe, ef_search, k_factor)
        for embeddings, note_ids in iter_shards(directory):
            self.add(embeddings, note_ids)
        return self

    def _build(
        self,
        factory: str,
        training: np.ndarray,
        nprobe: int | None,
        ef_search: int | None,
        k_factor: float | None = None,
    ) -> None:
        import faiss

        self.factory = factory
        self.dim = training.shape[1]
        base = faiss.index_factory(self.dim, factory, faiss.METRIC_INNER_PRODUCT)
        if not base.is_trained:
            base.train(training)
        # IVF indexes take ids themselves; flat and graph indexes need the id map (IDMap2 also reconstructs).
        self.index = base if isinstance(base, faiss.IndexIVF) else faiss.IndexIDMap2(base)
        self._ids: list[str | None] = []
        self._rows: dict[str, int] = {}
        self._configure(nprobe, ef_search, k_factor)

    def _configure(self, nprobe: int | None, ef_search: int | None, k_factor: float | None) -> None:
        import faiss

        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is not None:
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # recommend() looks up stored vectors
            if nprobe:
                ivf.nprobe = nprobe
        inner = faiss.downcast_index(self.index.index) if isinstance(self.index, faiss.IndexIDMap2) else None
        if ef_search and isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efSearch = ef_search
        if k_factor is not None:
            if not isinstance(inner, faiss.IndexRefine):
                raise ValueError(f"k_factor needs a refine stage (a factory ending in ',RFlat'), not {self.factory!r}")
            if k_factor < 1:
                raise ValueError(f"k_factor must be >= 1, got {k_factor}")
            inner.k_factor = float(k_factor)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def note_ids(self) -> list[str]:
        return [note_id for note_id in self._ids if note_id is not None]

    def add(self, embeddings: np.ndarray, note_ids: Sequence[str]) -> None:
        matrix = _as_matrix(embeddings, self.dim)
        note_ids = [str(i) for i in note_ids]
        if len(note_ids) != len(matrix):
            raise ValueError(f"{len(matrix)} embeddings but {len(note_ids)} note ids")
        duplicates = [i for i in note_ids if i in self._rows]
        if not duplicates and len(set(note_ids)) < len(note_ids):
            duplicates = [i for i, count in Counter(note_ids).items() if count > 1]
        if duplicates:
            raise ValueError(f"note ids already in the index or repeated: {sorted(duplicates)[:5]}")
        start = len(self._ids)
        self.index.add_with_ids(matrix, np.arange(start, start + len(matrix), dtype=np.int64))
        self._ids += note_ids
        self._rows.update({note_id: start + offset for offset, note_id in enumerate(note_ids)})

    def remove(self, note_ids: Sequence[str]) -> None:
        rows = [self._row(note_id) for note_id in note_ids]
        try:
            removed = self.index.remove_ids(np.asarray(rows, dtype=np.int64))
        except RuntimeError as error:
            raise ValueError(f"index type {self.factory!r} does not support removing notes") from error
        if removed != len(rows):
            raise RuntimeError(f"faiss removed {removed} of {len(rows)} notes")
        for note_id, row in zip(note_ids, rows, strict=True):
            self._ids[row] = None
            del self._rows[str(note_id)]

    def _row(self, note_id: str) -> int:
        try:
            return self._rows[str(note_id)]
        except KeyError:
            raise ValueError(f"note {note_id!r} is not in the index") from None

    def search(self, embeddings: np.ndarray, k: int) -> tuple[np.ndarray, list[list[str]]]:
        """Top-k notes for each query vector: (scores (n, k), note ids)."""
        if not 1 <= k <= len(self):
            raise ValueError(f"k must be between 1 and the pool size {len(self)}, got {k}")
        scores, rows = self.index.search(_as_matrix(embeddings, self.dim), k)
        return scores, [[self._ids[r] for r in row if r >= 0] for row in rows]

    def vectors(self, note_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of indexed notes, (len(note_ids), dim) (decoded codes for compressed indexes)."""
        return np.stack([self.index.reconstruct(self._row(note_id)) for note_id in note_ids]).astype(np.float32)

    def recommend(self, note_id: str, k: int) -> list[tuple[str, float]]:
        """The k notes most related to an indexed note, never the note itself."""
        if not 1 <= k < len(self):
            raise ValueError(f"k must be between 1 and the pool size minus the query ({len(self) - 1}), got {k}")
        scores, ids = self.search(self.vectors([note_id]), k + 1)
        hits = [(i, float(s)) for i, s in zip(ids[0], scores[0][: len(ids[0])], strict=True) if i != str(note_id)]
        return hits[:k]

    def save(self, directory: str | Path) -> Path:
        import faiss

        directory = Path(directory)
        with atomic_path(directory / INDEX_FILE) as partial:
            faiss.write_index(self.index, str(partial))
        meta = {"factory": self.factory, "dim": self.dim, "ids": self._ids}
        write_text(directory / IDS_FILE, json.dumps(meta, ensure_ascii=False))
        return directory

    @classmethod
    def load(cls, directory: str | Path, mmap: bool = False) -> NoteIndex:
        import faiss

        directory = Path(directory)
        meta = json.loads((directory / IDS_FILE).read_text(encoding="utf-8"))
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        self = cls.__new__(cls)
        self.factory, self.dim, self._ids = meta["factory"], meta["dim"], meta["ids"]
        self._rows = {note_id: row for row, note_id in enumerate(self._ids) if note_id is not None}
        self.index = faiss.read_index(str(directory / INDEX_FILE), flags)
        return self
