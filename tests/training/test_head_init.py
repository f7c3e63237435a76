import numpy as np
import pytest
import torch

from notellm_hf import Note
from notellm_hf.training.head_init import (
    init_embedding_head,
    init_embedding_head_from_pairs,
    pair_canonical_head,
    principal_head,
)

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


def scipy_pair_head(anchors, positives, dim, shrinkage, power):
    """The pair head by the textbook route: scipy's generalized symmetric eigensolver on (S, C) (eigenvectors with
    v' C v = 1), top ``dim`` scaled by eigenvalue ** power, the mean direction out, rows rescaled to mean norm 1."""
    from scipy.linalg import eigh

    mean = np.concatenate([anchors, positives]).mean(0)
    a, b = anchors - mean, positives - mean
    covariance = (a.T @ a + b.T @ b) / (2 * len(a))
    covariance = (1 - shrinkage) * covariance + shrinkage * np.trace(covariance) / len(covariance) * np.eye(len(mean))
    values, vectors = eigh((a.T @ b + b.T @ a) / (2 * len(a)), covariance)
    rows = (vectors[:, ::-1][:, :dim] * np.clip(values[::-1][:dim], 0, None) ** power).T
    unit = mean / np.linalg.norm(mean)
    rows = rows - np.outer(rows @ unit, unit)
    return rows / np.linalg.norm(rows, axis=1).mean()


@pytest.mark.parametrize(("shrinkage", "power"), [(0.0, 0.0), (0.6, 0.5), (0.3, 1.0)])
def test_pair_head_solves_the_generalised_eigenproblem(shrinkage, power):
    generator = np.random.default_rng(0)
    anchors = generator.normal(size=(60, 8)) + 3.0
    positives = anchors @ generator.normal(size=(8, 8)) * 0.3 + generator.normal(size=(60, 8))
    weight = pair_canonical_head(torch.tensor(anchors), torch.tensor(positives), 3, shrinkage, power).numpy()
    expected = scipy_pair_head(anchors, positives, 3, shrinkage, power)
    assert np.allclose(np.abs(weight), np.abs(expected), atol=1e-8)
    assert np.isclose(np.linalg.norm(weight, axis=1).mean(), 1.0)


def test_pair_head_finds_the_direction_pairs_share_where_pca_finds_the_loudest():
    # Pairs agree only along e0 (variance 1); e1..e3 are independent per note and 9x as loud; e4 carries a constant
    # offset every note shares (the mean direction the head must map to 0).
    generator = np.random.default_rng(1)
    shared = generator.normal(size=(400, 1))
    anchors, positives = (
        np.hstack([shared, 3 * generator.normal(size=(400, 3)), np.full((400, 1), 10.0)]) for _ in "ab"
    )
    weight = pair_canonical_head(torch.tensor(anchors), torch.tensor(positives), 1, shrinkage=0.0).numpy()[0]
    pca = principal_head(torch.tensor(np.concatenate([anchors, positives])), 1, whiten=False).numpy()[0]
    assert abs(weight[0]) / np.linalg.norm(weight) > 0.99
    assert abs(pca[0]) / np.linalg.norm(pca) < 0.2
    mean = np.concatenate([anchors, positives]).mean(0)
    assert abs(weight @ mean) < 1e-9 * np.linalg.norm(mean)


def test_init_from_pairs_fits_the_models_own_readout_states():
    model, tokenizer = make_model("llama", embedding_dim=3)
    anchors, positives = TOY_NOTES[:4], TOY_NOTES[4:]
    weight = init_embedding_head_from_pairs(model, tokenizer, anchors, positives, batch_size=3).double().numpy()
    states = [np.stack([readout_by_hand(model, tokenizer, n) for n in side]) for side in (anchors, positives)]
    expected = scipy_pair_head(*states, 3, 0.6, 0.5)
    assert np.allclose(np.abs(weight), np.abs(expected), atol=1e-4 * np.abs(expected).max())
    assert np.allclose(model.embedding_head.weight.detach().double().numpy(), weight)


def test_pair_head_bad_inputs_are_named_errors():
    states = torch.randn(5, 8)
    with pytest.raises(ValueError, match="more than embedding_dim = 5 pairs, got 5"):
        pair_canonical_head(states, states, 5)
    with pytest.raises(ValueError, match="5 anchor states but 4 positive states"):
        pair_canonical_head(states, states[:4], 2)
    with pytest.raises(ValueError, match=r"shrinkage must be in \[0, 1\], got 1.5"):
        pair_canonical_head(states, states, 2, shrinkage=1.5)
