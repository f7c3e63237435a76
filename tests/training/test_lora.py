import torch
from datasets import Dataset
from peft import PeftModel
from transformers import AutoModel

from notellm_hf import NoteLLMForEmbeddingAndGeneration, NoteLLMTrainer, apply_lora

from conftest import TOY_NOTES, TOY_NOTES_BY_ID, TOY_PAIRS, make_model, tiny_training_args


def test_lora_trains_adapters_head_tau_and_emb_row_then_round_trips(tmp_path):
    model, tokenizer = make_model("llama")
    base_dir = tmp_path / "base"
    model.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    base_embedding = model.get_input_embeddings().weight.detach().clone()

    peft_model = apply_lora(model, r=4, lora_alpha=8)
    trainable = {name for name, p in peft_model.named_parameters() if p.requires_grad}
    assert any("lora_A" in name for name in trainable)
    assert any("embedding_head" in name for name in trainable) and any("logit_scale" in name for name in trainable)
    assert not any("lm_head" in name or name.endswith("embed_tokens.weight") for name in trainable)

    data = Dataset.from_list([{"anchor": TOY_NOTES_BY_ID[a], "positive": TOY_NOTES_BY_ID[b]} for a, b in TOY_PAIRS] * 4)
    NoteLLMTrainer(
        model=peft_model,
        args=tiny_training_args(tmp_path / "run", max_steps=5),
        train_dataset=data,
        processing_class=tokenizer,
    ).train()
    trained = peft_model.encode_notes(tokenizer, TOY_NOTES)

    adapter_dir = tmp_path / "adapter"
    peft_model.save_pretrained(adapter_dir)
    fresh = NoteLLMForEmbeddingAndGeneration.from_pretrained(base_dir)
    reloaded = PeftModel.from_pretrained(fresh, adapter_dir)
    torch.testing.assert_close(reloaded.get_base_model().encode_notes(tokenizer, TOY_NOTES), trained, atol=1e-6, rtol=0)

    merged = peft_model.merge_and_unload()
    assert type(merged) is NoteLLMForEmbeddingAndGeneration
    emb_id = merged.config.emb_token_id
    merged_embedding = merged.get_input_embeddings().weight.detach()
    assert torch.equal(merged_embedding[:emb_id], base_embedding[:emb_id])  # only the [EMB] row moved
    assert not torch.equal(merged_embedding[emb_id], base_embedding[emb_id])
    merged_dir = tmp_path / "merged"
    merged.save_pretrained(merged_dir)
    again = AutoModel.from_pretrained(merged_dir)
    torch.testing.assert_close(again.encode_notes(tokenizer, TOY_NOTES), trained, atol=1e-5, rtol=0)
