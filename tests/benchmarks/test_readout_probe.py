"""benchmarks/readout_probe.py: the mean state it fuses with the embedding is the mean of the last-layer states of the
tokens before [EMB], computed here by hand, and probing leaves the model's own read-out as it was."""

import importlib.util
import sys
from pathlib import Path

import torch

from conftest import TOY_NOTES, make_model

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the script imports its neighbours (common, lexical_strata)
spec = importlib.util.spec_from_file_location("readout_probe", BENCHMARKS / "readout_probe.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)


def test_mean_states_average_the_last_layer_states_before_emb_and_keep_the_readout():
    model, tokenizer = make_model("llama")
    model.eval()
    emb_id = tokenizer.convert_tokens_to_ids("[EMB]")
    expected = []
    with torch.no_grad():
        for note in TOY_NOTES:
            ids = model.tokenize_notes(tokenizer, [note])["input_ids"]
            hidden = model.language_model(ids, output_hidden_states=True).hidden_states[-1][0]
            emb_at = ids[0].tolist().index(emb_id)
            expected.append(hidden[:emb_at].mean(dim=0))
    got = module.mean_states(model, tokenizer, TOY_NOTES)
    torch.testing.assert_close(got, torch.stack(expected).float(), atol=1e-5, rtol=1e-5)
    assert model.config.readout == "before_emb"
    # the read-out state before [EMB] differs from the mean: the probe did not score the same vector twice
    assert not torch.allclose(module.readout_states(model, tokenizer, TOY_NOTES), got, atol=1e-3)
