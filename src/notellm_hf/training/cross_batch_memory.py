"""Cross-batch memory (Wang et al., 2020, "Cross-Batch Memory for Embedding Learning"): the embeddings of the last
training steps' notes, kept as extra negatives for the contrastive loss.

Why: the in-batch loss scores each note against the batch's 2B - 1 others (63 at 32 pairs a step), while retrieval
ranks it among thousands. More candidates per query sharpen the order among close candidates, but a larger batch
costs compute per step and, at the same pairs seen, optimizer steps (issue 13, rounds 6-7). Stored embeddings
cost neither: they are read, not recomputed, and no gradient flows into them. They come from slightly older
weights; with a memory of a few steps' notes that drift is small (the paper's "slow drift")."""

from __future__ import annotations

import torch


class CrossBatchMemory:
    """A first-in first-out store of at most ``size`` L2-normalised embeddings and their note keys, newest first.

    Not saved in checkpoints: a resumed run refills it within ``size / (2B)`` steps.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a cross-batch memory holds at least one note, got size {size}")
        self.size = size
        self.embeddings: torch.Tensor | None = None
        self.note_keys: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.note_keys is None else len(self.note_keys)

    def push(self, embeddings: torch.Tensor, note_keys: torch.Tensor) -> None:
        """Store a step's notes (detached) ahead of the older ones, dropping the oldest beyond ``size``."""
        if embeddings.shape[0] != note_keys.shape[0]:
            raise ValueError(f"{embeddings.shape[0]} embeddings but {note_keys.shape[0]} note keys")
        embeddings, note_keys = embeddings.detach().float(), note_keys.detach()
        if self.embeddings is not None:
            embeddings = torch.cat([embeddings, self.embeddings.to(embeddings.device)])
            note_keys = torch.cat([note_keys, self.note_keys.to(note_keys.device)])
        self.embeddings, self.note_keys = embeddings[: self.size], note_keys[: self.size]
