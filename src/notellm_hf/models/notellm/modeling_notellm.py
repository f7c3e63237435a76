"""NoteLLM: one causal LM that embeds notes (contrastive) and generates their hashtags/category (CSFT).

Copied to the Hub as remote code together with ``configuration_notellm.py``, ``processing_notellm.py`` and
``sentence_notellm.py``: only relative imports of those siblings, nothing from ``notellm_hf``, nothing run at
import time. Loading GGUF backbones is training-side work and lives in ``notellm_hf.backbones``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationMixin,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_notellm import NoteLLMConfig
from .processing_notellm import (
    IGNORE_INDEX,
    Note,
    NoteCompressionPrompt,
    length_sorted_batches,
    padded_batch,
    position_ids_from_mask,
    shared_prefix_length,
)

NoteLike = Note | dict[str, Any] | str


def padded_decoder_states(decoder: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """A decoder's last hidden states for a padded batch, positions counted over real tokens only: a row gets the
    states it gets alone, under left or right padding."""
    return decoder(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids_from_mask(attention_mask),
        use_cache=False,
    ).last_hidden_state


@dataclass
class NoteLLMOutput(ModelOutput):
    """``loss``: the generation loss (mean over output tokens), present when labels are given.

    ``embeddings``: (B, d) note embeddings; ``logit_scale``: e^tau, the contrastive similarity scale.
    """

    loss: torch.Tensor | None = None
    embeddings: torch.Tensor | None = None
    logit_scale: torch.Tensor | None = None


class NoteLLMLogitScale(nn.Module):
    """Holds the learnable ``tau`` (a module, so PEFT's ``modules_to_save`` can train it)."""

    def __init__(self, initial_tau: float) -> None:
        super().__init__()
        self.tau = nn.Parameter(torch.tensor(float(initial_tau)))

    def forward(self) -> torch.Tensor:
        return self.tau.exp()


class NoteLLMPreTrainedModel(PreTrainedModel):
    config_class = NoteLLMConfig
    base_model_prefix = "notellm"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    # The backbone declares its own tie (input embeddings <-> LM head); the wrapper adds none.
    _tied_weights_keys: dict[str, str] = {}

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, NoteLLMLogitScale):
            init.constant_(module.tau, self.config.initial_tau)
        elif isinstance(module, nn.Linear):
            std = getattr(self.config.text_config, "initializer_range", 0.02)
            init.normal_(module.weight, mean=0.0, std=std)
        if isinstance(getattr(module, "embedding_center", None), torch.Tensor):
            init.zeros_(module.embedding_center)
        if isinstance(getattr(module, "lexical_scale", None), torch.Tensor):
            # Zeros mark the lexical block as not fitted yet (fit_lexical_block sets all three).
            for buffer in (module.token_idf, module.lexical_center, module.lexical_scale):
                init.zeros_(buffer)


