"""LoRA for NoteLLM: adapters on the backbone's linear layers; head, tau and the [EMB] row trained in full."""

from __future__ import annotations

from typing import Any

from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from ..models.notellm.modeling_notellm import NoteLLMForEmbeddingAndGeneration


def unwrap_peft(model: nn.Module) -> nn.Module:
    """The NoteLLM model inside a PEFT wrapper (the model itself when it is not wrapped)."""
    return model.get_base_model() if isinstance(model, PeftModel) else model


def lora_config_for(model: NoteLLMForEmbeddingAndGeneration, **lora_kwargs: Any) -> LoraConfig:
    """A `LoraConfig` for the whole wrapper (no ``task_type``: PEFT must wrap NoteLLM, not its backbone).

    Targets every linear layer of the decoder (not the LM head, not the embedding head); the embedding
    head and the logit scale are saved in full, and only the ``[EMB]`` row of the input embeddings trains.
    """
    decoder = model.language_model.get_decoder()
    targets = sorted(
        {name.rsplit(".", 1)[-1] for name, module in decoder.named_modules() if isinstance(module, nn.Linear)}
    )
    embeddings = model.get_input_embeddings()
    embedding_name = next(name for name, module in model.named_modules() if module is embeddings).rsplit(".", 1)[-1]
    lora_kwargs.setdefault("target_modules", targets)
    lora_kwargs.setdefault("modules_to_save", ["embedding_head", "logit_scale"])
    lora_kwargs.setdefault("trainable_token_indices", {embedding_name: [model.config.emb_token_id]})
    return LoraConfig(**lora_kwargs)


def apply_lora(
    model: NoteLLMForEmbeddingAndGeneration, config: LoraConfig | None = None, **lora_kwargs: Any
) -> PeftModel:
    """Wraps NoteLLM with LoRA adapters (``lora_kwargs`` go to [`lora_config_for`] when no config is given)."""
    return get_peft_model(model, config or lora_config_for(model, **lora_kwargs))
