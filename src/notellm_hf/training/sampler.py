"""[`SameCategorySampler`]: training batches whose anchors share a category (topic-aware sampling).

In-batch negatives drawn at random mostly differ from the anchor in category, so the contrastive loss can be lowered
by telling categories apart; on MovieLens (category = a film's first genre) that is what some seeds' embeddings
learn, while co-rating follows the era (benchmarks/RESULTS.md, round 27). When a batch's anchors share their
category, the category no longer separates an anchor from the other anchors (half of its in-batch negatives), and
the loss has to rank by what relates the notes within a category. Hofstätter et al. (2021, "TAS-Balanced") compose
dense-retrieval batches from one topic cluster for the same reason.
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