class NoteLLMForEmbeddingAndGeneration(NoteLLMPreTrainedModel, GenerationMixin):
    """A causal LM whose hidden state before ``[EMB]``, projected to ``d`` dims, is the note embedding.

    Generation (hashtags, category) runs on the wrapped LM; the LM head is only applied where labels are.
    """

    def __init__(self, config: NoteLLMConfig, language_model: PreTrainedModel | None = None) -> None:
        super().__init__(config)
        if language_model is None:
            language_model = AutoModelForCausalLM.from_config(config.text_config)
        else:
            # Pretrained weights handed in: keep them out of post_init's weight initialisation.
            for module in language_model.modules():
                module._is_hf_initialized = True
        if config.embedding_only:
            # Serving embeddings never needs the LM head; its checkpoint weights are then skipped on load.
            language_model.lm_head = nn.Identity()
            language_model.all_tied_weights_keys = {}
            self._keys_to_ignore_on_load_unexpected = [r"language_model\.lm_head\."]
        self.language_model = language_model
        self.embedding_head = nn.Linear(config.text_config.hidden_size, config.embedding_dim, bias=False)
        self.logit_scale = NoteLLMLogitScale(config.initial_tau)
        if config.center_embeddings:
            # The running mean of the head outputs over training batches (the trainer updates it), for serving.
            self.register_buffer("embedding_center", torch.zeros(config.embedding_dim))
        if config.lexical_block_weight > 0:
            # The lexical block's IDF per vocabulary entry and the per-dimension standardisation of its weighted
            # means, fitted on training notes (notellm_hf.training.fit_lexical_block) and saved with the model.
            vocabulary, hidden = language_model.get_input_embeddings().weight.shape
            self.register_buffer("token_idf", torch.zeros(vocabulary))
            self.register_buffer("lexical_center", torch.zeros(hidden))
            self.register_buffer("lexical_scale", torch.zeros(hidden))
        self.post_init()

    # ---- construction ----
    @classmethod
    def from_backbone(
        cls,
        backbone: str | Path | PreTrainedModel,
        tokenizer: Any = None,
        dtype: Any = None,
        **config_kwargs: Any,
    ) -> tuple[NoteLLMForEmbeddingAndGeneration, Any]:
        """Wraps a causal LM (Hub id, local folder or model object) as a NoteLLM.

        A ``.gguf`` file is loaded with ``notellm_hf.backbones.load_backbone`` first (it dequantises the weights
        into a model that can be saved) and handed in as a model object with its tokenizer.

        Adds ``[EMB]`` as a special token (mean-initialised row), sets a pad token (EOS when the backbone has none)
        and left padding, so batched generation and encoding work. ``config_kwargs`` go to [`NoteLLMConfig`].
        Returns ``(model, tokenizer)``.
        """
        if isinstance(backbone, (str, Path)):
            if str(backbone).endswith(".gguf"):
                raise ValueError(
                    f"backbone {str(backbone)!r} is a GGUF file: load it with notellm_hf.backbones.load_backbone and "
                    "pass the model and tokenizer (or a folder made by notellm_hf.backbones.resolve_backbone)"
                )
            language_model = AutoModelForCausalLM.from_pretrained(str(backbone), dtype=dtype)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(backbone))
        else:
            language_model = backbone
            if tokenizer is None:
                tokenizer = AutoTokenizer.from_pretrained(language_model.name_or_path)
        emb_token = config_kwargs.get("emb_token", NoteLLMConfig.emb_token)
        tokenizer.add_special_tokens({"extra_special_tokens": [emb_token]})
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ValueError("the backbone's tokenizer has neither a pad nor an EOS token")
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        tokenizer.init_kwargs["padding_side"] = "left"
        language_model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
        config_kwargs.setdefault("prompt", NoteCompressionPrompt(emb_token=emb_token).to_dict())
        config = NoteLLMConfig(
            text_config=language_model.config.to_dict(),
            emb_token_id=tokenizer.convert_tokens_to_ids(emb_token),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **config_kwargs,
        )
        model = cls(config, language_model=language_model)
        return model.to(language_model.dtype), tokenizer

    @property
    def note_prompt(self) -> NoteCompressionPrompt:
        return NoteCompressionPrompt.from_dict({**(self.config.prompt or {}), "emb_token": self.config.emb_token})

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    # ---- forward ----
    def emb_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Index of the ``[EMB]`` token in each row (exactly one per row, or a named error)."""
        is_emb = input_ids == self.config.emb_token_id
        counts = is_emb.sum(dim=1)
        if not bool((counts == 1).all()):
            bad = int((counts != 1).nonzero()[0, 0])
            raise ValueError(
                f"row {bad} holds {int(counts[bad])} {self.config.emb_token} tokens; each row needs exactly one"
            )
        return is_emb.int().argmax(dim=1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> NoteLLMOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if position_ids is None:
            # Positions follow the real tokens, so left and right padding give the same embedding.
            position_ids = position_ids_from_mask(attention_mask)
        hidden = self.language_model.get_decoder()(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False, **kwargs
        ).last_hidden_state
        loss = None if labels is None else self._generation_loss(hidden, labels)
        embeddings = self._read_out(hidden, input_ids, attention_mask)
        return NoteLLMOutput(loss=loss, embeddings=embeddings, logit_scale=self.logit_scale())

    def _read_out(
        self,
        hidden: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        prefix_states: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The embedding head on each row's read-out state (normalised when the config says so), float32.

        ``prefix_states``: (P, h) states of prompt tokens every row shares that were run once and are not in
        ``hidden`` (the shared-prefix cache); only the mean read-out, which averages over them, needs them.
        """
        emb = self.emb_positions(input_ids)
        if self.config.readout == "mean":
            columns = torch.arange(hidden.shape[1], device=hidden.device)
            weights = (attention_mask.bool() & (columns[None, :] < emb[:, None])).float()
            total = torch.einsum("bt,bth->bh", weights, hidden.float())
            count = weights.sum(dim=1)
            if prefix_states is not None:
                total, count = total + prefix_states.float().sum(dim=0), count + len(prefix_states)
            state = (total / count[:, None]).to(hidden.dtype)
        else:
            rows = torch.arange(input_ids.shape[0], device=input_ids.device)
            state = hidden[rows, emb - 1 if self.config.readout == "before_emb" else emb]
        embeddings = self.embedding_head(state).float()
        if self.config.center_embeddings:
            if self.training:
                # The batch's own mean is subtracted (and the rows normalised) by the contrastive loss's caller,
                # which sees the whole batch; a chunk of it here would be centred on the wrong mean.
                return embeddings
            embeddings = embeddings - self.embedding_center.float()
        if self.config.lexical_block_weight > 0:
            # Two unit vectors scaled by sqrt(1 - w) and sqrt(w): one unit vector whose cosine is their convex mix.
            if not self.lexical_block_fitted:
                raise ValueError(
                    "lexical_block_weight > 0 but the lexical block is not fitted: call "
                    "notellm_hf.training.fit_lexical_block(model, tokenizer, training_notes) before use"
                )
            weight = self.config.lexical_block_weight
            lexical = self.lexical_means(input_ids, attention_mask, emb)
            lexical = (lexical - self.lexical_center.float()) / self.lexical_scale.float()
            parts = [F.normalize(embeddings, dim=-1) * (1 - weight) ** 0.5, F.normalize(lexical, dim=-1) * weight**0.5]
            return torch.cat(parts, dim=-1)
        return F.normalize(embeddings, dim=-1) if self.config.normalize_embeddings else embeddings

    @property
    def lexical_block_fitted(self) -> bool:
        """False while a lexical block's buffers still hold the zeros it was built with (fit_lexical_block sets them);
        True for a model without a block."""
        return self.config.lexical_block_weight <= 0 or bool((self.lexical_scale > 0).all())

    def lexical_means(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, emb: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, h) float32 mean of each row's token embeddings before ``[EMB]``, each token weighted by its IDF
        (``token_idf``): the lexical block before its standardisation. The prompt's shared tokens weigh 0, so rows
        that start after a cached prompt prefix get the means of whole rows."""
        emb = self.emb_positions(input_ids) if emb is None else emb
        columns = torch.arange(input_ids.shape[1], device=input_ids.device)
        before_emb = attention_mask.bool() & (columns[None, :] < emb[:, None])
        weights = before_emb.float() * self.token_idf.float()[input_ids]
        tokens = self.get_input_embeddings()(input_ids).float()
        total = torch.einsum("bt,bth->bh", weights, tokens)
        return total / weights.sum(dim=1, keepdim=True).clamp(min=1e-9)

    def _cache_keyword(self) -> str:
        """The decoder's name for its key/value cache: ``cache`` (transformers >= 5.2x) or ``past_key_values``."""
        parameters = inspect.signature(self.language_model.get_decoder().forward).parameters
        return "cache" if "cache" in parameters else "past_key_values"

    def _prefix_cache(self, prefix_ids: list[int]) -> tuple[Any, torch.Tensor]:
        """Key/value cache and (P, h) last hidden states of the prompt tokens every note shares (the instruction),
        computed once."""
        ids = torch.tensor([prefix_ids], device=self.device)
        output = self.language_model.get_decoder()(input_ids=ids, use_cache=True)
        return getattr(output, self._cache_keyword()), output.last_hidden_state[0]

    def _embed_after_prefix(
        self, shared_prefix: tuple[Any, torch.Tensor], suffixes: list[list[int]], pad_token_id: int
    ) -> torch.Tensor:
        """Embeddings of rows that all start with the cached prefix, running only their own tokens.

        The suffixes are left-padded, so padding sits between the prefix and each row's tokens: the mask hides it
        and positions count real tokens only, which makes the result equal to running the whole rows.
        """
        batch = {key: value.to(self.device) for key, value in padded_batch(suffixes, pad_token_id).items()}
        prefix_cache, prefix_states = shared_prefix
        rows, prefix = len(suffixes), prefix_cache.get_seq_length()
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(rows)
        prefix_mask = torch.ones(rows, prefix, dtype=batch["attention_mask"].dtype, device=self.device)
        hidden = self.language_model.get_decoder()(
            input_ids=batch["input_ids"],
            attention_mask=torch.cat([prefix_mask, batch["attention_mask"]], dim=1),
            position_ids=prefix + position_ids_from_mask(batch["attention_mask"]),
            use_cache=True,
            **{self._cache_keyword(): cache},
        ).last_hidden_state
        return self._read_out(hidden, batch["input_ids"], batch["attention_mask"], prefix_states)

    def _generation_loss(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Next-token loss on labelled positions only: the LM head never sees the rest of the sequence."""
        targets = labels[:, 1:]
        selected = targets != IGNORE_INDEX
        if not bool(selected.any()):
            return hidden.sum() * 0.0
        logits = self.language_model.get_output_embeddings()(hidden[:, :-1][selected]).float()
        softcap = getattr(self.config.text_config, "final_logit_softcapping", None)
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        return F.cross_entropy(logits, targets[selected])

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """Plain text generation with the wrapped causal LM (hashtags, category, or any prompt)."""
        if self.config.embedding_only:
            raise ValueError("this model was loaded with embedding_only=True: it has no LM head to generate with")
        return self.language_model.generate(*args, **kwargs)

    # ---- serving helpers: notes in, embeddings / hashtags / categories out ----
    def _notes(self, notes: Iterable[NoteLike]) -> list[Note]:
        return [Note.from_any(note, note_id=f"#{i}") for i, note in enumerate(notes)]

    def _embedding_sequences(self, tokenizer: Any, notes: Iterable[NoteLike]) -> list[list[int]]:
        prompt = self.note_prompt
        return [prompt.embedding_input_ids(tokenizer, note) for note in self._notes(notes)]

    def tokenize_notes(self, tokenizer: Any, notes: Iterable[NoteLike]) -> dict[str, torch.Tensor]:
        """A padded batch of category prompts cut after ``[EMB]``, ready for ``forward`` (embeddings only)."""
        return padded_batch(self._embedding_sequences(tokenizer, notes), tokenizer.pad_token_id)

    @torch.inference_mode()
    def encode_notes(
        self,
        tokenizer: Any,
        notes: Iterable[NoteLike],
        batch_size: int = 32,
        show_progress_bar: bool = False,
        reuse_prefix: bool = True,
    ) -> torch.Tensor:
        """Embeds notes with the category prompt (the paper's serving prompt): (n, d) float32 on CPU.

        Notes are dicts with note fields, [`Note`] records, or strings (read as content). Batches are
        formed by length so little padding is computed; only tokens up to ``[EMB]`` are run. With
        ``reuse_prefix`` the prompt tokens all notes share (the instruction, ~1/6 of a Debian note's tokens) are
        run once and their key/value cache is reused by every batch: the same embeddings, less work.
        """
        sequences = self._embedding_sequences(tokenizer, notes)
        if not sequences:
            return torch.empty(0, self.config.embedding_size)
        prefix = shared_prefix_length(sequences) if reuse_prefix else 0
        result = torch.empty(len(sequences), self.config.embedding_size)
        batches = length_sorted_batches(sequences, batch_size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="Encoding notes", total=-(-len(sequences) // batch_size))
        was_training = self.training
        self.eval()
        try:
            shared_prefix = self._prefix_cache(sequences[0][:prefix]) if prefix else None
            for index in batches:
                if shared_prefix is not None:
                    suffixes = [sequences[i][prefix:] for i in index]
                    embeddings = self._embed_after_prefix(shared_prefix, suffixes, tokenizer.pad_token_id)
                else:
                    batch = padded_batch([sequences[i] for i in index], tokenizer.pad_token_id)
                    embeddings = self(**{key: value.to(self.device) for key, value in batch.items()}).embeddings
                result[index] = embeddings.float().cpu()
        finally:
            self.train(was_training)
        return result

    @torch.inference_mode()
    def _generate_outputs(
        self,
        tokenizer: Any,
        prompts: list[list[int]],
        max_new_tokens: int,
        batch_size: int,
        constraint: _CategoryTrie | None = None,
        num_beams: int = 1,
        num_return_sequences: int = 1,
        no_repeated_bigrams: bool = False,
    ) -> list[str]:
        """Decoded outputs, ``num_return_sequences`` per prompt in prompt order: greedy, or a beam search scoring
        whole sequences by their summed log-probability (length_penalty 0: a short and a long tag compete on
        likelihood alone)."""
        texts: list[str] = []
        beam_search = {}
        if num_beams > 1:
            beam_search = {"num_beams": num_beams, "num_return_sequences": num_return_sequences, "length_penalty": 0.0}
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            batch = padded_batch(chunk, tokenizer.pad_token_id, side="left")
            input_ids, attention_mask = batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
            width = input_ids.shape[1]
            allowed = None if constraint is None else (lambda _, ids: constraint.allowed(ids[width:].tolist()))  # noqa: B023
            generated = self.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                prefix_allowed_tokens_fn=allowed,
                **beam_search,
                logits_processor=LogitsProcessorList([_NoRepeatedOutputBigram(width)] if no_repeated_bigrams else []),
            )
            texts += tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
        return [text.strip() for text in texts]

    def generate_hashtags(
        self,
        tokenizer: Any,
        notes: Iterable[NoteLike],
        num_hashtags: int = 3,
        max_new_tokens: int | None = None,
        batch_size: int = 16,
        vocabulary: Sequence[str] | None = None,
        vocabulary_beams: int = 4,
    ) -> list[list[str]]:
        """Generates up to ``num_hashtags`` topics per note from its title and content (the hashtag prompt): distinct
        within the note and never a copy of its title (``NoteCompressionPrompt.distinct_hashtags``).

        With a ``vocabulary`` (a closed tag list, e.g. the training notes' hashtags) the output is the
        ``num_hashtags`` members the model finds likeliest as the note's first hashtag: a beam search constrained to
        the list (``vocabulary_beams`` beams) returns its best distinct sequences. No invented or garbled tags, and
        as many as asked for (greedy decoding of a small model often stops after one generic tag)."""
        prompt = self.note_prompt
        notes = self._notes(notes)
        prompts = [
            prompt.tokenize(tokenizer, note, "hashtag", num_hashtags=num_hashtags, with_output=False).input_ids
            for note in notes
        ]
        if vocabulary is not None:
            topics = list(dict.fromkeys(topic.strip() for topic in vocabulary if topic.strip()))
            if not topics:
                raise ValueError("the hashtag vocabulary is empty")
            sequences = [prompt.output_ids(tokenizer, topic) for topic in topics]
            constraint = _CategoryTrie(sequences, tokenizer.eos_token_id)
            count = min(num_hashtags, len(topics))
            beams = max(vocabulary_beams, count)
            texts = self._generate_outputs(tokenizer, prompts, constraint.depth, batch_size, constraint, beams, count)
            return [texts[i : i + count] for i in range(0, len(texts), count)]
        # No bigram twice in the output: greedy decoding of a small model otherwise loops ("HTTP HTTP HTTP ...").
        max_new_tokens = max_new_tokens or prompt.output_max_tokens
        texts = self._generate_outputs(tokenizer, prompts, max_new_tokens, batch_size, no_repeated_bigrams=True)
        return [prompt.distinct_hashtags(text, note, num_hashtags) for text, note in zip(texts, notes, strict=True)]

    def generate_category(
        self,
        tokenizer: Any,
        notes: Iterable[NoteLike],
        categories: Sequence[str] | None = None,
        max_new_tokens: int | None = None,
        batch_size: int = 16,
    ) -> list[str]:
        """Generates each note's category; with ``categories`` decoding can only spell a list member."""
        prompt = self.note_prompt
        prompts = [
            prompt.tokenize(tokenizer, note, "category", with_output=False).input_ids for note in self._notes(notes)
        ]
        constraint = None
        if categories is not None:
            constraint = _CategoryTrie([prompt.output_ids(tokenizer, c) for c in categories], tokenizer.eos_token_id)
            max_new_tokens = constraint.depth
        return self._generate_outputs(
            tokenizer, prompts, max_new_tokens or prompt.output_max_tokens, batch_size, constraint
        )


class _NoRepeatedOutputBigram(LogitsProcessor):
    """Forbids a token that would repeat a bigram of the generated output (tokens from ``start`` on). Unlike
    ``no_repeat_ngram_size`` it ignores the prompt, so a tag may still quote a phrase of the note."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, output in enumerate(input_ids[:, self.start :].tolist()):
            banned = [after for before, after in zip(output[:-1], output[1:], strict=True) if before == output[-1]]
            if banned:
                scores[row, banned] = -float("inf")
        return scores


class _CategoryTrie:
    """Prefix trie over token ids (each sequence ending in EOS) that constrains decoding to its members."""

    def __init__(self, sequences: list[list[int]], eos_token_id: int) -> None:
        if not sequences:
            raise ValueError("categories must not be empty")
        self.root: dict[int, dict] = {}
        self.eos_token_id = eos_token_id
        self.depth = max(len(seq) for seq in sequences)
        for seq in sequences:
            node = self.root
            for token in seq:
                node = node.setdefault(token, {})

    def allowed(self, generated: list[int]) -> list[int]:
        node = self.root
        for token in generated:
            if token not in node:  # the row has finished: EOS, then padding
                return [self.eos_token_id]
            node = node[token]
        return list(node) or [self.eos_token_id]


__all__ = ["NoteLLMForEmbeddingAndGeneration", "NoteLLMOutput", "NoteLLMPreTrainedModel"]
