"""NoteLLM configuration. Copied to the Hub as remote code: imports nothing from ``notellm_hf``."""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

READOUT_POSITIONS = ("before_emb", "emb", "mean")


class NoteLLMConfig(PreTrainedConfig):
    r"""Configuration of [`NoteLLMForEmbeddingAndGeneration`]: a causal LM (``text_config``) plus the read-out.

    Args:
        text_config: the backbone causal LM's config.
        embedding_dim: size ``d`` of the note embedding (paper: 128).
        emb_token: the special token that ends the compression phrase.
        emb_token_id: its id in the saved tokenizer.
        readout: ``"before_emb"`` takes the hidden state of the token before ``[EMB]`` (the paper and the
            authors' code); ``"emb"`` takes the ``[EMB]`` token's own state; ``"mean"`` averages the states of all
            tokens before ``[EMB]`` (instruction and note; an ablation: every token's state then enters the
            embedding directly, as in mean-pooling encoders such as all-MiniLM-L6-v2).
        initial_tau: initial value of the learnable log-scale ``tau`` (similarities are scaled by ``e^tau``).
        normalize_embeddings: L2-normalise embeddings (cosine similarity, as in the paper).
        center_embeddings: subtract the mean head output before normalising (not in the paper). Training centres
            each batch on its own mean (the trainer does it, as batch norm does; the model's training-mode
            forward then returns the head outputs as they are); serving subtracts the running mean kept in the
            ``embedding_center`` buffer. Why: the head outputs can all gain one shared direction, which squeezes
            every cosine into a narrow band where the contrastive loss sits at its random level; centring removes
            that band (measured on MovieLens, where it did not score more: benchmarks/RESULTS.md, round 31).
        lexical_block_weight: ``w`` in [0, 1): the share of the cosine given to the note's words (not in the paper).
            ``w > 0`` appends a fixed lexical block to the embedding: the mean of the note's token embeddings
            (the backbone's input embeddings), each token weighted by its IDF over the training notes (the
            prompt's own tokens, in every note, weigh 0; rare names most), standardised per dimension with the
            training notes' mean and spread, L2-normalised and scaled by ``sqrt(w)`` next to the head's unit
            output scaled by ``sqrt(1 - w)``. The embedding then has ``embedding_dim + hidden_size`` dims and
            its cosine is ``(1 - w) x head cosine + w x lexical cosine``: one dense vector (one index) that holds
            the rare-word evidence a single read-out state loses (benchmarks/RESULTS.md, round 33). The IDF and
            the standardisation are buffers fitted on training notes (``notellm_hf.training.fit_lexical_block``)
            and saved with the model. Measured on Debian at w 0.2 (round 34): the pairs whose partners share rare
            words rise, those that share few fall, level on the test pool; so off by default.
        embedding_only: build without the LM head, for serving embeddings (pass ``embedding_only=True`` to
            ``from_pretrained``; generation is then unavailable and the head's weights are not loaded).
        prompt: settings of the Note Compression Prompt (``NoteCompressionPrompt.to_dict()``); ``None`` is the
            English preset with the paper's 20/80 token budgets.
    """

    model_type = "notellm"
    sub_configs_defaults = {"text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama")}

    text_config: dict | PreTrainedConfig | None = None
    embedding_dim: int = 128
    emb_token: str = "[EMB]"
    emb_token_id: int | None = None
    readout: str = "before_emb"
    initial_tau: float = 3.0
    normalize_embeddings: bool = True
    center_embeddings: bool = False
    lexical_block_weight: float = 0.0
    prompt: dict[str, Any] | None = None
    embedding_only: bool = False

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        if self.readout not in READOUT_POSITIONS:
            raise ValueError(f"readout must be one of {READOUT_POSITIONS}, got {self.readout!r}")
        if not isinstance(self.embedding_dim, int) or self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be a positive integer, got {self.embedding_dim!r}")
        if not 0.0 <= self.lexical_block_weight < 1.0:
            raise ValueError(f"lexical_block_weight must be in [0, 1), got {self.lexical_block_weight!r}")
        if self.lexical_block_weight > 0 and (self.center_embeddings or not self.normalize_embeddings):
            raise ValueError(
                "lexical_block_weight > 0 fuses two unit vectors into one cosine: it needs normalize_embeddings=True "
                "and center_embeddings=False"
            )

    @property
    def embedding_size(self) -> int:
        """Dimensions of the embeddings the model returns: ``embedding_dim``, plus the lexical block's
        ``hidden_size`` when ``lexical_block_weight > 0``."""
        return self.embedding_dim + (self.text_config.hidden_size if self.lexical_block_weight > 0 else 0)


__all__ = ["NoteLLMConfig"]
