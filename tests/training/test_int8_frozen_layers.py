import pytest
import torch
from torch import nn

from notellm_hf import NoteLLMTrainer
from notellm_hf.training.int8_frozen_layers import FLOAT_LINEARS, int8_bottom_copy
from notellm_hf.training.partial_finetuning import FrozenPrefixCache, freeze_bottom_layers

from conftest import forward_calls, make_model, pair_dataset, tiny_training_args, toy_pair_batch


def float_states_alone(decoder, rows, cut):
    """Each row's output of layers 0..cut-1, computed alone (no padding) by the float decoder."""
    with torch.no_grad():
        return [decoder(input_ids=torch.tensor([row]), output_hidden_states=True).hidden_states[cut][0] for row in rows]


def real_rows(inputs):
    return [ids[mask.bool()].tolist() for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"], strict=True)]


def relative_error(approximate, exact):
    return float((approximate - exact).norm() / exact.norm())


def test_copy_approximates_the_float_bottom_and_leaves_the_model_alone():
    model, tokenizer = make_model("llama", num_layers=3)
    decoder = model.language_model.model
    before = {name: value.clone() for name, value in decoder.state_dict().items()}
    inputs = toy_pair_batch(model, tokenizer)
    rows = real_rows(inputs)
    bottom = int8_bottom_copy(decoder, 2, rows, tokenizer.pad_token_id)

    assert len(bottom.layers) == 2 and isinstance(bottom.norm, nn.Identity)
    quantized = torch.ao.nn.quantized.dynamic.Linear
    for name, module in bottom.named_modules():
        if name.endswith(("_proj",)):
            assert isinstance(module, nn.Linear if name.endswith(FLOAT_LINEARS) else quantized), name
    assert len(decoder.layers) == 3 and not isinstance(decoder.norm, nn.Identity)
    after = decoder.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[name], value) for name, value in before.items())  # smoothing touched the copy only

    expected = float_states_alone(decoder, rows, 2)
    with torch.no_grad():
        states = bottom(input_ids=torch.tensor([rows[0]])).last_hidden_state[0]
    error = relative_error(states, expected[0])
    assert 0 < error < 0.05  # int8, so not exact; smoothed, so close


def test_cache_serves_the_int8_states_and_the_float_bottom_never_runs():
    model, tokenizer = make_model("llama", num_layers=3)
    cut = freeze_bottom_layers(model, 1)
    inputs = toy_pair_batch(model, tokenizer)
    reference = model(**inputs).embeddings.detach()
    cache = FrozenPrefixCache(model, cut, max_bytes=0, int8=True)  # nothing stored: every call computes
    cache.prefix(inputs["input_ids"][:1], inputs["attention_mask"][:1])  # builds the int8 copy
    float_bottom_calls = forward_calls(model.language_model.model.layers[0].mlp)  # after the copy: not copied
    with cache.applied(inputs["input_ids"], inputs["attention_mask"]):
        embeddings = model(**inputs).embeddings
    assert float_bottom_calls == []
    # The replayed prefix is the int8 copy's states, row by row as each row computes alone.
    expected = float_states_alone(model.language_model.model, real_rows(inputs), cut)
    prefix = cache.prefix(inputs["input_ids"], inputs["attention_mask"])
    for row, (states, mask) in enumerate(zip(prefix, inputs["attention_mask"].bool(), strict=True)):
        assert 0 < relative_error(states[mask], expected[row]) < 0.05, row
    cosine = torch.nn.functional.cosine_similarity(embeddings.detach(), reference, dim=-1)
    assert bool((cosine > 0.99).all())


def test_int8_prefix_under_bf16_autocast_is_computed_in_fp32():
    model, tokenizer = make_model("llama", num_layers=3)
    cache = FrozenPrefixCache(model, freeze_bottom_layers(model, 1), int8=True)
    inputs = toy_pair_batch(model, tokenizer)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prefix = cache.prefix(inputs["input_ids"], inputs["attention_mask"])
    plain = FrozenPrefixCache(model, cache.cut, int8=True).prefix(inputs["input_ids"], inputs["attention_mask"])
    assert prefix.dtype == torch.float32
    torch.testing.assert_close(prefix, plain)


def test_copy_is_rebuilt_when_a_frozen_weight_changes():
    model, tokenizer = make_model("llama", num_layers=3)
    cache = FrozenPrefixCache(model, freeze_bottom_layers(model, 1), int8=True)
    inputs = toy_pair_batch(model, tokenizer)
    first = cache.prefix(inputs["input_ids"], inputs["attention_mask"])
    with torch.no_grad():
        model.language_model.model.layers[0].mlp.up_proj.weight.mul_(3.0)
    second = cache.prefix(inputs["input_ids"], inputs["attention_mask"])
    expected = float_states_alone(model.language_model.model, real_rows(inputs), cache.cut)
    mask = inputs["attention_mask"][0].bool()
    assert not torch.allclose(first, second, atol=1e-4)
    assert relative_error(second[0][mask], expected[0]) < 0.05


def test_trainer_trains_the_top_layers_on_the_int8_bottom(tmp_path):
    model, tokenizer = make_model("llama", num_layers=3)
    frozen_before = model.language_model.model.layers[0].mlp.up_proj.weight.detach().clone()
    top_before = model.language_model.model.layers[2].mlp.up_proj.weight.detach().clone()
    args = tiny_training_args(tmp_path, max_steps=3, trainable_layers=1, int8_frozen_layers=True)
    trainer = NoteLLMTrainer(model=model, args=args, train_dataset=pair_dataset(2), processing_class=tokenizer)
    trainer.train()
    assert trainer.prefix_cache.int8 and trainer.prefix_cache.misses > 0
    assert torch.equal(model.language_model.model.layers[0].mlp.up_proj.weight, frozen_before)
    assert not torch.equal(model.language_model.model.layers[2].mlp.up_proj.weight, top_before)


def test_int8_frozen_layers_needs_partial_fine_tuning(tmp_path):
    with pytest.raises(ValueError, match="int8_frozen_layers .* set trainable_layers"):
        tiny_training_args(tmp_path, int8_frozen_layers=True)
