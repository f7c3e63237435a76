import math

import pytest
import torch

from notellm_hf import Note
from notellm_hf.models.notellm.processing_notellm import PRESETS
from notellm_hf.training import fit_lexical_block
from notellm_hf.training.lexical_block import token_idf

from conftest import TOY_NOTES, make_model


def hand_idf(tokenizer, prompt, notes=TOY_NOTES) -> dict[int, float]:
    """IDF counted note by note with Python sets, the template's own words set to 0."""
    documents = [set(prompt.embedding_input_ids(tokenizer, Note.from_any(note))) for note in notes]
    template = PRESETS["en"]
    words = [template.category_template.format(note="", emb="[EMB]")]
    words += [template.hashtag_template.format(note="", emb="[EMB]", j=j) for j in (1, 2, 3)]
    own = {t for text in words for t in tokenizer(text, add_special_tokens=False)["input_ids"]}
    vocabulary = set().union(*documents)
    return {
        token: 0.0 if token in own else math.log(len(documents) / sum(token in d for d in documents))
        for token in vocabulary
    }


def test_idf_counts_documents_and_gives_the_prompts_own_words_nothing():
    model, tokenizer = make_model("llama", lexical_block_weight=0.3)
    # Words of the hashtag prompt alone ("topics", the number asked for) in one note's text: still template words.
    notes = [*TOY_NOTES, {"note_id": "words", "title": "Two topics", "content": "The 2 topics are: 3"}]
    idf = token_idf(model, tokenizer, notes)
    expected = hand_idf(tokenizer, model.note_prompt, notes)
    topics = tokenizer(" topics", add_special_tokens=False)["input_ids"]
    assert all(token in expected and expected[token] == 0 for token in topics)
    for token, value in expected.items():
        assert idf[token].item() == pytest.approx(value, abs=1e-6)
    unseen = sorted(set(range(len(idf))) - set(expected))
    assert (idf[unseen] == 0).all()
    emb = tokenizer.convert_tokens_to_ids("[EMB]")
    assert idf[emb] == 0  # in every note


def test_the_lexical_block_is_the_standardised_idf_weighted_mean_of_token_embeddings():
    weight = 0.3
    model, tokenizer = make_model("llama", lexical_block_weight=weight)
    fit_lexical_block(model, tokenizer, TOY_NOTES)
    idf = hand_idf(tokenizer, model.note_prompt)
    table = model.get_input_embeddings().weight.detach().double()
    means = []
    for note in TOY_NOTES:
        ids = model.note_prompt.embedding_input_ids(tokenizer, Note.from_any(note))[:-1]  # before [EMB]
        weights = torch.tensor([idf[t] for t in ids], dtype=torch.float64)
        means.append((weights[:, None] * table[ids]).sum(0) / weights.sum())
    means = torch.stack(means)
    standardised = (means - means.mean(0)) / means.std(0)
    expected = torch.nn.functional.normalize(standardised, dim=-1) * weight**0.5
    embeddings = model.encode_notes(tokenizer, TOY_NOTES).double()
    torch.testing.assert_close(embeddings[:, model.config.embedding_dim :], expected, atol=1e-5, rtol=1e-4)


def test_the_head_part_is_the_plain_models_embedding_and_the_cosine_mixes_both():
    weight = 0.25
    model, tokenizer = make_model("llama", lexical_block_weight=weight)
    fit_lexical_block(model, tokenizer, TOY_NOTES)
    plain, _ = make_model("llama")
    plain.load_state_dict(model.state_dict(), strict=False)
    head = plain.encode_notes(tokenizer, TOY_NOTES)
    embeddings = model.encode_notes(tokenizer, TOY_NOTES)
    dim = model.config.embedding_dim
    assert embeddings.shape == (len(TOY_NOTES), dim + model.config.text_config.hidden_size)
    torch.testing.assert_close(embeddings[:, :dim], head * (1 - weight) ** 0.5, atol=1e-5, rtol=1e-4)
    lexical = embeddings[:, dim:] / weight**0.5
    mixed = (1 - weight) * head @ head.T + weight * lexical @ lexical.T
    torch.testing.assert_close(embeddings @ embeddings.T, mixed, atol=1e-5, rtol=1e-4)


def test_the_prompt_prefix_cache_batches_and_padding_leave_the_block_unchanged():
    model, tokenizer = make_model("llama", lexical_block_weight=0.3)
    fit_lexical_block(model, tokenizer, TOY_NOTES)
    cached = model.encode_notes(tokenizer, TOY_NOTES, batch_size=3)
    whole = model.encode_notes(tokenizer, TOY_NOTES, batch_size=1, reuse_prefix=False)
    torch.testing.assert_close(cached, whole, atol=1e-5, rtol=1e-4)


def test_a_saved_model_keeps_its_fitted_block(tmp_path):
    from transformers import AutoModel

    model, tokenizer = make_model("llama", lexical_block_weight=0.3)
    fit_lexical_block(model, tokenizer, TOY_NOTES)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoModel.from_pretrained(tmp_path, trust_remote_code=True)
    torch.testing.assert_close(reloaded.encode_notes(tokenizer, TOY_NOTES), model.encode_notes(tokenizer, TOY_NOTES))


def test_an_unfitted_block_and_bad_settings_are_named():
    model, tokenizer = make_model("llama", lexical_block_weight=0.3)
    with pytest.raises(ValueError, match="lexical block is not fitted"):
        model.encode_notes(tokenizer, TOY_NOTES[:2])
    with pytest.raises(ValueError, match="at least 2 training notes"):
        fit_lexical_block(model, tokenizer, TOY_NOTES[:1])
    plain, _ = make_model("llama")
    with pytest.raises(ValueError, match="no lexical block"):
        fit_lexical_block(plain, tokenizer, TOY_NOTES)
    for settings in ({"lexical_block_weight": -0.1}, {"lexical_block_weight": 1.0}):
        with pytest.raises(ValueError, match=r"lexical_block_weight must be in \[0, 1\)"):
            make_model("llama", **settings)
    with pytest.raises(ValueError, match="center_embeddings=False"):
        make_model("llama", lexical_block_weight=0.3, center_embeddings=True)
