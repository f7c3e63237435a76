"""Training arguments of [`NoteLLMTrainer`]: the paper's GCL/CSFT settings on top of `TrainingArguments`."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from ..precision import native_bf16


@dataclass
class NoteLLMTrainingArguments(TrainingArguments):
    """Defaults follow the paper: alpha = 0.01, r = 40% of notes on the hashtag prompt."""

    alpha: float = field(
        default=0.01, metadata={"help": "Weight of the generation loss: L = (L_cl + alpha * L_gen) / (1 + alpha)."}
    )
    use_contrastive_loss: bool = field(
        default=True,
        metadata={"help": "False trains on the generation loss alone (the paper's 'w/o GCL' ablation)."},
    )
    hashtag_ratio: float = field(default=0.4, metadata={"help": "Share r of notes rendered with the hashtag prompt."})
    gather_across_processes: bool = field(
        default=True, metadata={"help": "Use the notes of every process as in-batch negatives."}
    )
    paper_compat: bool = field(
        default=False,
        metadata={"help": "Gather other processes' embeddings without gradient, as the authors' code does."},
    )
    mini_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "GradCache: embed the batch in chunks of this many notes, so the contrastive batch can exceed "
            "what fits in memory (same gradients as the full batch). Off by default."
        },
    )
    length_sorted_chunk_size: int | None = field(
        default=None,
        metadata={
            "help": "Run each batch's forward in chunks of this many rows, sorted by length and each trimmed to its "
            "longest row, then one backward over all: the same loss and gradients with fewer padding tokens (a "
            "random 64-row Debian batch is 71% real tokens, in chunks of 8 it is 96%). Memory stays that of the "
            "whole batch (GradCache's mini_batch_size lowers it, and sorts its chunks the same way). Off by default."
        },
    )
    trainable_layers: int | None = field(
        default=None,
        metadata={
            "help": "Partial fine-tuning: train only the top k decoder layers (plus final norm and heads); the "
            "frozen layers' outputs are computed once per distinct sequence and reused across steps and epochs."
        },
    )
    prefix_cache_gb: float = field(
        default=8.0, metadata={"help": "Memory bound of the frozen-layer output cache of partial fine-tuning."}
    )
    tau_lr_multiplier: float = field(
        default=1.0,
        metadata={
            "help": "Learning rate of the temperature tau as a multiple of learning_rate (CLIP-style trainers give "
            "it its own): at the small rates of LLM fine-tuning a shared rate barely moves it."
        },
    )
    fix_tau: bool = field(default=False, metadata={"help": "Keep tau at initial_tau (a fixed similarity scale)."})
    head_lr_multiplier: float = field(
        default=1.0, metadata={"help": "Learning rate of the embedding head as a multiple of learning_rate."}
    )
    lexical_distillation_weight: float = field(
        default=0.0,
        metadata={
            "help": "Share w of the contrastive target taken from a TF-IDF teacher: the loss becomes (1 - w) InfoNCE + "
            "w x the cross-entropy against the softmax of the in-batch notes' TF-IDF cosines (IDF over the training "
            "notes), so the embedding also learns which unrelated notes share rare words (not in the paper). 0 "
            "(default): the paper's loss."
        },
    )
    lexical_distillation_scale: float = field(
        default=20.0,
        metadata={"help": "The TF-IDF teacher's softmax scale over cosines (the student's starts at e^3 = 20)."},
    )
    embedding_center_momentum: float = field(
        default=0.1,
        metadata={
            "help": "With the model's center_embeddings: how far each training batch's mean moves the running mean "
            "that serving subtracts (batch norm's default, 0.1: about the last ten batches count)."
        },
    )
    auto_bf16: bool = field(
        default=False,
        metadata={
            "help": "Choose bf16 autocast where the device computes bf16 natively (CUDA GPUs with bf16; CPUs with "
            "AMX or avx512_bf16) and fp32 elsewhere; overrides bf16."
        },
    )
    max_train_seconds: float | None = field(
        default=None,
        metadata={
            "help": "Stop after this many seconds of training steps even before max_steps: a wall-time budget, "
            "in which a CPU with native bf16 takes more steps than one without (run_info.json records the steps)."
        },
    )
    same_category_batches: bool = field(
        default=False,
        metadata={
            "help": "Compose each batch of pairs whose anchors share a category (topic-aware sampling): the other "
            "anchors, half of each note's in-batch negatives, then share its category, so the category alone no "
            "longer ranks the positive first. A category's last rows that do not fill a batch are pooled into mixed "
            "batches. Off by default (random batches)."
        },
    )
    strong_pairs_first_steps: int = field(
        default=0,
        metadata={
            "help": "A curriculum: the first N optimizer steps train on the pairs of highest co-occurrence score "
            "(the dataset's 'score' column; the strongest N x batch pairs, in random order), the rest of the first "
            "epoch and later epochs on random batches. Every pair is still seen once per epoch. 0 (default): random "
            "batches from the start."
        },
    )
    hold_check_steps: int = field(
        default=0,
        metadata={
            "help": "Restart a run whose contrastive loss got no hold: at this step, if the mean contrastive loss of "
            "the logged windows in the second half of these steps is not at least hold_margin below its random level "
            "ln(candidates - 1), training starts over from the same initial model with the next data order "
            "(data_seed + 1), at most max_restarts times; the last try trains on whatever its loss. "
            "max_train_seconds counts per try; run_info.json's train_seconds covers all tries. 0 (default): no check."
        },
    )
    hold_margin: float = field(
        default=0.03, metadata={"help": "How far below its random level the loss must be at hold_check_steps."}
    )
    max_restarts: int = field(default=2, metadata={"help": "How many times hold_check_steps may restart a run."})
    # The collator needs the raw note columns; contrastive batches must be equal across processes.
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep note columns for the collator."})
    dataloader_drop_last: bool = field(default=True, metadata={"help": "Drop the last incomplete batch."})

    @property
    def order_seed(self) -> int:
        """The seed of the training order: ``data_seed`` where set, else ``seed`` (as for the Trainer's samplers)."""
        return self.seed if self.data_seed is None else self.data_seed

    def __post_init__(self) -> None:
        if self.auto_bf16:  # before TrainingArguments checks bf16 against the device
            self.bf16 = native_bf16(self.use_cpu)
        super().__post_init__()
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if not 0.0 <= self.hashtag_ratio <= 1.0:
            raise ValueError(f"hashtag_ratio must be in [0, 1], got {self.hashtag_ratio}")
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be >= 1, got {self.mini_batch_size}")
        if self.length_sorted_chunk_size is not None and self.length_sorted_chunk_size < 1:
            raise ValueError(f"length_sorted_chunk_size must be >= 1, got {self.length_sorted_chunk_size}")
        if self.length_sorted_chunk_size is not None and self.mini_batch_size is not None:
            raise ValueError(
                "length_sorted_chunk_size and mini_batch_size (GradCache, whose chunks are length-sorted already) "
                "are alternatives: pick one"
            )
        if self.trainable_layers is not None and self.trainable_layers < 1:
            raise ValueError(f"trainable_layers must be >= 1, got {self.trainable_layers}")
        for name in ("tau_lr_multiplier", "head_lr_multiplier"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.lexical_distillation_weight <= 1.0:
            raise ValueError(f"lexical_distillation_weight must be in [0, 1], got {self.lexical_distillation_weight}")
        if not self.lexical_distillation_scale > 0:
            raise ValueError(f"lexical_distillation_scale must be > 0, got {self.lexical_distillation_scale}")
        if not 0 < self.embedding_center_momentum <= 1:
            raise ValueError(f"embedding_center_momentum must be in (0, 1], got {self.embedding_center_momentum}")
        if self.max_train_seconds is not None and self.max_train_seconds < 0:
            raise ValueError(f"max_train_seconds must be >= 0, got {self.max_train_seconds}")
        if self.prefix_cache_gb < 0:
            raise ValueError(f"prefix_cache_gb must be >= 0, got {self.prefix_cache_gb}")
        if self.strong_pairs_first_steps < 0:
            raise ValueError(f"strong_pairs_first_steps must be >= 0, got {self.strong_pairs_first_steps}")
        if self.same_category_batches and self.strong_pairs_first_steps:
            raise ValueError("same_category_batches and strong_pairs_first_steps both set the order: pick one")
        for name in ("same_category_batches", "strong_pairs_first_steps"):
            if getattr(self, name) and self.train_sampling_strategy != "random":
                raise ValueError(
                    f"{name} sets the batches' order itself; train_sampling_strategy "
                    f"{self.train_sampling_strategy!r} would be ignored: leave it 'random'"
                )
        for name in ("hold_check_steps", "hold_margin", "max_restarts"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.hold_check_steps:
            if not self.use_contrastive_loss:
                raise ValueError("hold_check_steps reads the contrastive loss, which use_contrastive_loss=False skips")
            if self.logging_strategy != "steps" or not 1 <= self.logging_steps <= self.hold_check_steps / 2:
                raise ValueError(
                    "hold_check_steps reads the windows logged in the second half of its steps: log every "
                    f"logging_steps <= hold_check_steps / 2 = {self.hold_check_steps / 2:g} steps (got "
                    f"logging_strategy {self.logging_strategy!r}, logging_steps {self.logging_steps})"
                )
        if self.remove_unused_columns:
            raise ValueError("remove_unused_columns=True would drop the note columns the NoteLLM collator reads")
