"""[`NoteLLMArguments`]: the settings of a NoteLLM built from a backbone, as recipe YAML keys and flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .notellm.configuration_notellm import READOUT_POSITIONS
from .notellm.processing_notellm import NOTE_FIELDS, PRESETS, NoteCompressionPrompt

HEAD_INITS = ("random", "pca", "pca_whitened", "pair_cca")


@dataclass
class NoteLLMArguments:
    """What the model adds to its backbone: embedding size, read-out, temperature and the prompt's wording and
    token budgets. Read by `TrlParser` next to trl's ``ModelConfig`` (which names the backbone)."""

    embedding_dim: int = field(default=128, metadata={"help": "Note embedding size d (paper: 128)."})
    readout: str = field(
        default="before_emb",
        metadata={
            "help": "'before_emb' (paper), 'emb' or 'mean' (of the states before [EMB]).",
            "choices": READOUT_POSITIONS,
        },
    )
    initial_tau: float = field(default=3.0, metadata={"help": "Initial log-scale tau of the contrastive loss."})
    center_embeddings: bool = field(
        default=False,
        metadata={
            "help": "Subtract the mean head output before normalising: each training batch's own mean, the running "
            "mean when serving (not in the paper; keeps the cosines from squeezing into a narrow band; no gain "
            "measured on MovieLens dev, round 31)."
        },
    )
    lexical_block_weight: float = field(
        default=0.0,
        metadata={
            "help": "Share w of the cosine given to the lexical block: the IDF-weighted mean of the note's token "
            "embeddings, fitted on training notes and appended to the embedding (not in the paper; 0: none)."
        },
    )
    prompt_preset: str = field(
        default="en",
        metadata={"help": "Prompt wording: 'en' (paper) or 'zh' (authors' code).", "choices": tuple(PRESETS)},
    )
    embedding_head_init: str = field(
        default="random",
        metadata={
            "help": "How the embedding head starts: 'random', 'pca' (top principal directions of training notes' "
            "read-out states, mean direction removed), 'pca_whitened' (the same, scaled to unit variance) or "
            "'pair_cca' (the directions in which training pairs' read-out states agree most: a shrunk symmetric CCA).",
            "choices": HEAD_INITS,
        },
    )
    head_init_notes: int = field(
        default=512,
        metadata={"help": "Training notes the head inits read (pair_cca: half as many pairs, both notes of each)."},
    )
    title_max_tokens: int = field(default=20, metadata={"help": "Title token budget (paper: 20)."})
    content_max_tokens: int = field(default=80, metadata={"help": "Content token budget (paper: 80)."})
    field_order: list[str] = field(
        default_factory=lambda: list(NOTE_FIELDS),
        metadata={"help": "Order of the note's fields in the prompt's JSON (paper: title topic content)."},
    )

    def prompt(self) -> NoteCompressionPrompt:
        return NoteCompressionPrompt(
            self.prompt_preset,
            title_max_tokens=self.title_max_tokens,
            content_max_tokens=self.content_max_tokens,
            field_order=tuple(self.field_order),
        )

    def config_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``NoteLLMForEmbeddingAndGeneration.from_backbone`` (its ``NoteLLMConfig`` fields)."""
        return {
            "embedding_dim": self.embedding_dim,
            "readout": self.readout,
            "initial_tau": self.initial_tau,
            "center_embeddings": self.center_embeddings,
            "lexical_block_weight": self.lexical_block_weight,
            "prompt": self.prompt().to_dict(),
        }
