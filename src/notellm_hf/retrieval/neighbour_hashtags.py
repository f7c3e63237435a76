"""Hashtags read off a note's nearest catalog notes: the tags its related notes carry, each weighted by how close
that note is.

Why: at the demo's budget (~50 steps) the generation task has barely moved the LM head, and decoding within the tag
list returns the list's most frequent tags for almost every note (`role::shared-lib` on a game). The embedding half of
the same model already places a note next to notes like it; their tags are a note's likeliest tags. On the demo's test
pool (RESULTS, round 37; 200 notes, 3 tags each) 56% of the tags the 10 nearest pool notes lend are the note's own,
against 26% of the generated ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

NEIGHBOURS = 10


def lendable_hashtags(notes: Iterable[Any], vocabulary: Collection[str] | None) -> dict[str, list[str]]:
    """Each note's tags that are members of ``vocabulary`` (all its tags without one), by note id: what a note may
    lend its neighbours when generated hashtags are decoded within that list, so both choose from the same tags."""
    listed = set(vocabulary or ())
    return {note.note_id: [tag for tag in note.hashtags if tag in listed or not listed] for note in notes}


def neighbour_hashtags(
    neighbours: Sequence[tuple[str, float]], hashtags_of: Mapping[str, Sequence[str]], num_hashtags: int = 3
) -> list[str]:
    """The ``num_hashtags`` tags the ``(note_id, cosine)`` neighbours carry most, each neighbour voting its cosine
    for each of its tags; ties go to the tag of the nearer neighbour. Neighbours at a cosine <= 0, without tags or
    unknown to ``hashtags_of`` vote for nothing (a tag only they carry is not lent)."""
    if num_hashtags < 1:
        raise ValueError(f"num_hashtags must be >= 1, got {num_hashtags}")
    votes: Counter[str] = Counter()
    for note_id, score in sorted(neighbours, key=lambda hit: -hit[1]):
        if score <= 0:  # the rest are as far or farther: no support for any tag
            break
        for tag in dict.fromkeys(hashtags_of.get(note_id, ())):
            votes[tag] += float(score)
    return [tag for tag, _ in votes.most_common(num_hashtags)]


def pool_neighbour_hashtags(
    embeddings: np.ndarray,
    note_ids: Sequence[str],
    hashtags_of: Mapping[str, Sequence[str]],
    queries: Sequence[str],
    k: int = NEIGHBOURS,
    num_hashtags: int = 3,
) -> list[list[str]]:
    """[`neighbour_hashtags`] of pool notes (``queries``, ids in ``note_ids``) from their ``k`` nearest other pool
    notes (all of them in a smaller pool) by cosine of the (n, d) pool ``embeddings`` (rows in ``note_ids`` order):
    leave-one-out, so a note's own tags never vote for it."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) != len(note_ids):
        raise ValueError(f"need one embedding row per pool note: {embeddings.shape} for {len(note_ids)} notes")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, len(note_ids) - 1)
    row_of = {note_id: row for row, note_id in enumerate(note_ids)}
    missing = [note_id for note_id in queries if note_id not in row_of]
    if missing:
        raise ValueError(f"{len(missing)} query notes are not in the pool, e.g. {missing[:3]}")
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    rows = [row_of[note_id] for note_id in queries]
    scores = unit[rows] @ unit.T
    scores[np.arange(len(rows)), rows] = -np.inf
    nearest = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [
        neighbour_hashtags([(note_ids[j], float(row_scores[j])) for j in top], hashtags_of, num_hashtags)
        for top, row_scores in zip(nearest, scores, strict=True)
    ]
