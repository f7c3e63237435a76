"""The benchmark sets: the built-in ones turn public data into the layout of ``data.benchmark_set``; ``custom``
does the same for a user's notes and click log."""

import json
from pathlib import Path

from ..benchmark_set import dev_benchmark_set, subsample_benchmark_set
from ..sources import cache_dir
from . import movielens
from .custom import prepare_custom
from .debian import prepare_debian
from .movielens import prepare_movielens_tmdb

# `notellm data prepare NAME` and the recipes find a built-in set's builder here.
PREPARERS = {"movielens-tmdb": prepare_movielens_tmdb, "debian": prepare_debian}
# The version of each builder's note mapping, written into the set's stats.json ("notes_version"; 1 when absent).
NOTES_VERSIONS = {"movielens-tmdb": movielens.NOTES_VERSION, "debian": 1}


def is_current(directory: str | Path, name: str) -> bool:
    """Whether ``directory`` holds built-in set ``name`` as its builder maps notes today. Sets derived from it (dev
    splits, slices) carry its stats, so a cache built by an older mapping reads as stale at every level."""
    stats = Path(directory) / "stats.json"
    if not stats.exists():
        return False
    return json.loads(stats.read_text(encoding="utf-8")).get("notes_version", 1) == NOTES_VERSIONS[name]


def prepared_set(name: str, dev: bool = False) -> Path:
    """Built-in set ``name`` in the cache, or its dev split (`dev_benchmark_set`) when ``dev``; each is built, or
    rebuilt, when missing or stale."""
    full = cache_dir() / "datasets" / name
    if not is_current(full, name):
        PREPARERS[name](full)
    if not dev:
        return full
    split = full.with_name(f"{name}-dev")
    if not is_current(split, name):
        dev_benchmark_set(full, split)
    return split


def prepared_slice(name: str, kind: str, pool: int, train_pairs: int, dev: bool = False) -> Path:
    """A ``pool``-note test pool with ``train_pairs`` training pairs of `prepared_set` (`subsample_benchmark_set`),
    cached as ``<name>-<kind>-<pool>-<train_pairs>``: named by both sizes, so another size builds its own slice."""
    source = prepared_set(name, dev)
    sliced = source.with_name(f"{name}-{kind}-{pool}-{train_pairs}")
    if not is_current(sliced, name):
        subsample_benchmark_set(source, sliced, pool, train_pairs)
    return sliced


__all__ = [
    "NOTES_VERSIONS",
    "PREPARERS",
    "is_current",
    "prepare_custom",
    "prepare_debian",
    "prepare_movielens_tmdb",
    "prepared_set",
    "prepared_slice",
]
