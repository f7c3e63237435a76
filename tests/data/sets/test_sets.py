import json

import pandas as pd

from notellm_hf.data import load_benchmark_set, prepared_slice
from notellm_hf.data.sets import NOTES_VERSIONS, is_current, movielens

from conftest import MOVIELENS_FIXTURE as FIXTURE


def _fixture_sources(cache=None):
    return tuple(pd.read_csv(FIXTURE / name) for name in ("ratings.csv", "links.csv", "tmdb_movies.csv"))


def _set_version(folder, version):
    stats = json.loads((folder / "stats.json").read_text())
    (folder / "stats.json").write_text(json.dumps({**stats, "notes_version": version}))


def test_a_cache_built_by_an_older_note_mapping_is_rebuilt_at_every_level(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTELLM_HF_CACHE", str(tmp_path))
    monkeypatch.setattr(movielens, "read_sources", _fixture_sources)
    sliced = prepared_slice("movielens-tmdb", "dev", 10, 5, dev=True)
    full, dev = tmp_path / "datasets" / "movielens-tmdb", tmp_path / "datasets" / "movielens-tmdb-dev"
    assert sliced == tmp_path / "datasets" / "movielens-tmdb-dev-10-5"
    assert all(is_current(folder, "movielens-tmdb") for folder in (full, dev, sliced))
    assert load_benchmark_set(sliced).stats["dev_of"]["source"] == str(full)
    built = {folder: (folder / "stats.json").stat().st_mtime_ns for folder in (full, dev, sliced)}
    assert prepared_slice("movielens-tmdb", "dev", 10, 5, dev=True) == sliced
    assert built == {folder: (folder / "stats.json").stat().st_mtime_ns for folder in built}  # current: kept

    # A cache written before the release year joined the title: version 1 (no key) at every level.
    for folder in built:
        table = pd.read_parquet(folder / "notes.parquet")
        table["title"] = table.title.str.replace(r" \(\d{4}\)$", "", regex=True)
        table.to_parquet(folder / "notes.parquet", index=False)
        stats = json.loads((folder / "stats.json").read_text())
        del stats["notes_version"]
        (folder / "stats.json").write_text(json.dumps(stats))
    assert not any(is_current(folder, "movielens-tmdb") for folder in built)
    prepared_slice("movielens-tmdb", "dev", 10, 5, dev=True)
    for folder in built:
        assert json.loads((folder / "stats.json").read_text())["notes_version"] == NOTES_VERSIONS["movielens-tmdb"] == 2
    titles = load_benchmark_set(sliced).split_notes("test")["title"]
    assert titles and all(title.endswith(")") and title[-5:-1].isdigit() for title in titles)


def test_a_missing_set_is_not_current(tmp_path):
    assert not is_current(tmp_path / "nothing", "debian")
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "stats.json").write_text(json.dumps({"name": "debian"}))
    assert is_current(tmp_path / "set", "debian")  # Debian's mapping is still version 1: no key needed
    _set_version(tmp_path / "set", 2)
    assert not is_current(tmp_path / "set", "debian")
