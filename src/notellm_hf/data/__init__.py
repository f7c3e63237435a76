"""The data side: note tables and click logs -> related-note pairs -> benchmark sets."""

from .benchmark_set import BenchmarkSet, load_benchmark_set, subsample_benchmark_set, write_benchmark_set
from .debian import prepare_debian
from .movielens import prepare_movielens_tmdb
from .notes import NOTE_FEATURES, load_notes, notes_by_id
from .pairs import build_cooccurrence_pairs, load_pairs, write_pairs
from .sources import cache_dir

PREPARERS = {"movielens-tmdb": prepare_movielens_tmdb, "debian": prepare_debian}

__all__ = [
    "NOTE_FEATURES",
    "PREPARERS",
    "BenchmarkSet",
    "build_cooccurrence_pairs",
    "cache_dir",
    "load_benchmark_set",
    "load_notes",
    "load_pairs",
    "notes_by_id",
    "prepare_debian",
    "prepare_movielens_tmdb",
    "subsample_benchmark_set",
    "write_benchmark_set",
    "write_pairs",
]
