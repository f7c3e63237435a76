import numpy as np
import pytest

from notellm_hf import Note
from notellm_hf.retrieval.neighbour_hashtags import lendable_hashtags, neighbour_hashtags, pool_neighbour_hashtags

from conftest import brute_force_neighbour_tags


def test_each_neighbour_votes_its_cosine_for_each_of_its_tags():
    tags = {"a": ["x", "y"], "b": ["y", "z", "y"], "c": ["z", "w"], "d": ["v"]}
    # Votes by hand: x 0.9, y 0.9 + 0.5 = 1.4 (b's repeated y counts once), z 0.5 (c's negative cosine lends nothing,
    # so w is never lent); "e" is unknown and lends nothing.
    neighbours = [("b", 0.5), ("a", 0.9), ("c", -0.2), ("e", 0.8)]
    assert neighbour_hashtags(neighbours, tags, num_hashtags=3) == ["y", "x", "z"]
    assert neighbour_hashtags(neighbours, tags, num_hashtags=4) == ["y", "x", "z"]
    assert neighbour_hashtags(neighbours, tags, num_hashtags=1) == ["y"]
    # A tie goes to the nearer neighbour's tag, whatever order the neighbours come in.
    # Here x (0.6 from p) ties w (0.3 + 0.3 from q and r): x's neighbour is nearer.
    tied = {"p": ["x"], "q": ["w"], "r": ["w"]}
    assert neighbour_hashtags([("q", 0.3), ("r", 0.3), ("p", 0.6)], tied, num_hashtags=2) == ["x", "w"]
    assert neighbour_hashtags([], tags) == []
    with pytest.raises(ValueError, match="num_hashtags must be >= 1"):
        neighbour_hashtags(neighbours, tags, num_hashtags=0)


def test_pool_notes_borrow_the_tags_of_their_nearest_other_notes_as_counted_by_hand():
    rng = np.random.default_rng(0)
    ids = [f"n{i}" for i in range(30)]
    embeddings = rng.normal(size=(30, 8)).astype(np.float32)
    tags = {i: list(rng.choice(["a", "b", "c", "d", "e", "f"], size=rng.integers(0, 4), replace=False)) for i in ids}
    queries = ids[::3]
    for k in (1, 4, 10):
        got = pool_neighbour_hashtags(embeddings, ids, tags, queries, k=k)
        assert got == [brute_force_neighbour_tags(embeddings, ids, tags, q, k) for q in queries]
    # Leave-one-out: a tag only the query carries never comes back to it.
    alone = {**{i: ["shared"] for i in ids}, "n0": ["mine"]}
    assert pool_neighbour_hashtags(embeddings, ids, alone, ["n0"], k=29) == [["shared"]]
    # A k past the pool takes every other note.
    assert pool_neighbour_hashtags(embeddings, ids, tags, ["n1"], k=99) == [
        brute_force_neighbour_tags(embeddings, ids, tags, "n1", 29)
    ]


def test_pool_neighbours_reject_bad_input_by_name():
    ids, embeddings = ["a", "b", "c"], np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="one embedding row per pool note"):
        pool_neighbour_hashtags(embeddings[:2], ids, {}, ["a"])
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        pool_neighbour_hashtags(embeddings, ids, {}, ["a"], k=0)
    with pytest.raises(ValueError, match=r"1 query notes are not in the pool, e.g. \['z'\]"):
        pool_neighbour_hashtags(embeddings, ids, {}, ["a", "z"], k=1)


def test_only_listed_tags_are_lent_and_every_tag_without_a_list():
    notes = [Note("a", title="t", hashtags=("x", "y")), Note("b", title="t", hashtags=("z",))]
    assert lendable_hashtags(notes, ["y", "z"]) == {"a": ["y"], "b": ["z"]}
    assert lendable_hashtags(notes, None) == {"a": ["x", "y"], "b": ["z"]}
