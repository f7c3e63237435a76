"""NoteLLM in transformers' ``models/<name>/`` layout. Everything in this folder is copied WHOLE into every
export as remote code, so its files import only torch, transformers, sentence-transformers and each other."""

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
