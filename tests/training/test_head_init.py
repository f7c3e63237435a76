import numpy as np
import pytest
import torch

from notellm_hf import Note
from notellm_hf.training.head_init import init_embedding_head

from conftest import TOY_NOTES, make_model


def readout_by_hand(model, tokenizer, note):
    """The decoder's last hidden state at the token before [EMB], one note at a time, no padding."""
    ids = model.note_prompt.embedding_input_ids(tokenizer, Note.from_any(note))
    with torch.no_grad():
        hidden = model.language_model.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0]
    return hidden[ids.index(model.config.emb_token_id) - 1].double().numpy()


@pytest.mark.parametrize("whiten", [False, True])
def test_head_spans_the_top_principal_directions_orthogonal_to_the_mean(whiten):
    model, tokenizer = make_model("llama", embedding_dim=4)
    notes = TOY_NOTES * 2 + [{**n, "note_id": n["note_id"] + "-b", "title": n["content"]} for n in TOY_NOTES]
    weight = init_embedding_head(model, tokenizer, notes, batch_size=5, whiten=whiten).double().numpy()
    states = np.stack([readout_by_hand(model, tokenizer, n) for n in notes])
    mean = states.mean(0)
    _, singular, vt = np.linalg.svd(states - mean, full_matrices=False)
    top = vt[:4]
    # The head's rows lie in the top-4 principal subspace, with the shared mean direction removed.
    unit = mean / np.linalg.norm(mean)
    expected = top - np.outer(top @ unit, unit)
    if whiten:
        expected = expected / (singular[:4, None] / np.sqrt(len(notes) - 1))
    assert np.allclose(np.abs(weight), np.abs(expected), atol=1e-4 * np.abs(expected).max())
    assert np.abs(weight @ unit).max() < 1e-6 * np.abs(weight).max()


def test_too_few_notes_is_a_named_error():
    model, tokenizer = make_model("llama", embedding_dim=16)
    with pytest.raises(ValueError, match="more than embedding_dim = 16 notes"):
        init_embedding_head(model, tokenizer, TOY_NOTES)
