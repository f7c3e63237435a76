"""The paper's symmetric in-batch InfoNCE over 2B notes with a learnable scale e^tau (Sec. 4.2, GCL), optionally
with part of each query's target spread over its in-batch candidates by a teacher (lexical distillation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

# (query note keys (n,), candidate note keys (C,)) -> (n, C) teacher logits; see NoteLLMContrastiveLoss.
Teacher = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class ContrastiveLossOutput:
    loss: torch.Tensor  # what training minimises: the InfoNCE, or its mix with the distillation term
    accuracy: torch.Tensor  # share of notes whose nearest in-batch candidate is their related note
    candidates: int  # notes each query is scored against (all processes' rows when gathering)
    info_nce: torch.Tensor  # the paper's loss alone (comparable across runs: its random level is ln(candidates - 1))
    distillation: torch.Tensor | None = None  # cross-entropy against the teacher's distribution, when there is one


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class NoteLLMContrastiveLoss(nn.Module):
    """L_cl = -1/(2B) sum_i log( exp(s(i, i+) e^tau) / sum_{j != i} exp(s(i, j) e^tau) ), s = cosine.

    Rows are ``[anchors; positives]``: row ``i`` and row ``(i + B) mod 2B`` are a related pair. Hard negatives
    follow as extra rows (``query_rows = 2B`` says where the queries end): they are candidates for every query,
    never queries themselves. Candidates that are the same note as the query or as its related note (equal
    ``note_keys``), other than the related row itself, are masked out: they are not negatives.

    With several processes every rank scores its notes against the notes of all ranks. By default the
    gather keeps the gradient, so loss and gradients equal those of one process holding the whole batch.
    ``paper_compat=True`` reproduces the authors' gather without gradient: no gradient flows through the other
    processes' notes, so the contrastive gradient shrinks as processes are added (towards 1 / world_size of the
    key-side terms) while the generation gradient does not; alpha is then effectively larger.

    With a ``teacher`` and ``teacher_weight`` w > 0 the loss is ``(1 - w) L_cl + w L_teacher``, where L_teacher is the
    cross-entropy of the same softmax against the teacher's distribution over the same candidates (the masked ones
    excluded): soft targets that rank the other in-batch notes too, where the paper's one-hot target says only which
    one is related (e.g. a TF-IDF teacher: `LexicalTeacher`).
    """

    def __init__(
        self,
        gather_across_processes: bool = True,
        paper_compat: bool = False,
        teacher: Teacher | None = None,
        teacher_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= teacher_weight <= 1.0:
            raise ValueError(f"the teacher's weight must lie in [0, 1], got {teacher_weight}")
        if teacher_weight > 0 and teacher is None:
            raise ValueError(f"a teacher weight of {teacher_weight} needs a teacher")
        self.gather_across_processes = gather_across_processes
        self.paper_compat = paper_compat
        self.teacher = teacher
        self.teacher_weight = teacher_weight

    def _gather(self, embeddings: torch.Tensor, note_keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        rank, world_size = _world()
        if world_size == 1 or not self.gather_across_processes:
            return embeddings, note_keys, 0
        sizes = [torch.zeros(1, dtype=torch.long, device=note_keys.device) for _ in range(world_size)]
        dist.all_gather(sizes, torch.tensor([embeddings.shape[0]], device=note_keys.device))
        if len({int(size) for size in sizes}) != 1:
            raise ValueError(
                f"ranks hold different batch sizes {[int(s) for s in sizes]}: set dataloader_drop_last=True"
            )
        keys = [torch.empty_like(note_keys) for _ in range(world_size)]
        dist.all_gather(keys, note_keys)
        if self.paper_compat:
            gathered = [torch.empty_like(embeddings) for _ in range(world_size)]
            dist.all_gather(gathered, embeddings.detach())
            gathered[rank] = embeddings
        else:
            gathered = list(torch.distributed.nn.functional.all_gather(embeddings))
        return torch.cat(gathered), torch.cat(keys), rank * embeddings.shape[0]

    def forward(
        self,
        embeddings: torch.Tensor,
        note_keys: torch.Tensor,
        logit_scale: torch.Tensor,
        query_rows: int | None = None,
        use_teacher: bool = True,
    ) -> ContrastiveLossOutput:
        """``use_teacher=False``: the paper's loss alone even with a teacher (evaluation batches hold notes the
        teacher was not fitted on)."""
        n = embeddings.shape[0] if query_rows is None else int(query_rows)
        if n < 2 or n % 2 or n > embeddings.shape[0]:
            raise ValueError(f"expected 2B query rows ordered [anchors; positives] (then negatives), got {n}")
        embeddings = F.normalize(embeddings.float(), dim=-1)
        candidates, candidate_keys, offset = self._gather(embeddings, note_keys)
        rows = torch.arange(n, device=embeddings.device)
        targets = offset + (rows + n // 2) % n
        scores = embeddings[:n] @ candidates.T * logit_scale.float()
        target_keys = candidate_keys[targets]
        same_note = (candidate_keys[None, :] == note_keys[:n, None]) | (candidate_keys[None, :] == target_keys[:, None])
        same_note[rows, targets] = False
        same_note[rows, offset + rows] = True
        scores = scores.masked_fill(same_note, float("-inf"))
        info_nce = F.cross_entropy(scores, targets)
        accuracy = (scores.argmax(dim=1) == targets).float().mean()
        output = ContrastiveLossOutput(
            loss=info_nce, accuracy=accuracy.detach(), candidates=candidates.shape[0], info_nce=info_nce
        )
        if self.teacher_weight > 0 and use_teacher:
            teacher_logits = self.teacher(note_keys[:n], candidate_keys).to(scores.device, torch.float32)
            soft_targets = teacher_logits.masked_fill(same_note, float("-inf")).softmax(dim=1)
            log_probs = scores.log_softmax(dim=1).masked_fill(same_note, 0.0)  # -inf * 0 would be nan
            output.distillation = -(soft_targets * log_probs).sum(dim=1).mean()
            output.loss = (1.0 - self.teacher_weight) * info_nce + self.teacher_weight * output.distillation
        return output
