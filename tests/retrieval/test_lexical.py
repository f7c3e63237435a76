import numpy as np
import pytest

from notellm_hf import Note
from notellm_hf.data.notes import note_text
from notellm_hf.retrieval.lexical import LexicalIndex, hybrid_scores, parse_lexical_weights

from conftest import TOY_NOTES, hand_tfidf

NOTES = [Note.from_any(n) for n in TOY_NOTES]


def test_pool_similarity_is_the_textbook_tfidf_cosine():
    vectors = hand_tfidf([note_text(n) for n in NOTES])
    index = LexicalIndex(NOTES)
    np.testing.assert_allclose(index.similarity(np.array([0, 3, 5])), vectors[[0, 3, 5]] @ vectors.T, atol=1e-6)
    # "pasta" and "pizza" share food and tomato; "pasta" and "guitar" share nothing.
    assert index.similarity(np.array([0]))[0, 1] > 0 == index.similarity(np.array([0]))[0, 4]


def test_new_notes_are_scored_against_the_pools_vocabulary():
    index = LexicalIndex(NOTES)
    fresh = [
        Note(
            note_id="n1",
            title="Quick pasta recipe",
            content="Boil pasta, add tomato.",
            hashtags=("food", "recipe", "pasta"),
        ),
        Note(note_id="n2", title="Zither lessons", content="Xylophone"),  # no word the pool holds
        Note(note_id="n3", title="Pasta with cheese"),
    ]
    texts = [note_text(n) for n in NOTES]
    expected = hand_tfidf([note_text(n) for n in fresh], vocabulary_texts=texts) @ hand_tfidf(texts).T
    got = index.similarity_to(fresh)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got[0, 0] == pytest.approx(1.0) and not got[1].any()


def test_hybrid_scores_are_the_convex_combination():
    dense, lexical = np.array([[0.9, -0.2, 0.1]]), np.array([[0.0, 1.0, 0.5]])
    np.testing.assert_allclose(hybrid_scores(dense, lexical, 0.25), [[0.675, 0.1, 0.2]])
    np.testing.assert_array_equal(hybrid_scores(dense, lexical, 0.0), dense)
    np.testing.assert_array_equal(hybrid_scores(dense, lexical, 1.0), lexical)
    for weight in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"the lexical weight must lie in \[0, 1\]"):
            hybrid_scores(dense, lexical, weight)


def test_notes_without_words_get_a_named_error():
    with pytest.raises(ValueError, match="at least one note"):
        LexicalIndex([])
    with pytest.raises(ValueError, match="the notes hold no words to index lexically"):
        LexicalIndex([Note(note_id="a", title="?"), Note(note_id="b", title="1 !")])


def test_lexical_weight_flags_parse_or_name_the_problem():
    assert parse_lexical_weights(["NoteLLM=0.5", "minilm finetuned=0,0.25,1"]) == {
        "NoteLLM": [0.5],
        "minilm finetuned": [0.0, 0.25, 1.0],
    }
    for specs, message in (
        (["NoteLLM=1.5"], "weights in \\[0, 1\\]"),
        (["NoteLLM=high"], "expected ROW=WEIGHT"),
        (["=0.5"], "no row name before ="),
        (["a=0.1", "a=0.2"], "a row named twice"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_lexical_weights(specs)
