"""Training: prompt batches of related pairs, the joint GCL + CSFT loss, the trainer and its recipe."""

from .contrastive_signal import ContrastiveSignal, ContrastiveSignalWarning
from .data_collator import NoteLLMCollator, note_key
from .lexical_block import fit_lexical_block
from .lexical_distillation import LexicalTeacher
from .lora import apply_lora, lora_config_for, unwrap_peft
from .losses import ContrastiveLossOutput, NoteLLMContrastiveLoss
from .partial_finetuning import FrozenPrefixCache, freeze_bottom_layers
from .sampler import SameCategorySampler, StrongPairsFirstSampler
from .trainer import NoteLLMTrainer
from .training_args import NoteLLMTrainingArguments

__all__ = [
    "ContrastiveLossOutput",
    "ContrastiveSignal",
    "ContrastiveSignalWarning",
    "FrozenPrefixCache",
    "LexicalTeacher",
    "NoteLLMCollator",
    "NoteLLMContrastiveLoss",
    "NoteLLMTrainer",
    "NoteLLMTrainingArguments",
    "SameCategorySampler",
    "StrongPairsFirstSampler",
    "apply_lora",
    "fit_lexical_block",
    "freeze_bottom_layers",
    "lora_config_for",
    "note_key",
    "unwrap_peft",
]
