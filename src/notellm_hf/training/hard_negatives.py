"""Hard negatives for the contrastive loss: for each related pair, notes that look related to the anchor but are
not, mined with any encoder's embeddings (a cheap one such as all-MiniLM-L6-v2, or the model being trained).
Negatives mined elsewhere come in as a file: [`notellm_hf.data.negatives.load_hard_negatives`].

False negatives hurt more than easy negatives help, so a candidate is skipped when it is known to be related
to the anchor (any pair in either direction) or when it scores within ``margin`` of the positive (or above it):
such a note is as likely an unlabelled relation as a mistake.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.pairs import related_notes


def mine_hard_negatives(
    pairs: pd.DataFrame,
    note_ids: Sequence[str],
    embeddings: np.ndarray,
    per_pair: int = 1,
    margin: float = 0.05,
    chunk: int = 1024,
) -> list[list[str]]:
    """For each pair (``note_id_a`` -> ``note_id_b``) the ``per_pair`` notes most similar to the anchor among those
    that are neither related to it nor within ``margin`` of the positive's similarity. ``embeddings`` are rows of
    ``note_ids`` (L2-normalised: inner product = cosine). Returns one list per pair (shorter when too few pass)."""
    if per_pair < 1:
        raise ValueError(f"per_pair must be >= 1, got {per_pair}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    row = {note_id: i for i, note_id in enumerate(note_ids)}
    if len(row) != len(note_ids) or len(note_ids) != len(embeddings):
        raise ValueError(f"{len(note_ids)} note ids (unique: {len(row)}) for {len(embeddings)} embeddings")
    missing = sorted({i for i in pd.concat([pairs.note_id_a, pairs.note_id_b]) if i not in row})
    if missing:
        raise ValueError(f"{len(missing)} pair notes have no embedding, e.g. {missing[:3]}")
    related = related_notes(pairs)
    matrix = np.asarray(embeddings, dtype=np.float32)
    anchors = pairs.note_id_a.map(row).to_numpy()
    positives = pairs.note_id_b.map(row).to_numpy()
    mined: list[list[str]] = []
    for start in range(0, len(pairs), chunk):
        a, b = anchors[start : start + chunk], positives[start : start + chunk]
        scores = matrix[a] @ matrix.T
        ceiling = scores[np.arange(len(a)), b] - margin
        for scores_row, anchor, limit in zip(scores, a, ceiling, strict=True):
            excluded = {row[i] for i in related[note_ids[anchor]]} | {anchor}
            picked = []
            for candidate in np.argsort(-scores_row, kind="stable"):
                if scores_row[candidate] >= limit or candidate in excluded:
                    continue
                picked.append(note_ids[candidate])
                if len(picked) == per_pair:
                    break
            mined.append(picked)
    return mined
