"""How far a run's contrastive loss ended below its random level, read from the trainer's log history.

A run whose pair texts carry little of what relates the notes (MovieLens co-rating, driven by popularity) can end
with its loss at the level of scores that cannot tell the positive from the other notes in the batch, and still
look finished. [`ContrastiveSignal`] measures that from the logged windows; the trainer warns with it at the end of
training ([`ContrastiveSignalCheck`]), stops a run that got no hold early on so that the recipe can restart it
([`ContrastiveHoldCheck`], ``hold_check_steps``), and the quality benchmark reports it next to each trained row.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import TrainerCallback

# How far below its random level the contrastive loss must end (nats, mean over the last quarter of the logged
# windows). MovieLens runs that learned something ended 0.16-0.28 below ln 63; one seed that did not, 0.04 below it,
# and its embedding scored under MiniLM zero-shot's (benchmarks/RESULTS.md, round 22c). Debian runs end ~2.2 below.
RANDOM_LEVEL_MARGIN = 0.1


class ContrastiveSignalWarning(UserWarning):
    """The contrastive loss ended near its random level: the embedding barely learned from the pairs."""


@dataclass(frozen=True)
class ContrastiveSignal:
    """Mean figures over some of a run's logged training windows: its last quarter, or a range of steps.

    ``loss``: mean contrastive loss; ``retrieval_accuracy``: mean in-batch top-1 accuracy; ``candidates``: rows
    scored per query (the query itself is masked, so ``candidates - 1`` compete); ``windows``: how many logged
    windows were averaged.
    """

    loss: float
    retrieval_accuracy: float
    candidates: float
    windows: int

    @classmethod
    def from_log_history(cls, log_history: Sequence[dict[str, Any]]) -> ContrastiveSignal | None:
        """The signal of ``Trainer.state.log_history``; ``None`` with fewer than 4 logged training windows (too few
        for a quarter) or without the [`NoteLLMTrainer`]'s contrastive figures (logged together each window)."""
        rows = _contrastive_windows(log_history)
        if len(rows) < 4:
            return None
        return cls._mean_of(rows[-(len(rows) // 4) :])

    @classmethod
    def between_steps(cls, log_history: Sequence[dict[str, Any]], first: int, last: int) -> ContrastiveSignal | None:
        """The signal of the windows logged at steps ``first`` to ``last`` (inclusive); ``None`` if there are none."""
        rows = [row for row in _contrastive_windows(log_history) if first <= row.get("step", -1) <= last]
        return cls._mean_of(rows) if rows else None

    @classmethod
    def _mean_of(cls, rows: Sequence[dict[str, Any]]) -> ContrastiveSignal:
        return cls(
            loss=sum(row["loss_contrastive"] for row in rows) / len(rows),
            retrieval_accuracy=sum(row["retrieval_accuracy"] for row in rows) / len(rows),
            candidates=float(rows[-1]["contrastive_candidates"]),
            windows=len(rows),
        )

    @property
    def random_level(self) -> float:
        """ln(candidates - 1): the loss of scores that cannot tell the positive from the rest."""
        return math.log(self.candidates - 1) if self.candidates > 1 else 0.0

    @property
    def below_random(self) -> float:
        return self.random_level - self.loss

    @property
    def learned(self) -> bool:
        """Whether the loss ended at least [`RANDOM_LEVEL_MARGIN`] below its random level."""
        return self.below_random >= RANDOM_LEVEL_MARGIN

    def summary(self) -> str:
        """One line for a run's report: the figures a reader needs to tell a run that learned from one that did not."""
        return (
            f"contrastive loss over the last quarter {self.loss:.3f}, {self.below_random:.3f} below its random level "
            f"ln({self.candidates:.0f} - 1) = {self.random_level:.3f}, in-batch accuracy {self.retrieval_accuracy:.3f}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "random_level": self.random_level,
            "below_random": self.below_random,
            "learned": self.learned,
        }


def _contrastive_windows(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The logged training windows that carry the [`NoteLLMTrainer`]'s contrastive figures (logged together)."""
    keys = ("loss_contrastive", "retrieval_accuracy", "contrastive_candidates")
    return [row for row in log_history if all(key in row for key in keys)]


class ContrastiveSignalCheck(TrainerCallback):
    """Warns at the end of training when the contrastive loss did not end [`RANDOM_LEVEL_MARGIN`] below its random
    level (near it, or above it): the run looks finished, so say it. Silent for a run that logs the contrastive loss
    without training it (``use_contrastive_loss=False``, the w/o GCL ablation): its loss says nothing about the pairs'
    texts."""

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not getattr(args, "use_contrastive_loss", True):
            return
        signal = ContrastiveSignal.from_log_history(state.log_history)
        if signal is None or signal.learned or not state.is_world_process_zero:  # one warning, from the main process
            return
        # A loss above its random level is confidently wrong (e.g. a similarity scale too sharp for the cosines).
        gap = signal.below_random
        position = f"{-gap:.3f} above" if gap < 0 else f"only {gap:.3f} below"
        warnings.warn(
            f"the contrastive loss ended at {signal.loss:.3f} (mean of the last {signal.windows} logged windows), "
            f"{position} its random level ln({signal.candidates:.0f} - 1) = {signal.random_level:.3f} (a run that "
            f"learned ends at least {RANDOM_LEVEL_MARGIN} below it): the embedding has barely learned from the "
            "pairs; check that their texts carry what relates them, or train longer",
            ContrastiveSignalWarning,
            stacklevel=2,
        )


class ContrastiveHoldCheck(TrainerCallback):
    """At ``args.hold_check_steps``: stops a run whose contrastive loss over the second half of those steps is not
    ``args.hold_margin`` below its random level, so that the recipe can start it over with another data order.

    Why: on MovieLens a one-pass run either leaves the random level within its first ~20 steps or stays there for
    most of the pass, runs that stayed scored less, and the data order alone moved one seed from the second kind to
    the first (benchmarks/RESULTS.md, rounds 22c and 29c; round 30: the same seed found no hold in three other
    orders, so a hold is not assured within a few restarts). Dodge et al. (2020, "Fine-Tuning Pretrained Language
    Models: Weight Initializations, Data Orders, and Early Stopping") stop unpromising data orders early for the same
    reason; this reads the training loss only, so no evaluation data is needed. ``held``: ``None`` until decided (or
    when no window was logged in the range, e.g. a run resumed past it), then whether the loss had its hold; every
    process takes the same decision. The recipe starts a stopped run over ([`notellm_hf.training.recipe.train`]) and
    sets ``stops`` to False for its last try, which then only records the decision. ``trainer``: the
    [`NoteLLMTrainer`] it belongs to, whose accelerator shares the decision across processes.
    """

    def __init__(self, trainer: Any) -> None:
        self.trainer, self.held, self.signal, self.stops = trainer, None, None, True

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        steps = args.hold_check_steps
        if self.held is not None or state.global_step < steps:
            return
        self.signal = ContrastiveSignal.between_steps(state.log_history, steps // 2 + 1, steps)
        if self.signal is None:
            return
        no_hold = torch.tensor([float(self.signal.below_random < args.hold_margin)], device=args.device)
        if self.trainer.accelerator.num_processes > 1:
            no_hold = self.trainer.accelerator.reduce(no_hold, reduction="sum")
        self.held = no_hold.item() == 0
        control.should_training_stop = control.should_training_stop or (self.stops and not self.held)
