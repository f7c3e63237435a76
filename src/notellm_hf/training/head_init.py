"""Starting the embedding head from the backbone's own geometry instead of random directions.

A randomly initialised ``d x h`` head throws away most of what the read-out state says about a note, and the
contrastive loss must first find the useful directions. [`init_embedding_head`] sets the head to the note
states' top-``d`` principal directions (after removing their mean direction, which every note shares and which
dominates raw LLM cosine similarities), optionally whitened (each direction scaled to unit variance).
[`init_embedding_head_from_pairs`] uses the training pairs themselves: the directions in which a note and its related
note agree most relative to how much notes vary (a shrunk, symmetric canonical correlation analysis,
[`pair_canonical_head`]). Either way the head stays a bias-free linear map, so the model's architecture and saved
format do not change.
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
    weight = _without_mean_direction(directions[:dim], mean)  # the top directions, the mean direction out
    if whiten:
        weight = weight / (singular[:dim, None] / (len(states) - 1) ** 0.5)
    return weight


def _without_mean_direction(weight: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``weight`` with the states' shared mean direction mapped to 0 (it dominates raw LLM cosines)."""
    unit_mean = mean / mean.norm()
    return weight - (weight @ unit_mean)[:, None] * unit_mean[None, :]


def pair_canonical_head(
    anchors: torch.Tensor, positives: torch.Tensor, dim: int, shrinkage: float = 0.6, power: float = 0.5
) -> torch.Tensor:
    """A (dim, h) head from the (n, h) read-out states of n related pairs: the top-``dim`` solutions of
    ``S v = mu C v``, with S the pairs' symmetrised cross-covariance and C the states' covariance shrunk towards a
    multiple of the identity by ``shrinkage`` (n is far below what a 576-dim covariance needs), each row scaled by
    ``mu ** power`` so the directions where pairs agree most weigh most. The mean direction is mapped to 0 and the
    rows rescaled to mean norm 1, as the orthonormal pca head's, so training starts at the same step sizes (a cosine
    does not see the global scale). Defaults: the best of a zero-step sweep on the Debian dev split (shrinkage 0.1 to
    0.97, power 0 to 1; benchmarks/RESULTS.md, round 36). Needs n > dim."""
    if len(anchors) != len(positives):
        raise ValueError(f"{len(anchors)} anchor states but {len(positives)} positive states")
    if len(anchors) <= dim:
        raise ValueError(f"the pair head init needs more than embedding_dim = {dim} pairs, got {len(anchors)}")
    if not 0.0 <= shrinkage <= 1.0:
        raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
    anchors, positives = anchors.double(), positives.double()
    mean = torch.cat([anchors, positives]).mean(dim=0)
    a, b = anchors - mean, positives - mean
    covariance = (a.T @ a + b.T @ b) / (2 * len(a))
    width = covariance.shape[0]
    identity = torch.eye(width, dtype=covariance.dtype)
    covariance = (1 - shrinkage) * covariance + shrinkage * torch.trace(covariance) / width * identity
    cross = (a.T @ b + b.T @ a) / (2 * len(a))
    values, vectors = torch.linalg.eigh(covariance)
    inverse_root = vectors @ torch.diag(values.clamp(min=1e-12 * values.max()).rsqrt()) @ vectors.T
    agreement, directions = torch.linalg.eigh(inverse_root @ cross @ inverse_root)  # ascending
    top, weights = directions[:, -dim:].flip(1), agreement[-dim:].flip(0).clamp(min=0)
    weight = (top.T @ inverse_root) * weights[:, None] ** power
    weight = _without_mean_direction(weight, mean)
    return weight / weight.norm(dim=1).mean()


@torch.no_grad()
def init_embedding_head(
    model: Any, tokenizer: Any, notes: Sequence[Any], batch_size: int = 32, whiten: bool = True
) -> torch.Tensor:
    """Sets the embedding head to [`principal_head`] of ``notes``' read-out states; returns the new weight."""
    head = unwrap_peft(model).embedding_head
    weight = principal_head(readout_states(model, tokenizer, notes, batch_size), head.weight.shape[0], whiten)
    head.weight.copy_(weight.to(head.weight.dtype))
    return head.weight.detach()


@torch.no_grad()
def init_embedding_head_from_pairs(
    model: Any, tokenizer: Any, anchors: Sequence[Any], positives: Sequence[Any], batch_size: int = 32
) -> torch.Tensor:
    """Sets the embedding head to [`pair_canonical_head`] of the pairs' read-out states (``anchors[i]`` is related
    to ``positives[i]``); returns the new weight."""
    head = unwrap_peft(model).embedding_head
    states = readout_states(model, tokenizer, [*anchors, *positives], batch_size)
    weight = pair_canonical_head(states[: len(anchors)], states[len(anchors) :], head.weight.shape[0])
    head.weight.copy_(weight.to(head.weight.dtype))
    return head.weight.detach()
