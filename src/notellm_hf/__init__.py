"""notellm-hf: NoteLLM (arXiv 2403.01744) for the Hugging Face stack.

The package tree is the pipeline: ``data`` (note tables, click logs -> pairs, benchmark sets) ->
``models/notellm`` (the model, its config and prompt; the remote code of every export) -> ``training``
(collator, loss, trainer, recipe) -> ``retrieval`` (encoding, index) -> ``evaluation`` -> ``hub`` (export, card,
push). ``backbones`` loads what a NoteLLM starts from and what it produces.
"""

from transformers import AutoConfig, AutoModel

from .evaluation.evaluator import RecallEvaluator
from .hub.export import export_model
from .hub.note_text import NoteTextRenderer
from .hub.push import push_to_hub
from .hub.stock_export import export_sentence_transformers
from .models.notellm.configuration_notellm import NoteLLMConfig
from .models.notellm.modeling_notellm import NoteLLMForEmbeddingAndGeneration, NoteLLMOutput
from .models.notellm.processing_notellm import PRESETS, Note, NoteCompressionPrompt, PromptTemplate
from .retrieval.encoding import encode_to_shards, iter_shards
from .retrieval.index import NoteIndex
from .training.contrastive_signal import ContrastiveSignalWarning
from .training.data_collator import NoteLLMCollator, note_key
from .training.lora import apply_lora, lora_config_for
from .training.losses import ContrastiveLossOutput, NoteLLMContrastiveLoss
from .training.partial_finetuning import FrozenPrefixCache, freeze_bottom_layers
from .training.trainer import NoteLLMTrainer
from .training.training_args import NoteLLMTrainingArguments

__version__ = "0.1.0"

# Saved folders carry the remote-code files; with the package installed "notellm" also resolves locally.
NoteLLMConfig.register_for_auto_class("AutoConfig")
NoteLLMForEmbeddingAndGeneration.register_for_auto_class("AutoModel")
AutoConfig.register("notellm", NoteLLMConfig, exist_ok=True)
AutoModel.register(NoteLLMConfig, NoteLLMForEmbeddingAndGeneration, exist_ok=True)

__all__ = [
    "PRESETS",
    "ContrastiveLossOutput",
    "ContrastiveSignalWarning",
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
    "NoteTextRenderer",
    "PromptTemplate",
    "RecallEvaluator",
    "apply_lora",
    "encode_to_shards",
    "export_model",
    "export_sentence_transformers",
    "freeze_bottom_layers",
    "iter_shards",
    "lora_config_for",
    "note_key",
    "push_to_hub",
]
