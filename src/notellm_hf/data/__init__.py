"""The data side: note tables and click logs -> related-note pairs -> benchmark sets."""

from .benchmark_set import (
    BenchmarkSet,
    dev_benchmark_set,
    load_benchmark_set,
    stable_split,
    subsample_benchmark_set,
    write_benchmark_set,
)
from .notes import NOTE_FEATURES, load_notes, notes_by_id
from .pairs import CooccurrenceArguments, build_cooccurrence_pairs, load_pairs, write_pairs
from .sets import PREPARERS, prepare_debian, prepare_movielens_tmdb
from .sources import cache_dir

__all__ = [
    "NOTE_FEATURES",
    "PREPARERS",
    "BenchmarkSet",
    "CooccurrenceArguments",
    "build_cooccurrence_pairs",
    "cache_dir",
    "dev_benchmark_set",
    "load_benchmark_set",
    "load_notes",
    "load_pairs",
    "notes_by_id",
    "prepare_debian",
    "prepare_movielens_tmdb",
    "stable_split",
    "subsample_benchmark_set",
    "write_benchmark_set",
    "write_pairs",
]
