import pytest
import torch

from notellm_hf import NoteLLMCollator, NoteLLMTrainer, apply_lora
from notellm_hf.training.partial_finetuning import FrozenPrefixCache, freeze_bottom_layers

from conftest import TOY_NOTES, make_model, pair_dataset, tiny_training_args


def batch(model, tokenizer, notes=TOY_NOTES):
    collator = NoteLLMCollator(tokenizer, prompt=model.note_prompt, hashtag_ratio=0.5, seed=0)
    features = [{"anchor": a, "positive": b} for a, b in zip(notes[0::2], notes[1::2], strict=True)]
    inputs = collator(features)
    inputs.pop("note_keys")
    return inputs


def layer_calls(layer):
    calls = []
    layer.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_trainable_parameters_are_the_top_layers_and_heads(arch):
    model, _ = make_model(arch, num_layers=3)
    assert freeze_bottom_layers(model, 1) == 2
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    assert all(".layers.0." not in n and ".layers.1." not in n for n in names)
    assert any(".layers.2." in n for n in names)
    assert "language_model.model.norm.weight" in names
    assert {"embedding_head.weight", "logit_scale.tau"} <= names
    # Llama ties the LM head to the (frozen) input embeddings; Qwen2's own head is above the cut.
    assert ("language_model.lm_head.weight" in names) == (arch == "qwen2")
    assert "language_model.model.embed_tokens.weight" not in names


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_replayed_prefix_gives_the_full_forward_and_gradients(arch):
    model, tokenizer = make_model(arch, num_layers=3)
    cut = freeze_bottom_layers(model, 1)
    inputs = batch(model, tokenizer)

    def loss_and_grads(cache):
        model.zero_grad()
        if cache is None:
            out = model(**inputs)
        else:
            with cache.applied(inputs["input_ids"], inputs["attention_mask"]):
                out = model(**inputs)
        (out.embeddings.square().sum() + out.loss + out.logit_scale).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return out.embeddings.detach(), out.loss.detach(), grads

    reference = loss_and_grads(None)
    cache = FrozenPrefixCache(model, cut)
    bottom_calls = layer_calls(model.language_model.model.layers[0].mlp)  # runs only when computed
    for expected_misses in (len(inputs["input_ids"]), 0):  # first pass fills the cache, second replays it
        calls_before = len(bottom_calls)
        embeddings, loss, grads = loss_and_grads(cache)
        torch.testing.assert_close(embeddings, reference[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(loss, reference[1], atol=1e-5, rtol=1e-5)
        for name, grad in reference[2].items():
            torch.testing.assert_close(grads[name], grad, atol=1e-5, rtol=1e-5, msg=name)
        assert (len(bottom_calls) - calls_before == 0) == (expected_misses == 0)
    assert cache.misses == len(inputs["input_ids"]) and cache.hits == len(inputs["input_ids"])


def test_cache_follows_changes_below_the_cut():
    model, tokenizer = make_model("llama", num_layers=3)
    cache = FrozenPrefixCache(model, freeze_bottom_layers(model, 1))
    inputs = batch(model, tokenizer)
    with cache.applied(inputs["input_ids"], inputs["attention_mask"]):
        before = model(**inputs).embeddings
    with torch.no_grad():
        model.language_model.model.layers[0].mlp.down_proj.weight.mul_(3.0)
    fresh = model(**inputs).embeddings
    with cache.applied(inputs["input_ids"], inputs["attention_mask"]):
        replayed = model(**inputs).embeddings
    assert not torch.allclose(before, fresh, atol=1e-4)
    torch.testing.assert_close(replayed, fresh, atol=1e-5, rtol=1e-5)
    model.language_model.model.layers[0].mlp.down_proj.weight.requires_grad_(True)
    with pytest.raises(ValueError, match="below layer 2"):
        with cache.applied(inputs["input_ids"], inputs["attention_mask"]):
            pass


def test_memory_bound_keeps_results_exact_without_storing():
    model, tokenizer = make_model("llama", num_layers=3)
    cache = FrozenPrefixCache(model, freeze_bottom_layers(model, 1), max_bytes=0)
    inputs = batch(model, tokenizer)
    reference = model(**inputs).embeddings
    for _ in range(2):
        with cache.applied(inputs["input_ids"], inputs["attention_mask"]):
            torch.testing.assert_close(model(**inputs).embeddings, reference, atol=1e-5, rtol=1e-5)
    assert cache.store == {} and cache.hits == 0 and cache.misses == 2 * len(inputs["input_ids"])


def test_dropout_below_the_cut_is_refused():
    model, _ = make_model("llama", num_layers=3)
    model.language_model.model.config.attention_dropout = 0.1
    with pytest.raises(ValueError, match="dropout"):
        FrozenPrefixCache(model, freeze_bottom_layers(model, 1))


def test_trainer_with_cache_matches_training_the_same_layers_without_it(tmp_path):
    def run(use_cache):
        model, tokenizer = make_model("qwen2", num_layers=3)
        if use_cache:
            overrides = {"trainable_layers": 1}
        else:
            freeze_bottom_layers(model, 1)
            overrides = {}
        args = tiny_training_args(tmp_path / str(use_cache), max_steps=6, num_train_epochs=3, **overrides)
        trainer = NoteLLMTrainer(model=model, args=args, train_dataset=pair_dataset(2), processing_class=tokenizer)
        collator, trainer.seen = trainer.data_collator, []

        def recording(features):
            out = collator(features)
            rows = zip(out["input_ids"], out["attention_mask"].bool(), strict=True)
            trainer.seen += [tuple(ids[mask].tolist()) for ids, mask in rows]
            return out

        trainer.data_collator = recording
        trainer.train()
        return trainer, {n: p.detach().clone() for n, p in model.named_parameters()}

    cached_trainer, cached = run(True)
    _, plain = run(False)
    for name, value in plain.items():
        torch.testing.assert_close(cached[name], value, atol=2e-5, rtol=1e-4, msg=name)
    initial = make_model("qwen2", num_layers=3)[0].state_dict()
    assert not torch.equal(
        cached["language_model.model.layers.2.mlp.up_proj.weight"],
        initial["language_model.model.layers.2.mlp.up_proj.weight"],
    )
    assert torch.equal(
        cached["language_model.model.layers.0.mlp.up_proj.weight"],
        initial["language_model.model.layers.0.mlp.up_proj.weight"],
    )
    cache = cached_trainer.prefix_cache
    # The frozen layers ran once per distinct sequence; every repeat was replayed.
    assert cache.misses == len(set(cached_trainer.seen)) < len(cached_trainer.seen) == 6 * 8
    assert cache.hits == len(cached_trainer.seen) - cache.misses


def test_partial_finetuning_and_lora_are_exclusive(tmp_path):
    model, tokenizer = make_model("llama", num_layers=3)
    with pytest.raises(ValueError, match="LoRA"):
        NoteLLMTrainer(
            model=apply_lora(model, r=2),
            args=tiny_training_args(tmp_path, trainable_layers=1),
            train_dataset=pair_dataset(),
            processing_class=tokenizer,
        )
    with pytest.raises(ValueError, match=r"\[1, 2\]"):
        freeze_bottom_layers(make_model("llama", num_layers=3)[0], 3)
