"""notellm-hf: NoteLLM (arXiv 2403.01744) for the Hugging Face stack."""

from transformers import AutoConfig, AutoModel

from .collator import NoteLLMCollator, note_key
from .configuration_notellm import NoteLLMConfig
from .encoding import encode_to_shards, iter_shards
from .evaluation import RecallEvaluator
from .hub import export_model, push_to_hub
from .index import NoteIndex
from .lora import apply_lora, lora_config_for
from .losses import ContrastiveLossOutput, NoteLLMContrastiveLoss
from .modeling_notellm import NoteLLMForEmbeddingAndGeneration, NoteLLMOutput
from .partial_finetuning import FrozenPrefixCache, freeze_bottom_layers
from .prompting_notellm import PRESETS, Note, NoteCompressionPrompt, PromptTemplate
from .trainer import NoteLLMTrainer
from .training_args import NoteLLMTrainingArguments

__version__ = "0.1.0"

# Saved folders carry the remote-code files; with the package installed "notellm" also resolves locally.
NoteLLMConfig.register_for_auto_class("AutoConfig")
NoteLLMForEmbeddingAndGeneration.register_for_auto_class("AutoModel")
AutoConfig.register("notellm", NoteLLMConfig, exist_ok=True)
AutoModel.register(NoteLLMConfig, NoteLLMForEmbeddingAndGeneration, exist_ok=True)

__all__ = [
    "PRESETS",
    "ContrastiveLossOutput",
    "FrozenPrefixCache",
    "Note",
    "NoteCompressionPrompt",
    "NoteIndex",
    "NoteLLMCollator",
    "NoteLLMConfig",
    "NoteLLMContrastiveLoss",
    "NoteLLMForEmbeddingAndGeneration",
    "NoteLLMOutput",
    "NoteLLMTrainer",
    "NoteLLMTrainingArguments",
    "PromptTemplate",
    "RecallEvaluator",
    "apply_lora",
    "encode_to_shards",
    "export_model",
    "freeze_bottom_layers",
    "iter_shards",
    "lora_config_for",
    "note_key",
    "push_to_hub",
]
