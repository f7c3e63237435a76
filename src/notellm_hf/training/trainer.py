"""[`NoteLLMTrainer`]: GCL + CSFT from one forward pass, L = (L_cl + alpha * L_gen) / (1 + alpha)."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import EvalLoopOutput

from ..models.notellm.modeling_notellm import NoteLLMOutput
from ..models.notellm.processing_notellm import IGNORE_INDEX
from .contrastive_signal import ContrastiveHoldCheck, ContrastiveSignalCheck
from .data_collator import NoteLLMCollator
from .lexical_distillation import LexicalTeacher
from .lora import unwrap_peft
from .losses import NoteLLMContrastiveLoss
from .partial_finetuning import FrozenPrefixCache, freeze_bottom_layers
from .sampler import SameCategorySampler, StrongPairsFirstSampler
from .training_args import NoteLLMTrainingArguments


def label_tokens(labels: torch.Tensor) -> torch.Tensor:
    """The output tokens the generation loss averages over: next-token targets that are not ignored."""
    return (labels[:, 1:] != IGNORE_INDEX).sum()


def length_sorted_chunks(
    inputs: dict[str, torch.Tensor], size: int
) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """The batch's rows sorted by real length and cut into chunks of ``size`` rows, each without the columns that
    are padding in all of its rows: ``(row indices, chunk inputs)`` pairs. A batch is padded to its longest row, so
    a random batch of notes computes ~30% padding; a chunk of similar lengths computes almost none. Exact: positions
    follow the real tokens and padding is masked, so a row's outputs do not depend on the batch it runs in."""
    mask = inputs["attention_mask"]
    chunks = []
    for rows in torch.argsort(mask.sum(dim=1), stable=True).split(size):
        columns = mask[rows].bool().any(dim=0)
        chunk = {
            key: value[rows][:, columns] if value.shape[:2] == mask.shape else value[rows]
            for key, value in inputs.items()
        }
        chunks.append((rows, chunk))
    return chunks


def _row_order(chunks: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]) -> torch.Tensor:
    """The permutation that puts the chunks' concatenated rows back in batch order."""
    return torch.cat([rows for rows, _ in chunks]).argsort()


class _CollatorEpoch(TrainerCallback):
    """Tells the collator the epoch, so per-pair prompt draws differ between epochs and replay on resume."""

    def __init__(self, collator: NoteLLMCollator) -> None:
        self.collator = collator

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.collator.epoch = int(state.epoch or 0)


class _TrainingTimeBudget(TrainerCallback):
    """Stops training after ``max_train_seconds`` of steps (counted from the first step, so data loading and model
    setup do not count): a fixed wall-time budget, in which a faster machine or precision takes more steps. Every
    process stops at the same step (the decision is shared, so no process waits on a collective the others left)."""

    def __init__(self, trainer: NoteLLMTrainer, seconds: float) -> None:
        self.trainer, self.seconds, self.started = trainer, seconds, None

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        over = torch.tensor([float(time.monotonic() - self.started >= self.seconds)], device=args.device)
        if self.trainer.accelerator.num_processes > 1:
            over = self.trainer.accelerator.reduce(over, reduction="sum")
        if over.item() > 0:
            control.should_training_stop = True


