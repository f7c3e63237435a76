"""NoteLLM in transformers' ``models/<name>/`` layout. Every module of this folder (all but this package file) is
copied into every export as remote code, so those files import only the standard library, torch, transformers,
sentence-transformers, tqdm and each other."""

from .configuration_notellm import NoteLLMConfig
from .modeling_notellm import NoteLLMForEmbeddingAndGeneration, NoteLLMOutput, NoteLLMPreTrainedModel
from .processing_notellm import IGNORE_INDEX, PRESETS, Note, NoteCompressionPrompt, PromptTemplate

__all__ = [
    "IGNORE_INDEX",
    "PRESETS",
    "Note",
    "NoteCompressionPrompt",
    "NoteLLMConfig",
    "NoteLLMForEmbeddingAndGeneration",
    "NoteLLMOutput",
    "NoteLLMPreTrainedModel",
    "PromptTemplate",
]
