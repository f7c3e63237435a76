"""benchmarks/readout_probe.py: the states it fuses with the embedding and its IDF weights, checked against values
worked out here by hand (one note at a time, no padding): the plain and IDF-weighted means over the tokens before
[EMB] at each asked-for layer, the read-out state, and log(n / document frequency)."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from notellm_hf.training.head_init import readout_states

from conftest import TOY_NOTES, make_model

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the script imports its neighbours (common, lexical_strata)
spec = importlib.util.spec_from_file_location("readout_probe", BENCHMARKS / "readout_probe.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)


def test_layer_means_and_the_readout_state_match_states_computed_note_by_note():
    model, tokenizer = make_model("llama")
    model.eval()
    emb_id = tokenizer.convert_tokens_to_ids("[EMB]")
    layers = [1, model.config.text_config.num_hidden_layers]  # a middle layer's output and the normed last one
    expected = {layer: [] for layer in layers}
    with torch.no_grad():
        for note in TOY_NOTES:
            ids = model.tokenize_notes(tokenizer, [note])["input_ids"]
            hidden = model.language_model(ids, output_hidden_states=True).hidden_states
            emb_at = ids[0].tolist().index(emb_id)
            for layer in layers:
                expected[layer].append(hidden[layer][0, :emb_at].mean(dim=0))
    # batches of 2 mix lengths, so padding is exercised
    states, means = module.token_states(model, tokenizer, TOY_NOTES, layers, batch_size=2)
    for layer in layers:
        torch.testing.assert_close(means["mean", layer], torch.stack(expected[layer]).float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(states, readout_states(model, tokenizer, TOY_NOTES), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(means["mean", layers[0]], means["mean", layers[1]], atol=1e-3)


def test_idf_weighs_out_the_prompt_and_weights_the_mean_by_token():
    model, tokenizer = make_model("llama")
    model.eval()
    emb_id = tokenizer.convert_tokens_to_ids("[EMB]")
    sequences = [model.note_prompt.embedding_input_ids(tokenizer, module.Note.from_any(n)) for n in TOY_NOTES]
    idf = module.token_idf(model, tokenizer, TOY_NOTES)
    for token in set(sequences[0]):  # by hand: log(n / the number of notes holding the token)
        holding = sum(token in sequence for sequence in sequences)
        assert idf[token].item() == pytest.approx(math.log(len(TOY_NOTES) / holding))
    assert idf[emb_id] == 0 and idf[sequences[0][0]] == 0  # in every prompt
    _, means = module.token_states(model, tokenizer, TOY_NOTES, [1], idf, batch_size=2)
    with torch.no_grad():
        ids = model.tokenize_notes(tokenizer, [TOY_NOTES[0]])["input_ids"]
        hidden = model.language_model(ids, output_hidden_states=True).hidden_states[1][0]
        before = ids[0, : ids[0].tolist().index(emb_id)]
        weights = idf[before]
        expected = (weights[:, None] * hidden[: len(before)]).sum(dim=0) / weights.sum()
    torch.testing.assert_close(means["weighted mean", 1][0], expected, atol=1e-5, rtol=1e-5)


def test_standardised_states_have_zero_mean_and_unit_spread_per_dimension():
    states = torch.tensor([[1.0, 100.0], [3.0, 300.0], [5.0, 200.0]])
    # by hand: means 3 and 200, sample standard deviations 2 and 100
    expected = torch.tensor([[-1.0, -1.0], [0.0, 1.0], [1.0, 0.0]])
    torch.testing.assert_close(module.standardised(states), expected)


def test_bags_weigh_each_count_by_its_idf_and_sublinear_bags_take_one_plus_the_log_count():
    idf = torch.tensor([0.0, 1.0, 2.0, 0.5])
    sequences = [[1, 1, 2], [2, 3]]
    # by hand: note 0 holds token 1 twice (2 x 1.0) and token 2 once (1 x 2.0); note 1 tokens 2 and 3 once
    plain = module.bag_rows(sequences, idf)
    assert plain[0] == pytest.approx([0, 2 / math.sqrt(8), 2 / math.sqrt(8), 0], abs=1e-6)
    assert plain[1] == pytest.approx([0, 0, 2 / math.sqrt(4.25), 0.5 / math.sqrt(4.25)], abs=1e-6)
    sublinear = module.bag_rows(sequences, idf, sublinear=True)
    first = 1 + math.log(2)  # (1 + log 2) x 1.0 for token 1
    assert sublinear[0] == pytest.approx([0, first / math.hypot(first, 2), 2 / math.hypot(first, 2), 0], abs=1e-6)
    assert sublinear[1] == pytest.approx(plain[1], abs=1e-6)  # counts of 1 are left as they are
