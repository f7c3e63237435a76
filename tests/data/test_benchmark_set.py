import pandas as pd
import pytest

from notellm_hf.data.benchmark_set import dev_benchmark_set, load_benchmark_set, write_benchmark_set
from notellm_hf.data.sets.movielens import build_movielens_tmdb

from conftest import MOVIELENS_FIXTURE


def test_dev_set_holds_out_training_notes_and_never_sees_the_test_pool(tmp_path):
    raw = [pd.read_csv(MOVIELENS_FIXTURE / name) for name in ("ratings.csv", "links.csv", "tmdb_movies.csv")]
    write_benchmark_set(tmp_path / "full", *build_movielens_tmdb(*raw, lower=0.0))
    full = load_benchmark_set(tmp_path / "full")
    stats = dev_benchmark_set(tmp_path / "full", tmp_path / "dev", dev_fraction=0.3)
    dev = load_benchmark_set(tmp_path / "dev")
    full_split = dict(zip(full.notes["note_id"], full.notes["split"], strict=True))
    dev_split = dict(zip(dev.notes["note_id"], dev.notes["split"], strict=True))
    assert set(dev_split) == {i for i, s in full_split.items() if s == "train"}  # test notes are gone
    original = set(zip(full.train_pairs.note_id_a, full.train_pairs.note_id_b, strict=True))
    for name, pairs in (("train", dev.train_pairs), ("test", dev.test_pairs)):
        assert set(zip(pairs.note_id_a, pairs.note_id_b, strict=True)) <= original
        assert all(dev_split[i] == name for i in pd.concat([pairs.note_id_a, pairs.note_id_b]))
    kept = len(dev.train_pairs) + len(dev.test_pairs)
    crossing = sum(dev_split[a] != dev_split[b] for a, b in original)
    assert kept + crossing == len(original) and len(dev.test_pairs) > 0
    assert 0.15 < stats["test"]["notes"] / len(dev_split) < 0.45
    with pytest.raises(ValueError, match="dev_fraction"):
        dev_benchmark_set(tmp_path / "full", tmp_path / "bad", dev_fraction=1.0)


def test_the_hashtag_vocabulary_is_the_training_notes_tags_only(tmp_path):
    raw = [pd.read_csv(MOVIELENS_FIXTURE / name) for name in ("ratings.csv", "links.csv", "tmdb_movies.csv")]
    write_benchmark_set(tmp_path / "full", *build_movielens_tmdb(*raw, lower=0.0))
    full = load_benchmark_set(tmp_path / "full")
    by_split = {"train": set(), "test": set()}
    for split, tags in zip(full.notes["split"], full.notes["hashtags"], strict=True):
        by_split[split].update(tags)
    assert full.hashtag_vocabulary == sorted(by_split["train"])
    assert by_split["test"] - by_split["train"]  # the fixture has test-only tags, which must stay off the list
