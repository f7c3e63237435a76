"""The benchmark sets: the built-in ones turn public data into the layout of ``data.benchmark_set``; ``custom``
does the same for a user's notes and click log."""

from .custom import prepare_custom
from .debian import prepare_debian
from .movielens import prepare_movielens_tmdb

# `notellm data prepare NAME` and the recipes find a built-in set's builder here.
PREPARERS = {"movielens-tmdb": prepare_movielens_tmdb, "debian": prepare_debian}

__all__ = ["PREPARERS", "prepare_custom", "prepare_debian", "prepare_movielens_tmdb"]
