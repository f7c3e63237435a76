"""The built-in benchmark sets: each module turns public data into the layout of ``data.benchmark_set``."""

from .debian import prepare_debian
from .movielens import prepare_movielens_tmdb

# `notellm data prepare NAME` and the recipes find a set's builder here.
PREPARERS = {"movielens-tmdb": prepare_movielens_tmdb, "debian": prepare_debian}

__all__ = ["PREPARERS", "prepare_debian", "prepare_movielens_tmdb"]