class NoteLLMTrainer(Trainer):
    """A `Trainer` for NoteLLM (plain or PEFT-wrapped) on datasets of related-note pairs.

    ``evaluator(model, tokenizer) -> dict`` (e.g. [`RecallEvaluator`]) runs at each evaluation; its figures
    join the evaluation metrics. Without a ``data_collator`` it builds a [`NoteLLMCollator`] from the model's
    own prompt settings. With ``args.lexical_distillation_weight`` > 0 it needs a ``lexical_teacher``
    ([`LexicalTeacher`] fitted on the training notes), trains on the mixed loss and also logs
    ``loss_lexical_distillation``; evaluation batches score the paper's loss alone.
    With ``args.trainable_layers`` it freezes all but the top layers and replays the frozen layers' outputs
    from a [`FrozenPrefixCache`] (partial fine-tuning; not combinable with LoRA, whose adapters sit below).
    Logs ``loss_contrastive``, ``loss_generation``, ``logit_scale`` (e^tau), ``retrieval_accuracy``
    (in-batch top-1) and ``contrastive_candidates`` (rows scored per query, across processes) next to the loss.
    """

    # compute_loss returns a per-micro-batch mean; the Trainer divides it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        model: nn.Module,
        args: NoteLLMTrainingArguments,
        contrastive_loss: NoteLLMContrastiveLoss | None = None,
        evaluator: Callable[[nn.Module, Any], dict[str, float]] | None = None,
        lexical_teacher: LexicalTeacher | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(args, NoteLLMTrainingArguments):
            raise TypeError("NoteLLMTrainer needs NoteLLMTrainingArguments (alpha, hashtag_ratio, ...)")
        if kwargs.get("data_collator") is None:
            tokenizer = kwargs.get("processing_class")
            if tokenizer is None:
                raise ValueError("pass processing_class=<tokenizer> (or a data_collator)")
            kwargs["data_collator"] = NoteLLMCollator(
                tokenizer, prompt=unwrap_peft(model).note_prompt, hashtag_ratio=args.hashtag_ratio, seed=args.seed
            )
        self.prefix_cache = None
        if args.trainable_layers is not None:
            if hasattr(model, "peft_config"):
                raise ValueError("trainable_layers (partial fine-tuning) and LoRA are alternatives: pick one")
            cut = freeze_bottom_layers(model, args.trainable_layers)
            self.prefix_cache = FrozenPrefixCache(model, cut, max_bytes=int(args.prefix_cache_gb * 2**30))
        if args.fix_tau:
            unwrap_peft(model).logit_scale.requires_grad_(False)
        super().__init__(model=model, args=args, **kwargs)
        self.contrastive_loss = contrastive_loss or NoteLLMContrastiveLoss(
            gather_across_processes=args.gather_across_processes,
            paper_compat=args.paper_compat,
            teacher=lexical_teacher,
            teacher_weight=args.lexical_distillation_weight,
        )
        self.evaluator = evaluator
        if hasattr(self.data_collator, "epoch"):
            self.add_callback(_CollatorEpoch(self.data_collator))
        if args.max_train_seconds is not None:
            self.add_callback(_TrainingTimeBudget(self, args.max_train_seconds))
        self.add_callback(ContrastiveSignalCheck())
        self.hold_check = ContrastiveHoldCheck(self) if args.hold_check_steps else None
        if self.hold_check is not None:
            self.add_callback(self.hold_check)
        self._metrics: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        """With ``args.same_category_batches``: batches whose anchors share a category, the categories read through
        the collator (so pairs of note ids and pairs of note records both work). With
        ``args.strong_pairs_first_steps``: the dataset's highest-``score`` pairs first (a curriculum)."""
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.strong_pairs_first_steps:
            columns = getattr(dataset, "column_names", None) or []
            if "score" not in columns:
                raise ValueError(
                    "strong_pairs_first_steps ranks pairs by the training dataset's 'score' column, which it lacks "
                    f"(columns: {columns})"
                )
            rows_per_step = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
            lead_rows = self.args.strong_pairs_first_steps * rows_per_step
            return StrongPairsFirstSampler(dataset["score"], lead_rows, seed=self.args.order_seed)
        if not self.args.same_category_batches:
            return super()._get_train_sampler(train_dataset)
        if not isinstance(self.data_collator, NoteLLMCollator):
            raise ValueError("same_category_batches reads the anchors' categories through a NoteLLMCollator")
        categories = self.data_collator.anchor_categories(dataset)
        return SameCategorySampler(categories, self.args.train_batch_size, seed=self.args.order_seed)

    def evaluation_loop(
        self,
        dataloader: Any,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        """Adds the evaluator's figures (e.g. dev recall) to the evaluation metrics before they are logged."""
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.evaluator is not None:
            prefix = metric_key_prefix
            figures = self.evaluator(self.accelerator.unwrap_model(self.model), self.processing_class)
            output.metrics.update({f"{prefix}_{key}": value for key, value in figures.items()})
        return output

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """The Trainer's optimizer, with the temperature and the embedding head in groups of their own learning
        rate (``tau_lr_multiplier``, ``head_lr_multiplier`` times ``learning_rate``); schedules scale every group."""
        optimizer = super().create_optimizer(model)
        multipliers = {"logit_scale": self.args.tau_lr_multiplier, "embedding_head": self.args.head_lr_multiplier}
        if all(value == 1.0 for value in multipliers.values()):
            return optimizer
        names = {id(p): name for name, p in (model or self.model).named_parameters()}

        def multiplier(parameter: torch.Tensor) -> float:
            return next((m for part, m in multipliers.items() if part in names[id(parameter)]), 1.0)

        groups = []
        for group in optimizer.param_groups:
            by_multiplier: dict[float, list[torch.Tensor]] = defaultdict(list)
            for parameter in group["params"]:
                by_multiplier[multiplier(parameter)].append(parameter)
            groups += [{**group, "params": ps, "lr": group["lr"] * m} for m, ps in by_multiplier.items()]
        optimizer.param_groups.clear()  # nothing has stepped yet: regrouping leaves no state behind
        for group in groups:
            optimizer.add_param_group(group)
        return optimizer

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        # Weight decay would pull tau towards 0 (scale 1); the temperature is not a weight.
        return [name for name in super().get_decay_parameter_names(model) if "logit_scale" not in name]

    def _record(self, model: nn.Module, contrastive: Any, generation: torch.Tensor, logit_scale: torch.Tensor) -> None:
        metrics = self._metrics["train" if model.training else "eval"]
        metrics["loss_contrastive"].append(contrastive.info_nce.item())
        if contrastive.distillation is not None:
            metrics["loss_lexical_distillation"].append(contrastive.distillation.item())
        metrics["loss_generation"].append(generation.item())
        metrics["logit_scale"].append(logit_scale.item())
        metrics["retrieval_accuracy"].append(contrastive.accuracy.item())
        metrics["contrastive_candidates"].append(float(contrastive.candidates))

    def _forward(self, model: nn.Module, inputs: dict[str, torch.Tensor]) -> Any:
        if self.prefix_cache is None:
            return model(**inputs)
        # The frozen layers run outside the model's forward, so they need the run's autocast (bf16 where chosen)
        # themselves: left in fp32 they took 2.3 of 4.0 s per step on an AMX CPU.
        with self.accelerator.autocast(), self.prefix_cache.applied(inputs["input_ids"], inputs.get("attention_mask")):
            return model(**inputs)

    def _chunked_forward(self, model: nn.Module, inputs: dict[str, torch.Tensor]) -> NoteLLMOutput:
        """The batch's forward as [`length_sorted_chunks`] stitched back together: embeddings in row order, the
        generation loss as the chunks' means weighted by their output tokens (which is the batch's mean)."""
        chunks = length_sorted_chunks(inputs, self.args.length_sorted_chunk_size)
        outputs = [self._forward(model, chunk) for _, chunk in chunks]
        loss = None
        if "labels" in inputs:
            total = label_tokens(inputs["labels"]).clamp(min=1)
            loss = sum(
                out.loss * label_tokens(chunk["labels"]) / total
                for out, (_, chunk) in zip(outputs, chunks, strict=True)
            )
        embeddings = torch.cat([out.embeddings for out in outputs])[_row_order(chunks)]
        return NoteLLMOutput(loss=loss, embeddings=embeddings, logit_scale=outputs[0].logit_scale)

    def _batch_centred(self, model: nn.Module, embeddings: torch.Tensor) -> torch.Tensor:
        """With the model's ``center_embeddings``, in training: the batch's head outputs minus their own mean (the
        gradient flows through it, as in batch norm), and that mean moved into the running ``embedding_center`` that
        serving subtracts. Otherwise the embeddings as they are. Per process: each rank centres its own rows."""
        notellm = unwrap_peft(self.accelerator.unwrap_model(model))
        if not (notellm.config.center_embeddings and model.training):
            return embeddings
        mean = embeddings.mean(dim=0)
        with torch.no_grad():
            center = notellm.embedding_center
            center.lerp_(mean.detach().to(center.dtype), self.args.embedding_center_momentum)
        return embeddings - mean

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        inputs = dict(inputs)
        note_keys, query_rows = inputs.pop("note_keys"), inputs.pop("query_rows", None)
        chunked = self.args.length_sorted_chunk_size is not None
        outputs = self._chunked_forward(model, inputs) if chunked else self._forward(model, inputs)
        embeddings = self._batch_centred(model, outputs.embeddings)
        # The teacher knows training notes only: evaluation batches score the paper's loss.
        contrastive = self.contrastive_loss(embeddings, note_keys, outputs.logit_scale, query_rows, model.training)
        generation = outputs.loss if outputs.loss is not None else contrastive.loss.new_zeros(())
        if self.args.use_contrastive_loss:
            loss = (contrastive.loss + self.args.alpha * generation) / (1.0 + self.args.alpha)
        else:  # 'w/o GCL': the contrastive loss is only watched
            loss = generation
        self._record(model, contrastive, generation, outputs.logit_scale)
        return (loss, outputs) if return_outputs else loss

    def training_step(
        self, model: nn.Module, inputs: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | None = None
    ) -> torch.Tensor:
        if not self.args.mini_batch_size or not self.args.use_contrastive_loss:
            return super().training_step(model, inputs, num_items_in_batch)
        model.train()
        return self._grad_cache_step(model, self._prepare_inputs(inputs))

    def _grad_cache_step(self, model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """GradCache (Gao et al., 2021) for the shared-sequence joint loss.

        Pass 1 embeds every chunk ([`length_sorted_chunks`]: little padding) without gradient and back-propagates
        L_cl to the (cached) embeddings and to the scale. Pass 2 re-runs each chunk with gradient (same dropout
        masks: the RNG state is replayed) and back-propagates <cached grad, embeddings> plus the chunk's share of
        alpha * L_gen in one backward, so parameter gradients equal those of the full batch while activations
        exist for one chunk at a time.
        """
        inputs = dict(inputs)
        note_keys, query_rows = inputs.pop("note_keys"), inputs.pop("query_rows", None)
        chunks = length_sorted_chunks(inputs, self.args.mini_batch_size)
        rng_states, embeddings = [], []
        with torch.no_grad():
            for _, chunk in chunks:
                rng_states.append(torch.get_rng_state())
                out = self._forward(model, {k: v for k, v in chunk.items() if k != "labels"})
                embeddings.append(out.embeddings)
        cached = torch.cat(embeddings)[_row_order(chunks)].requires_grad_(True)
        scale = out.logit_scale.detach().requires_grad_(True)
        alpha, steps = self.args.alpha, self.current_gradient_accumulation_steps
        contrastive = self.contrastive_loss(self._batch_centred(model, cached), note_keys, scale, query_rows)
        (contrastive.loss / (1.0 + alpha)).backward()
        total = label_tokens(inputs["labels"]).clamp(min=1)
        generation = torch.zeros((), device=cached.device)
        for index, ((rows, chunk), state) in enumerate(zip(chunks, rng_states, strict=True)):
            torch.set_rng_state(state)
            last = index == len(chunks) - 1
            with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                out = self._forward(model, chunk)
                surrogate = (out.embeddings * cached.grad[rows]).sum()
                if index == 0:  # the scale's gradient, through a forward the wrapper (DDP) sees
                    surrogate = surrogate + scale.grad * out.logit_scale
                share = label_tokens(chunk["labels"]) / total
                surrogate = surrogate + alpha / (1.0 + alpha) * out.loss * share
                self.accelerator.backward(surrogate / steps)
            generation += out.loss.detach() * share
        self._record(model, contrastive, generation, scale)
        return ((contrastive.loss.detach() + alpha * generation) / (1.0 + alpha)) / steps

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "eval" if any(key.startswith("eval_") for key in logs) else "train"
        prefix = "eval_" if mode == "eval" else ""
        averaged = {
            f"{prefix}{key}": sum(values) / len(values) for key, values in self._metrics[mode].items() if values
        }
        self._metrics[mode].clear()
        super().log({**logs, **averaged}, start_time)
