"""Partial fine-tuning: train the top k decoder layers and run the frozen bottom once per distinct sequence.

A frozen layer stack's output for a sequence depends only on its tokens (positions follow the real
tokens, padding is masked, no dropout), so [`FrozenPrefixCache`] computes it the first time a sequence
(note x prompt variant x truncation) appears and replays it in every later step and epoch: a step then
costs the top k layers only. The key is the token sequence itself, and the cache empties itself when a
frozen weight changes, so a replay always equals running the frozen layers (up to float round-off from
different batch shapes).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ..models.notellm.modeling_notellm import padded_decoder_states
from .lora import unwrap_peft


def _decoder(model: nn.Module) -> nn.Module:
    decoder = unwrap_peft(model).language_model.get_decoder()
    if not isinstance(getattr(decoder, "layers", None), nn.ModuleList) or not hasattr(decoder, "norm"):
        raise ValueError(f"{type(decoder).__name__} has no `layers` list and final `norm`: cannot split it")
    return decoder


def freeze_bottom_layers(model: nn.Module, trainable_layers: int) -> int:
    """Leaves the top ``trainable_layers`` decoder layers, the final norm, the NoteLLM heads and an untied LM
    head trainable and freezes the rest. Returns the cut: the index of the first trainable layer."""
    decoder = _decoder(model)
    depth = len(decoder.layers)
    if not 1 <= trainable_layers < depth:
        raise ValueError(f"trainable_layers must be in [1, {depth - 1}] for this {depth}-layer backbone")
    notellm = unwrap_peft(model)
    model.requires_grad_(False)
    trainable = [*decoder.layers[depth - trainable_layers :], decoder.norm, notellm.embedding_head]
    trainable.append(notellm.logit_scale)
    lm_head = notellm.language_model.get_output_embeddings()
    if lm_head is not None and lm_head.weight is not decoder.get_input_embeddings().weight:
        trainable.append(lm_head)
    for module in trainable:
        module.requires_grad_(True)
    return depth - trainable_layers


def _passthrough(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return hidden_states


@contextlib.contextmanager
def _forwards_replaced(replacements: dict[nn.Module, Callable[..., torch.Tensor]]) -> Iterator[None]:
    """Swaps modules' ``forward`` for the duration: the decoder's own loop (masks, rotary, layer types) stays."""
    previous = {module: module.__dict__.get("forward") for module in replacements}
    for module, forward in replacements.items():
        module.forward = forward
    try:
        yield
    finally:
        for module, forward in previous.items():
            if forward is None:
                del module.forward
            else:
                module.forward = forward


class FrozenPrefixCache:
    """Outputs of the decoder layers below ``cut``, keyed by token sequence, replayed inside [`applied`].

    ``max_bytes`` bounds the memory held; past it, new sequences are computed each time they appear (still
    exact, just not faster). ``hits`` and ``misses`` count sequences served from and added to the cache.
    """

    def __init__(self, model: nn.Module, cut: int, max_bytes: int = 8 << 30) -> None:
        self.decoder = _decoder(model)
        if not 1 <= cut < len(self.decoder.layers):
            raise ValueError(f"cut must be in [1, {len(self.decoder.layers) - 1}], got {cut}")
        dropout = getattr(self.decoder.config, "attention_dropout", 0.0) or 0.0
        bottom = self.decoder.layers[:cut]
        if dropout > 0 or any(isinstance(m, nn.Dropout) and m.p > 0 for m in bottom.modules()):
            raise ValueError("the frozen layers use dropout, so their outputs are not reusable; set it to 0")
        self.cut = cut
        self.max_bytes = max_bytes
        self.frozen = [*self.decoder.get_input_embeddings().parameters(), *bottom.parameters()]
        self.store: dict[bytes, torch.Tensor] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._fingerprint = self._weights_fingerprint()

    def _weights_fingerprint(self) -> tuple:
        # A tensor's version counter moves on every in-place write (optimizer steps, load_state_dict).
        return tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in self.frozen)

    def clear(self) -> None:
        self.store.clear()
        self.bytes = 0

    def _check_frozen(self) -> None:
        trainable = next((p for p in self.frozen if p.requires_grad), None)
        if trainable is not None:
            raise ValueError(f"a parameter below layer {self.cut} requires grad: the cached layers must stay frozen")
        fingerprint = self._weights_fingerprint()
        if fingerprint != self._fingerprint:
            self.clear()
            self._fingerprint = fingerprint

    @staticmethod
    def _key(tokens: torch.Tensor) -> bytes:
        return hashlib.blake2b(tokens.to(torch.int64).cpu().numpy().tobytes(), digest_size=16).digest()

    @torch.no_grad()
    def _bottom_outputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        layers = self.decoder.layers
        skipped = {layer: _passthrough for layer in layers[self.cut :]}
        with _forwards_replaced({**skipped, self.decoder.norm: _passthrough}):
            return padded_decoder_states(self.decoder, input_ids, attention_mask)

    def prefix(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The frozen layers' output for a padded batch (zeros at padding), computing only unseen rows."""
        self._check_frozen()
        real = attention_mask.bool()
        keys = [self._key(ids[mask]) for ids, mask in zip(input_ids, real, strict=True)]
        first_rows: dict[bytes, int] = {}
        for row, key in enumerate(keys):
            first_rows.setdefault(key, row)
        found = {key: self.store[key] for key in first_rows if key in self.store}
        missing = [row for key, row in first_rows.items() if key not in found]
        self.hits += len(keys) - len(missing)
        if missing:
            computed = self._bottom_outputs(input_ids[missing], attention_mask[missing])
            for hidden, row in zip(computed, missing, strict=True):
                states = hidden[real[row]].clone()
                found[keys[row]] = states
                size = states.numel() * states.element_size()
                if self.bytes + size <= self.max_bytes:
                    self.store[keys[row]] = states
                    self.bytes += size
            self.misses += len(missing)
        sample = next(iter(found.values()))
        prefix = sample.new_zeros(*input_ids.shape, sample.shape[-1])
        for row, key in enumerate(keys):
            prefix[row][real[row]] = found[key]
        return prefix

    @contextlib.contextmanager
    def applied(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Iterator[None]:
        """Within the block a forward of the model skips the frozen layers and starts from their replayed output."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        prefix = self.prefix(input_ids, attention_mask)
        layers = self.decoder.layers
        replacements: dict[nn.Module, Callable[..., torch.Tensor]] = {
            layer: _passthrough for layer in layers[: self.cut]
        }
        replacements[layers[self.cut - 1]] = lambda hidden_states, *args, **kwargs: prefix.to(hidden_states.dtype)
        with _forwards_replaced(replacements):
            yield
