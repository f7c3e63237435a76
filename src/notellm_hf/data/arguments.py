"""[`DataArguments`]: where a training run's notes and related pairs come from, as recipe YAML keys and flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..models.notellm.processing_notellm import Note
from .benchmark_set import load_benchmark_set
from .negatives import load_hard_negatives
from .notes import load_notes, notes_by_id
from .pairs import CooccurrenceArguments, build_cooccurrence_pairs, load_pairs


@dataclass
class DataArguments:
    """A prepared benchmark set, or a note table with a click log (pairs built on the fly) or a pairs file."""

    benchmark: str | None = field(default=None, metadata={"help": "A prepared benchmark set (notellm data prepare)."})
    notes: str | None = field(default=None, metadata={"help": "Note table (.jsonl, .parquet, .csv)."})
    clicks: str | None = field(
        default=None, metadata={"help": "Click log (user_id, note_id, timestamp) to build pairs."}
    )
    pairs: str | None = field(default=None, metadata={"help": "Precomputed pairs (note_id_a, note_id_b[, score])."})
    eval_pairs: str | None = field(default=None, metadata={"help": "Held-out pairs for the recall evaluator."})
    max_train_pairs: int | None = field(default=None, metadata={"help": "Sample at most this many training pairs."})
    max_eval_pairs: int | None = field(default=None, metadata={"help": "Sample at most this many eval pairs."})
    hard_negatives: int = field(
        default=0,
        metadata={"help": "Hard negatives per training pair, mined among the training notes with all-MiniLM-L6-v2."},
    )
    hard_negative_margin: float = field(
        default=0.05,
        metadata={"help": "Skip candidates scoring within this cosine margin of the positive (likely unlabelled)."},
    )
    hard_negatives_file: str | None = field(
        default=None,
        metadata={
            "help": "Hard negatives mined elsewhere: note_id_a, note_id_b and negative or negative_1..n columns "
            "(sentence-transformers' triplet / n-tuple layout with note ids); instead of hard_negatives."
        },
    )

    def __post_init__(self) -> None:
        for name in ("benchmark", "notes", "clicks", "pairs", "eval_pairs", "hard_negatives_file"):
            if getattr(self, name):
                setattr(self, name, str(Path(getattr(self, name)).expanduser()))

    def validate(self) -> None:
        """Checked before anything loads (not in __post_init__, so a parser reports unknown keys first)."""
        if self.hard_negatives < 0 or self.hard_negative_margin < 0:
            raise ValueError(
                f"hard_negatives and hard_negative_margin must be >= 0, got {self.hard_negatives} and "
                f"{self.hard_negative_margin}"
            )
        if self.hard_negatives and self.hard_negatives_file:
            raise ValueError("give hard_negatives (mined with all-MiniLM-L6-v2) or hard_negatives_file, not both")
        if self.benchmark:
            if self.notes or self.clicks or self.pairs:
                raise ValueError("give either benchmark or notes with clicks/pairs, not both")
        elif not self.notes or bool(self.clicks) == bool(self.pairs):
            raise ValueError("give notes and exactly one of clicks or pairs (or a prepared benchmark)")

    def load(
        self, pairs_args: CooccurrenceArguments, seed: int
    ) -> tuple[dict[str, Note], pd.DataFrame, pd.DataFrame | None]:
        """(notes by id, training pairs, eval pairs or None), validated; pairs sampled down to the limits. With a
        ``hard_negatives_file`` the training pairs carry a ``negatives`` column (note ids), read before sampling so
        that every row of the file is checked against all training pairs."""
        self.validate()
        if self.benchmark:
            benchmark = load_benchmark_set(self.benchmark)
            notes = notes_by_id(benchmark.notes)
            train_pairs, eval_pairs = benchmark.train_pairs, benchmark.test_pairs
        else:
            notes = notes_by_id(load_notes(self.notes))
            if self.clicks:
                train_pairs = build_cooccurrence_pairs(
                    self.clicks, **pairs_args.thresholds(), known_note_ids=list(notes), on_unknown="drop"
                )
            else:
                train_pairs = load_pairs(self.pairs, known_note_ids=notes)
            eval_pairs = load_pairs(self.eval_pairs, known_note_ids=notes) if self.eval_pairs else None
        if len(train_pairs) == 0:
            raise ValueError("no training pairs: check the pair thresholds or the pairs file")
        if self.hard_negatives_file:
            negatives = load_hard_negatives(self.hard_negatives_file, train_pairs, notes)
            train_pairs = train_pairs.assign(negatives=negatives)
        eval_pairs = None if eval_pairs is None else _sample(eval_pairs, self.max_eval_pairs, seed)
        return notes, _sample(train_pairs, self.max_train_pairs, seed), eval_pairs


def _sample(pairs: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    if limit is None or len(pairs) <= limit:
        return pairs
    return pairs.sample(n=limit, random_state=seed).reset_index(drop=True)
