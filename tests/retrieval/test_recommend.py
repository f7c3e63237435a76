import json

import numpy as np
import pytest

from notellm_hf import Note, NoteIndex
from notellm_hf.data.notes import note_text
from notellm_hf.retrieval.recommend import recommend

from conftest import TOY_NOTES, hand_lent_tags, hand_tfidf, saved_model

NEW_NOTE = {"note_id": "new", "title": "Fresh pasta at home", "content": "flour, eggs and a rolling pin"}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A tiny NoteLLM, the toy notes as a catalog file and an index of their embeddings."""
    root = tmp_path_factory.mktemp("recommend")
    folder, model, tokenizer = saved_model(root / "model")
    embeddings = model.encode_notes(tokenizer, TOY_NOTES).numpy()
    ids = [note["note_id"] for note in TOY_NOTES]
    NoteIndex(embeddings, ids).save(root / "index")
    (root / "notes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in TOY_NOTES))
    (root / "new.jsonl").write_text(json.dumps(NEW_NOTE) + "\n")
    return root, model, tokenizer, embeddings, ids


def brute_force(query: np.ndarray, embeddings: np.ndarray, ids: list[str], k: int, skip: str | None = None):
    order = [i for i in np.argsort(-(embeddings @ query), kind="stable") if ids[i] != skip]
    return [ids[i] for i in order[:k]]


def test_indexed_note_gets_its_nearest_notes_with_titles_and_never_itself(indexed):
    root, _, _, embeddings, ids = indexed
    records = recommend(root / "index", note_ids=["pasta"], catalog=root / "notes.jsonl", k=3)
    related = records[0]["related"]
    assert [hit["note_id"] for hit in related] == brute_force(embeddings[0], embeddings, ids, 3, skip="pasta")
    titles = {note["note_id"]: note["title"] for note in TOY_NOTES}
    assert [hit["title"] for hit in related] == [titles[hit["note_id"]] for hit in related]
    np.testing.assert_allclose(
        [hit["score"] for hit in related], sorted(embeddings @ embeddings[0])[-2:-5:-1], atol=1e-5
    )


def test_new_note_is_embedded_and_searched_with_generated_fields(indexed):
    root, model, tokenizer, embeddings, ids = indexed
    records = recommend(
        root / "index",
        new_notes=root / "new.jsonl",
        model=root / "model",
        catalog=root / "notes.jsonl",
        k=4,
        generate=True,
        precision="fp32",  # the brute-force reference below is fp32
    )
    query = model.encode_notes(tokenizer, [NEW_NOTE]).numpy()[0]
    assert [hit["note_id"] for hit in records[0]["related"]] == brute_force(query, embeddings, ids, 4)
    categories = {note["category"] for note in TOY_NOTES if note.get("category")}
    assert records[0]["category"] in categories and isinstance(records[0]["hashtags"], list)
    # The lent tags, counted by hand: each related note votes its score for each of its catalog tags.
    hits = [(hit["note_id"], hit["score"]) for hit in records[0]["related"]]
    tags = {note["note_id"]: note.get("hashtags") or [] for note in TOY_NOTES}
    assert records[0]["neighbour_hashtags"] == hand_lent_tags(hits, tags)


def test_hybrid_ranking_is_the_fused_brute_force_ranking(indexed):
    root, model, tokenizer, embeddings, ids = indexed
    texts = [note_text(Note.from_any(note)) for note in TOY_NOTES]
    vectors = hand_tfidf(texts)
    records = recommend(
        root / "index", note_ids=["pasta", "run"], catalog=root / "notes.jsonl", k=5, lexical_weight=0.6
    )
    for record in records:
        row = ids.index(record["note_id"])
        fused = 0.4 * embeddings @ embeddings[row] + 0.6 * vectors @ vectors[row]
        order = [i for i in np.argsort(-fused, kind="stable") if i != row][:5]
        assert [hit["note_id"] for hit in record["related"]] == [ids[i] for i in order]
        np.testing.assert_allclose([hit["score"] for hit in record["related"]], fused[order], atol=1e-5)
    fresh = recommend(
        root / "index",
        new_notes=root / "new.jsonl",
        model=root / "model",
        catalog=root / "notes.jsonl",
        k=4,
        precision="fp32",
        lexical_weight=0.6,
    )
    query = model.encode_notes(tokenizer, [NEW_NOTE]).numpy()[0]
    lexical = hand_tfidf([note_text(Note.from_any(NEW_NOTE))], vocabulary_texts=texts) @ vectors.T
    fused = 0.4 * embeddings @ query + 0.6 * lexical[0]
    assert [hit["note_id"] for hit in fresh[0]["related"]] == [ids[i] for i in np.argsort(-fused, kind="stable")[:4]]
    # The weight moves the ranking: the encoder alone ranks differently here.
    assert (
        records[0]["related"]
        != recommend(root / "index", note_ids=["pasta"], catalog=root / "notes.jsonl", k=5)[0]["related"]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"note_ids": ["nowhere"]}, "note 'nowhere' is not in the index"),
        ({"new_notes": "new.jsonl"}, "need --model"),
        ({"note_ids": ["pasta"], "model": "model", "generate": True}, "note 'pasta' is not in the catalog"),
        ({}, "nothing to recommend for"),
        ({"note_ids": ["pasta"], "lexical_weight": 0.5}, "give --catalog"),
        ({"note_ids": ["pasta"], "catalog": "notes.jsonl", "lexical_weight": 1.5}, r"must lie in \[0, 1\]"),
        ({"note_ids": ["pasta"], "catalog": "few.jsonl", "lexical_weight": 0.5}, "8 are not in the catalog"),
    ],
)
def test_bad_queries_are_named_errors(indexed, kwargs, message):
    root = indexed[0]
    (root / "few.jsonl").write_text(json.dumps(NEW_NOTE) + "\n")  # a catalog without the indexed notes
    paths = ("new_notes", "model", "catalog")
    kwargs = {key: root / value if key in paths else value for key, value in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        recommend(root / "index", **kwargs)
