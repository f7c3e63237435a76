"""Training orders: [`SameCategorySampler`] (topic-aware batches) and [`StrongPairsFirstSampler`] (a curriculum).

In-batch negatives drawn at random mostly differ from the anchor in category, so the contrastive loss can be lowered
by telling categories apart; on MovieLens (category = a film's first genre) that is what some seeds' embeddings
learn, while co-rating follows the era (benchmarks/RESULTS.md, round 27). When a batch's anchors share their
category, the category no longer separates an anchor from the other anchors (half of its in-batch negatives), and
the loss has to rank by what relates the notes within a category. Hofstätter et al. (2021, "TAS-Balanced") compose
dense-retrieval batches from one topic cluster for the same reason.

On MovieLens one pass at some seeds never leaves the contrastive loss's random level, and changing only the batch
order moved such a seed out of it (round 29c). Pairs with a high co-occurrence score are the least noisy relations
(co-read by many users), so putting them first is the easy-to-hard order of curriculum learning (Bengio et al., 2009)
applied to what the first batches hold; on MovieLens it gave that seed no hold (round 30).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


class SameCategorySampler(Sampler[int]):
    """Indices in an order whose consecutive runs of ``batch_size`` are batches of one category each.

    Per epoch: each category's rows are shuffled and cut into full batches; the rows left over (a category's last
    ``< batch_size`` rows) are pooled, shuffled and cut into mixed batches; all full batches are shuffled and the
    pool's final incomplete batch, if any, comes last (so a dataloader with ``drop_last`` drops exactly it, and no
    other batch straddles two runs). The order depends on ``seed`` and the epoch (``set_epoch``, which the Trainer
    calls), so a resumed run replays it. A dataloader must batch it with ``batch_size`` rows per step and process;
    with several processes each one's batch is of one category, while the negatives gathered across them mix.
    """

    def __init__(self, categories: Sequence[str | None], batch_size: int, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0
        rows: dict[str | None, list[int]] = defaultdict(list)
        for index, category in enumerate(categories):
            rows[category].append(index)
        self.rows_by_category = dict(rows)
        self.size = len(categories)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This epoch's batches in order; the last may be incomplete (mixed rows)."""
        rng = random.Random(f"{self.seed}:{self.epoch}")
        full, leftover = [], []
        for category in sorted(self.rows_by_category, key=str):  # the draws must not follow row order
            rows = self.rows_by_category[category][:]
            rng.shuffle(rows)
            cut = len(rows) - len(rows) % self.batch_size
            full += [rows[start : start + self.batch_size] for start in range(0, cut, self.batch_size)]
            leftover += rows[cut:]
        rng.shuffle(leftover)
        mixed = [leftover[start : start + self.batch_size] for start in range(0, len(leftover), self.batch_size)]
        incomplete = [mixed.pop()] if mixed and len(mixed[-1]) < self.batch_size else []
        batches = full + mixed
        rng.shuffle(batches)
        return batches + incomplete

    def __iter__(self) -> Iterator[int]:
        for batch in self.batches():
            yield from batch

    def __len__(self) -> int:
        return self.size


class StrongPairsFirstSampler(Sampler[int]):
    """Indices whose first ``lead_rows`` are the rows of highest ``scores`` (a curriculum), the rest in random order.

    First epoch: the ``lead_rows`` highest-scoring rows (ties broken at random) in random order among themselves,
    then every other row in random order; later epochs (``set_epoch``, which the Trainer calls) are plain random
    orders, since a curriculum is for the start. Each row comes once per epoch; the order depends on ``seed`` and
    the epoch, so a resumed run replays it. ``lead_rows`` is in rows: a caller that wants ``n`` steps passes ``n``
    times the rows one optimizer step takes over all processes.
    """

    def __init__(self, scores: Sequence[float], lead_rows: int, seed: int = 0) -> None:
        if lead_rows < 0:
            raise ValueError(f"lead_rows must be >= 0, got {lead_rows}")
        if len(set(scores)) < 2:
            raise ValueError(
                f"the pairs' scores are all {scores[0] if len(scores) else None!r}: strong pairs first needs scores "
                "that rank the pairs (e.g. the co-occurrence scores of data/pairs.py)"
            )
        self.scores, self.lead_rows, self.seed, self.epoch = list(scores), lead_rows, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> list[int]:
        rng = random.Random(f"{self.seed}:{self.epoch}")
        rows = list(range(len(self.scores)))
        rng.shuffle(rows)  # a random order first, so the stable sort breaks ties at random
        if self.epoch > 0:
            return rows
        ranked = sorted(rows, key=lambda row: -self.scores[row])
        lead, rest = ranked[: self.lead_rows], ranked[self.lead_rows :]
        rng.shuffle(lead)
        rng.shuffle(rest)
        return lead + rest

    def __iter__(self) -> Iterator[int]:
        yield from self.order()

    def __len__(self) -> int:
        return len(self.scores)
