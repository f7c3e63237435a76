import pandas as pd
import pytest

from notellm_hf.data.benchmark_set import load_benchmark_set, subsample_benchmark_set, write_benchmark_set
from notellm_hf.data.sets.movielens import build_movielens_tmdb, release_year

from conftest import MOVIELENS_FIXTURE as FIXTURE
from conftest import reference_pairs


@pytest.fixture(scope="module")
def raw():
    return tuple(pd.read_csv(FIXTURE / name) for name in ("ratings.csv", "links.csv", "tmdb_movies.csv"))


def test_fields_are_mapped_from_tmdb(raw):
    ratings, links, tmdb = raw
    notes, *_ = build_movielens_tmdb(ratings, links, tmdb)
    toy_story = notes.set_index("note_id").loc["1"]  # MovieLens 1 -> TMDB 862
    assert toy_story.title == "Toy Story (1995)" and toy_story.category == "Animation"
    assert "toy" in toy_story.hashtags and toy_story.content.startswith("Led by Woody")
    assert toy_story.exposure == (ratings.movieId == 1).sum()
    assert len(notes) == ratings.movieId.nunique()


def test_title_takes_the_release_year_only_when_tmdb_has_a_date(raw):
    ratings, links, tmdb = raw
    tmdb = tmdb.copy()
    undated = tmdb.id == 862  # Toy Story
    tmdb.loc[undated, "release_date"] = None
    tmdb.loc[tmdb.id == 9087, "release_date"] = "not a date"  # The American President (MovieLens 11)
    notes = build_movielens_tmdb(ratings, links, tmdb)[0].set_index("note_id")
    assert notes.loc["1"].title == "Toy Story" and notes.loc["11"].title == "The American President"
    dated = links[~links.tmdbId.isin([862, 9087])].merge(tmdb, left_on="tmdbId", right_on="id").iloc[0]
    assert notes.loc[str(dated.movieId)].title == f"{dated.title} ({dated.release_date[:4]})"
    assert release_year(notes.loc[str(dated.movieId)].title) == int(dated.release_date[:4])
    assert release_year("Toy Story") is None and release_year("Toy Story 1995") is None


def test_time_split_keeps_test_notes_and_behaviour_apart(raw):
    ratings, links, tmdb = raw
    notes, split, train_pairs, test_pairs, meta = build_movielens_tmdb(ratings, links, tmdb, lower=0.0)
    cutoff = meta["split"]["cutoff_timestamp"]
    first = ratings.groupby(ratings.movieId.astype(str)).timestamp.min()
    test = set(split.index[split == "test"])
    assert len(test) == -(-len(notes) * 3 // 10)
    assert all(first[n] >= cutoff for n in test) and all(first[n] < cutoff for n in set(split.index) - test)
    assert set(train_pairs.note_id_a) | set(train_pairs.note_id_b) <= set(split.index) - test
    assert set(test_pairs.note_id_a) | set(test_pairs.note_id_b) <= test
    # Independent recomputation of the test pairs with the loop-by-loop reference.
    clicks = [
        (u, str(m), t)
        for u, m, t in ratings[["userId", "movieId", "timestamp"]].itertuples(index=False)
        if t >= cutoff and str(m) in test
    ]
    assert list(test_pairs.itertuples(index=False, name=None)) == reference_pairs(clicks, lower=0.0)


def test_written_set_round_trips_with_table1_statistics(raw, tmp_path):
    ratings, links, tmdb = raw
    stats = write_benchmark_set(tmp_path / "set", *build_movielens_tmdb(ratings, links, tmdb, lower=0.0))
    loaded = load_benchmark_set(tmp_path / "set")
    assert loaded.stats == stats
    assert stats["train"]["notes"] + stats["test"]["notes"] == len(loaded.notes)
    assert stats["test"]["pairs"] == len(loaded.test_pairs)
    test_notes = loaded.split_notes("test")
    assert stats["test"]["avg_hashtags_per_note"] == round(sum(map(len, test_notes["hashtags"])) / len(test_notes), 2)
    assert not (tmp_path / "set.building").exists()


def test_subsample_keeps_a_pool_with_its_pairs_and_distractors(raw, tmp_path):
    ratings, links, tmdb = raw
    write_benchmark_set(tmp_path / "set", *build_movielens_tmdb(ratings, links, tmdb, lower=0.0))
    full = load_benchmark_set(tmp_path / "set")
    full_test = set(full.split_notes("test")["note_id"])
    pool_size = len(full_test) // 2
    stats = subsample_benchmark_set(tmp_path / "set", tmp_path / "small", pool=pool_size, train_pairs=5)
    small = load_benchmark_set(tmp_path / "small")
    pool = set(small.split_notes("test")["note_id"])
    assert len(pool) == pool_size and pool <= full_test
    assert len(small.train_pairs) == stats["train"]["pairs"] == min(5, len(full.train_pairs))
    in_pool = full.test_pairs[full.test_pairs.note_id_a.isin(pool) & full.test_pairs.note_id_b.isin(pool)]
    assert sorted(map(tuple, small.test_pairs.to_numpy())) == sorted(map(tuple, in_pool.to_numpy()))
    assert len(small.test_pairs) > 0
