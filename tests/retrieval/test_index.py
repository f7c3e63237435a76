import numpy as np
import pytest

from notellm_hf.retrieval.index import NoteIndex


def unit_vectors(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


IDS = [f"n{i}" for i in range(200)]


@pytest.mark.parametrize("factory", ["Flat", "HNSW16,Flat", "IVF8,Flat"])
def test_search_matches_brute_force(factory):
    x = unit_vectors(200)
    index = NoteIndex(x, IDS, factory=factory, nprobe=8, ef_search=200)
    queries = unit_vectors(5, seed=1)
    scores, ids = index.search(queries, 10)
    truth = np.argsort(-(queries @ x.T), axis=1)[:, :10]
    assert ids == [[IDS[j] for j in row] for row in truth]
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ x.T, truth, axis=1), atol=1e-5)


def test_a_refine_stage_with_k_factor_re_ranks_pq_codes_to_the_exact_order(tmp_path):
    x = unit_vectors(200)
    queries = unit_vectors(5, seed=1)
    truth = [[IDS[j] for j in row] for row in np.argsort(-(queries @ x.T), axis=1)[:, :10]]
    # 2-byte PQ codes of 16-dim vectors cannot order the top 10; with every list probed and 20 x 10 = 200 candidates
    # re-ranked on the full vectors, the refine stage must give the brute-force order.
    coarse = NoteIndex(x, IDS, factory="IVF4,PQ2x4,RFlat", nprobe=4)
    refined = NoteIndex(x, IDS, factory="IVF4,PQ2x4,RFlat", nprobe=4, k_factor=20)
    assert coarse.search(queries, 10)[1] != truth
    assert refined.search(queries, 10)[1] == truth
    refined.save(tmp_path / "idx")
    assert NoteIndex.load(tmp_path / "idx").search(queries, 10)[1] == truth  # k_factor is saved with the index
    with pytest.raises(ValueError, match="k_factor needs a refine stage"):
        NoteIndex(x, IDS, factory="IVF4,Flat", k_factor=4)
    with pytest.raises(ValueError, match="k_factor must be >= 1"):
        NoteIndex(x, IDS, factory="IVF4,PQ2x4,RFlat", k_factor=0.5)


def test_recommend_never_returns_the_query():
    x = unit_vectors(50)
    index = NoteIndex(x, IDS[:50])
    hits = index.recommend("n3", 5)
    expected = [j for j in np.argsort(-(x[3] @ x.T)) if j != 3][:5]
    assert [note_id for note_id, _ in hits] == [IDS[j] for j in expected]
    assert all(note_id != "n3" for note_id, _ in index.recommend("n3", 49))


@pytest.mark.parametrize("factory", ["Flat", "IVF4,Flat", "HNSW16,Flat"])
def test_save_load_round_trip_is_identical(tmp_path, factory):
    x = unit_vectors(100)
    index = NoteIndex(x, IDS[:100], factory=factory, nprobe=4)
    before = index.search(x[:7], 9)
    index.save(tmp_path / "idx")
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "idx").iterdir())
    for mmap in (False, True):
        loaded = NoteIndex.load(tmp_path / "idx", mmap=mmap)
        after = loaded.search(x[:7], 9)
        np.testing.assert_array_equal(after[0], before[0])
        assert after[1] == before[1] and loaded.recommend("n5", 3) == index.recommend("n5", 3)


def test_add_and_remove_where_the_index_allows():
    x = unit_vectors(60)
    index = NoteIndex(x[:50], IDS[:50])
    index.add(x[50:], IDS[50:60])
    assert len(index) == 60 and index.search(x[55:56], 1)[1] == [["n55"]]
    index.remove(["n55"])
    assert len(index) == 59 and "n55" not in index.search(x[55:56], 5)[1][0]
    hnsw = NoteIndex(x, IDS[:60], factory="HNSW16,Flat")
    with pytest.raises(ValueError, match="does not support removing"):
        hnsw.remove(["n1"])
    assert len(hnsw) == 60


def test_bad_input_is_rejected_clearly():
    x = unit_vectors(10)
    index = NoteIndex(x, IDS[:10])
    with pytest.raises(ValueError, match="between 1 and the pool size 10"):
        index.search(x[:1], 11)
    with pytest.raises(ValueError, match="note 'zzz' is not in the index"):
        index.recommend("zzz", 3)
    with pytest.raises(ValueError, match="8 dims, the index holds 16"):
        index.search(np.zeros((1, 8)), 3)
    bad = x.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf .first at row 4"):
        NoteIndex(bad, IDS[:10])
    with pytest.raises(ValueError, match="repeated"):
        NoteIndex(x[:2], ["a", "a"])
    with pytest.raises(ValueError, match="10 embeddings but 9 note ids"):
        NoteIndex(x, IDS[:9])


@pytest.mark.parametrize("factory", ["Flat", "IVF8,Flat"])
def test_index_from_shards_equals_one_built_in_memory(tmp_path, factory):
    import json

    x = unit_vectors(200)
    for shard, start in enumerate(range(0, 200, 64)):  # the layout `encode_to_shards` writes
        np.save(tmp_path / f"shard-{shard:05d}.npy", x[start : start + 64])
        (tmp_path / f"shard-{shard:05d}.ids.json").write_text(json.dumps(IDS[start : start + 64]))
    sharded = NoteIndex.from_shards(tmp_path, factory=factory, nprobe=8, train_size=150)
    assert sharded.note_ids == IDS
    queries = unit_vectors(5, seed=1)
    truth = np.argsort(-(queries @ x.T), axis=1)[:, :10]
    assert sharded.search(queries, 10)[1] == [[IDS[j] for j in row] for row in truth]
    (tmp_path / "shard-00001.ids.json").write_text(json.dumps(IDS[:3]))
    with pytest.raises(ValueError, match="shard-00001.npy: 64 embeddings but 3 note ids"):
        NoteIndex.from_shards(tmp_path)
