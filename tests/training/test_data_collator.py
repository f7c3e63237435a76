import pytest
import torch

from notellm_hf import Note, NoteCompressionPrompt, NoteLLMCollator, note_key

from conftest import TOY_NOTES, TOY_NOTES_BY_ID, build_tokenizer


def tokenizer_with_emb():
    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"extra_special_tokens": ["[EMB]"]})
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def pairs(*ids):
    return [{"anchor": TOY_NOTES_BY_ID[a], "positive": TOY_NOTES_BY_ID[b]} for a, b in ids]


def test_rows_are_anchors_then_positives_with_output_only_labels():
    tokenizer = tokenizer_with_emb()
    batch = NoteLLMCollator(tokenizer, hashtag_ratio=0.0)(pairs(("pasta", "pizza"), ("hike", "beach")))
    assert batch["input_ids"].shape[0] == 4
    expected = [note_key(i) for i in ("pasta", "hike", "pizza", "beach")]
    assert batch["note_keys"].tolist() == expected
    emb_id = tokenizer.convert_tokens_to_ids("[EMB]")
    for row, note_id in enumerate(("pasta", "hike", "pizza", "beach")):
        ids, labels, mask = batch["input_ids"][row], batch["labels"][row], batch["attention_mask"][row]
        real = ids[mask.bool()].tolist()
        assert real.count(emb_id) == 1
        labelled = labels[labels != -100].tolist()
        category = TOY_NOTES_BY_ID[note_id]["category"]
        assert labelled == tokenizer(" " + category, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        # Labels sit on the last real tokens: the output follows the guidance directly.
        assert real[-len(labelled) :] == labelled
        assert tokenizer.decode(real[: -len(labelled)]).endswith("The category is:")
        assert (labels[~mask.bool()] == -100).all()


def test_hashtag_ratio_is_honoured_over_many_batches():
    tokenizer = tokenizer_with_emb()
    collator = NoteLLMCollator(tokenizer, hashtag_ratio=0.4, seed=1)
    hashtag_rows = total = 0
    for _ in range(60):
        batch = collator(pairs(("pasta", "pizza"), ("guitar", "piano"), ("run", "swim")))
        for ids in batch["input_ids"].tolist():
            text = tokenizer.decode(ids)
            hashtag_rows += "topics are:" in text
            total += 1
    assert abs(hashtag_rows / total - 0.4) < 0.06, hashtag_rows / total


def test_notes_without_hashtags_fall_back_to_category():
    tokenizer = tokenizer_with_emb()
    plain = [{"anchor": {"note_id": "a", "title": "x", "category": "Food"}, "positive": {"note_id": "b", "title": "y"}}]
    batch = NoteLLMCollator(tokenizer, hashtag_ratio=1.0)(plain)
    assert all("The category is:" in tokenizer.decode(ids) for ids in batch["input_ids"].tolist())


def test_bad_batches_are_rejected():
    tokenizer = tokenizer_with_emb()
    collator = NoteLLMCollator(tokenizer)
    with pytest.raises(ValueError, match="empty batch"):
        collator([])
    with pytest.raises(ValueError, match="both sides are note 'pasta'"):
        collator(pairs(("pasta", "pasta")))
    with pytest.raises(ValueError, match="pair 0: expected a mapping"):
        collator([{"a": 1}])
    with pytest.raises(ValueError, match="'title' must be a string"):
        collator([{"anchor": {"note_id": "q", "title": 3}, "positive": TOY_NOTES_BY_ID["pasta"]}])
    with pytest.raises(ValueError, match="hashtag_ratio"):
        NoteLLMCollator(tokenizer, hashtag_ratio=1.5)


def test_note_records_and_zh_prompt_are_accepted():
    tokenizer = tokenizer_with_emb()
    collator = NoteLLMCollator(tokenizer, prompt=NoteCompressionPrompt("zh"), hashtag_ratio=0.0)
    batch = collator([{"anchor": Note("a", title="旅行"), "positive": Note("b", title="美食 🍜")}])
    assert "生成笔记类目" in tokenizer.decode(batch["input_ids"][0])
    assert batch["labels"].eq(-100).all()  # no categories -> nothing to generate


def test_pairs_of_note_ids_are_looked_up_in_the_note_table():
    tokenizer = tokenizer_with_emb()
    table = {n["note_id"]: Note.from_any(n) for n in TOY_NOTES}
    collator = NoteLLMCollator(tokenizer, hashtag_ratio=0.0, notes=table)
    by_id = collator([{"anchor": "pasta", "positive": "pizza"}])
    by_record = NoteLLMCollator(tokenizer, hashtag_ratio=0.0)(pairs(("pasta", "pizza")))
    assert torch.equal(by_id["input_ids"], by_record["input_ids"])
    with pytest.raises(ValueError, match="pair 0: note 'nope' is not in the note table"):
        collator([{"anchor": "pasta", "positive": "nope"}])


def test_anchor_categories_come_from_records_and_the_note_table():
    tokenizer = tokenizer_with_emb()
    table = {n["note_id"]: Note.from_any(n) for n in TOY_NOTES}
    by_id = NoteLLMCollator(tokenizer, notes=table).anchor_categories(
        [{"anchor": "hike", "positive": "beach"}, {"anchor": "run", "positive": "swim"}]
    )
    assert by_id == ["Travel", "Sports"]
    assert NoteLLMCollator(tokenizer).anchor_categories(pairs(("guitar", "piano"))) == ["Music"]
    with pytest.raises(ValueError, match="pair 0: note 'nope' is not in the note table"):
        NoteLLMCollator(tokenizer, notes=table).anchor_categories([{"anchor": "nope", "positive": "swim"}])


def test_pair_lengths_are_the_longer_category_prompt_of_each_pair():
    tokenizer = tokenizer_with_emb()
    collator = NoteLLMCollator(tokenizer, hashtag_ratio=0.0)
    features = pairs(("pasta", "pizza"), ("hike", "beach"), ("guitar", "piano"))
    batch = collator(features)
    rows = batch["attention_mask"].sum(1).tolist()  # real tokens of each rendered row (category prompts)
    expected = [max(rows[i], rows[i + len(features)]) for i in range(len(features))]
    assert collator.pair_lengths(features) == expected
    assert len(set(expected)) > 1  # the toy notes differ in length, so the check can tell pairs apart


def test_hard_negatives_follow_the_pairs_and_are_validated():
    tokenizer = build_tokenizer()
    tokenizer.pad_token = tokenizer.eos_token
    collator = NoteLLMCollator(tokenizer, notes={k: Note.from_any(v) for k, v in TOY_NOTES_BY_ID.items()})
    features = [
        {"anchor": "pasta", "positive": "pizza", "negatives": ["hike", "guitar"]},
        {"anchor": "run", "positive": "swim", "negatives": ["beach"]},
    ]
    batch = collator(features)
    order = ["pasta", "run", "pizza", "swim", "hike", "guitar", "beach"]
    assert batch["note_keys"].tolist() == [note_key(i) for i in order] and int(batch["query_rows"]) == 4
    assert "query_rows" not in collator([{"anchor": "pasta", "positive": "pizza"}])
    with pytest.raises(ValueError, match="pair 0: hard negative 'pizza' is the pair's own anchor or positive"):
        collator([{"anchor": "pasta", "positive": "pizza", "negatives": ["pizza"]}])
    with pytest.raises(ValueError, match="pair 0: note 'nope' is not in the note table"):
        collator([{"anchor": "pasta", "positive": "pizza", "negatives": ["nope"]}])
