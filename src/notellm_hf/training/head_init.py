"""Starting the embedding head from the backbone's own geometry instead of random directions.

A randomly initialised ``d x h`` head throws away most of what the read-out state says about a note, and the
contrastive loss must first find the useful directions. [`init_embedding_head`] sets the head to the note
states' top-``d`` principal directions (after removing their mean direction, which every note shares and which
dominates raw LLM cosine similarities), optionally whitened (each direction scaled to unit variance). The head
stays a bias-free linear map, so the model's architecture and saved format do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from ..models.notellm.processing_notellm import Note
from .lora import unwrap_peft


@torch.no_grad()
def readout_states(model: Any, tokenizer: Any, notes: Sequence[Any], batch_size: int = 32) -> torch.Tensor:
    """(n, h) states the embedding head reads (the config's read-out: by default the token before ``[EMB]``),
    float32, in note order."""
    notellm = unwrap_peft(model)
    captured: list[torch.Tensor] = []
    hook = notellm.embedding_head.register_forward_hook(lambda _, inputs, __: captured.append(inputs[0].float().cpu()))
    was_training = notellm.training
    notellm.eval()
    # Notes of similar prompt length share a batch, so little padding is run.
    prompt = notellm.note_prompt
    order = sorted(range(len(notes)), key=lambda i: len(prompt.embedding_input_ids(tokenizer, Note.from_any(notes[i]))))
    try:
        starts = range(0, len(notes), batch_size)
        for start in tqdm(starts, desc="Read-out states for the head", disable=len(starts) < 4):
            batch = notellm.tokenize_notes(tokenizer, [notes[i] for i in order[start : start + batch_size]])
            notellm(**{key: value.to(notellm.device) for key, value in batch.items()})
    finally:
        hook.remove()
        notellm.train(was_training)
    states = torch.empty_like(torch.cat(captured))
    states[torch.tensor(order)] = torch.cat(captured)
    return states


def principal_head(states: torch.Tensor, dim: int, whiten: bool = True) -> torch.Tensor:
    """A (dim, h) head from (n, h) read-out states: their top-``dim`` principal directions with the states' mean
    direction projected out, each divided by its standard deviation when ``whiten``. Needs n > dim."""
    if len(states) < dim + 1:
        raise ValueError(f"the head init needs more than embedding_dim = {dim} notes, got {len(states)}")
    states = states.double()
    mean = states.mean(dim=0)
    _, singular, directions = torch.linalg.svd(states - mean, full_matrices=False)
    top = directions[:dim]  # orthonormal rows
    unit_mean = mean / mean.norm()
    weight = top - (top @ unit_mean)[:, None] * unit_mean[None, :]  # the shared mean direction maps to 0
    if whiten:
        weight = weight / (singular[:dim, None] / (len(states) - 1) ** 0.5)
    return weight


@torch.no_grad()
def init_embedding_head(
    model: Any, tokenizer: Any, notes: Sequence[Any], batch_size: int = 32, whiten: bool = True
) -> torch.Tensor:
    """Sets the embedding head to [`principal_head`] of ``notes``' read-out states; returns the new weight."""
    head = unwrap_peft(model).embedding_head
    weight = principal_head(readout_states(model, tokenizer, notes, batch_size), head.weight.shape[0], whiten)
    head.weight.copy_(weight.to(head.weight.dtype))
    return head.weight.detach()
