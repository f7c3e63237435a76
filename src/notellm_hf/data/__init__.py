"""The data side: note tables and click logs -> related-note pairs -> benchmark sets."""

from .benchmark_set import (
    BenchmarkSet,
    dev_benchmark_set,
    load_benchmark_set,
    subsample_benchmark_set,
    write_benchmark_set,
)
from .notes import NOTE_FEATURES, load_notes, note_text, notes_by_id
from .pairs import CooccurrenceArguments, build_cooccurrence_pairs, load_pairs, write_pairs
from .sets import (
    NOTES_VERSIONS,
    PREPARERS,
    is_current,
    prepare_custom,
    prepare_debian,
    prepare_movielens_tmdb,
    prepared_set,
    prepared_slice,
)
from .sources import cache_dir
from .splits import split_behaviour, stable_split, time_split

__all__ = [
    "NOTE_FEATURES",
    "NOTES_VERSIONS",
    "PREPARERS",
    "BenchmarkSet",
    "CooccurrenceArguments",
    "build_cooccurrence_pairs",
    "cache_dir",
    "dev_benchmark_set",
    "is_current",
    "load_benchmark_set",
    "load_notes",
    "load_pairs",
    "note_text",
    "notes_by_id",
    "prepare_custom",
    "prepare_debian",
    "prepare_movielens_tmdb",
    "prepared_set",
    "prepared_slice",
    "split_behaviour",
    "stable_split",
    "subsample_benchmark_set",
    "time_split",
    "write_benchmark_set",
    "write_pairs",
]
