"""The training recipe behind ``recipes/train.py``: any note table + click log or pairs file in, a NoteLLM out.

Arguments follow the HF recipe layout: trl's ``TrlParser`` reads ``--config <yaml>`` with command-line
overrides into [`RECIPE_ARGUMENTS`]: trl's ``ModelConfig`` (the backbone, LoRA), [`NoteLLMArguments`] (what
NoteLLM adds to it), [`DataArguments`] (notes and pairs), [`CooccurrenceArguments`] (how clicks become pairs)
and [`NoteLLMTrainingArguments`].
"""

from __future__ import annotations

import copy
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import TrainerCallback, set_seed
from trl import ModelConfig, TrlParser

from ..backbones import resolve_backbone
from ..data.arguments import DataArguments
from ..data.io import write_text
from ..data.pairs import CooccurrenceArguments, notes_in_pairs
from ..evaluation.baselines import minilm_path, sentence_transformer_embeddings
from ..evaluation.evaluator import RecallEvaluator
from ..models.arguments import NoteLLMArguments
from ..models.notellm.modeling_notellm import NoteLLMForEmbeddingAndGeneration
from .data_collator import NoteLLMCollator
from .hard_negatives import mine_hard_negatives
from .head_init import init_embedding_head, init_embedding_head_from_pairs
from .lexical_block import fit_lexical_block
from .lexical_distillation import LexicalTeacher
from .lora import apply_lora
from .trainer import NoteLLMTrainer
from .training_args import NoteLLMTrainingArguments

RECIPE_ARGUMENTS = (ModelConfig, NoteLLMArguments, DataArguments, CooccurrenceArguments, NoteLLMTrainingArguments)


def parse_recipe_args(args: Sequence[str] | None = None) -> tuple[Any, ...]:
    """[`RECIPE_ARGUMENTS`] from ``--config <yaml>`` and flags (``args``, default ``sys.argv``); unknown or
    mistyped keys fail here, before any model loads. Returns them in that order, ready for [`train`]."""
    return tuple(TrlParser(RECIPE_ARGUMENTS).parse_args_and_config(args=args, fail_with_unknown_args=True))


def minilm_hard_negatives(notes: dict[str, Any], pairs: Any, data_args: DataArguments) -> list[list[str]]:
    """Hard negatives of each training pair, mined among the training pairs' notes with all-MiniLM-L6-v2 (cheap,
    and independent of the model being trained)."""
    from sentence_transformers import SentenceTransformer  # the `eval` extra

    pool = notes_in_pairs(pairs)
    encoder = SentenceTransformer(minilm_path())
    embeddings = sentence_transformer_embeddings(encoder, [notes[i] for i in pool])
    return mine_hard_negatives(
        pairs, pool, embeddings, per_pair=data_args.hard_negatives, margin=data_args.hard_negative_margin
    )


def train(
    model_args: ModelConfig,
    notellm_args: NoteLLMArguments,
    data_args: DataArguments,
    pairs_args: CooccurrenceArguments,
    training_args: NoteLLMTrainingArguments,
    callbacks: list[TrainerCallback] | None = None,
) -> NoteLLMTrainer:
    """Loads data and backbone, trains with the joint loss, saves ``<output_dir>/model`` (merged, loadable)."""
    if model_args.use_peft and training_args.trainable_layers is not None:
        raise ValueError("use_peft (LoRA) and trainable_layers (partial fine-tuning) are alternatives: pick one")
    set_seed(training_args.seed)
    notes, train_pairs, eval_pairs = data_args.load(pairs_args, training_args.seed)
    if training_args.process_index == 0:
        steps = (
            f"{training_args.max_steps} steps"
            if training_args.max_steps > 0
            else f"{training_args.num_train_epochs} epochs"
        )
        print(
            f"training NoteLLM from {model_args.model_name_or_path} on {len(train_pairs):,} pairs: {steps} of "
            f"{training_args.per_device_train_batch_size} pairs per device, "
            f"{'bf16' if training_args.bf16 else 'fp16' if training_args.fp16 else 'fp32'}, head "
            f"{notellm_args.embedding_head_init}; the progress bar shows the time left",
            flush=True,
        )
    dtype = None if model_args.dtype in (None, "auto") else model_args.dtype
    model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(
        resolve_backbone(model_args.model_name_or_path), dtype=dtype, **notellm_args.config_kwargs()
    )
    # Where training runs, as the Trainer would put it: the fits below forward notes through the model, and left on
    # the host CPU the head's 512 notes took 5.6 min per run on the H200 machine (three runs side by side, 16 cores).
    model.to(training_args.device)
    # Fitted on training notes only: the test pool stays unseen.
    in_pairs = notes_in_pairs(train_pairs)
    if notellm_args.lexical_block_weight > 0:
        fit_lexical_block(model, tokenizer, [notes[i] for i in in_pairs])
    head_init, head_notes = notellm_args.embedding_head_init, notellm_args.head_init_notes
    # In the run's precision: bf16 where chosen (3.8x faster forwards on an AMX CPU).
    with torch.autocast(training_args.device.type, dtype=torch.bfloat16, enabled=training_args.bf16):
        if head_init == "pair_cca":
            chosen = train_pairs.iloc[
                random.Random(training_args.seed).sample(
                    range(len(train_pairs)), min(head_notes // 2, len(train_pairs))
                )
            ]
            anchors, positives = [notes[i] for i in chosen.note_id_a], [notes[i] for i in chosen.note_id_b]
            init_embedding_head_from_pairs(model, tokenizer, anchors, positives)
        elif head_init != "random":
            sample = random.Random(training_args.seed).sample(in_pairs, min(head_notes, len(in_pairs)))
            init_embedding_head(model, tokenizer, [notes[i] for i in sample], whiten=head_init == "pca_whitened")
    # Each restart of hold_check_steps starts from this same initial model (backbone and head).
    initial_model = copy.deepcopy(model) if training_args.hold_check_steps else None

    def with_adapters(model: NoteLLMForEmbeddingAndGeneration) -> Any:
        if not model_args.use_peft:
            return model
        lora = {"r": model_args.lora_r, "lora_alpha": model_args.lora_alpha, "lora_dropout": model_args.lora_dropout}
        if model_args.lora_target_modules:
            lora["target_modules"] = model_args.lora_target_modules
        return apply_lora(model, **lora)

    model = with_adapters(model)
    rows = {
        "anchor": train_pairs.note_id_a.tolist(),
        "positive": train_pairs.note_id_b.tolist(),
        "pair_index": list(range(len(train_pairs))),  # keys the pair's prompt draws (exact resume)
        "score": train_pairs.score.tolist(),  # what strong_pairs_first_steps ranks by
    }
    if "negatives" in train_pairs:  # from data_args.hard_negatives_file
        rows["negatives"] = train_pairs.negatives.tolist()
    elif data_args.hard_negatives:
        rows["negatives"] = minilm_hard_negatives(notes, train_pairs, data_args)
    collator = NoteLLMCollator(
        tokenizer,
        prompt=notellm_args.prompt(),
        hashtag_ratio=training_args.hashtag_ratio,
        seed=training_args.seed,
        notes=notes,
    )
    if training_args.train_sampling_strategy == "group_by_length":
        pairs = [{"anchor": a, "positive": b} for a, b in zip(rows["anchor"], rows["positive"], strict=True)]
        rows[training_args.length_column_name] = collator.pair_lengths(pairs)
    lexical_teacher = None
    if training_args.lexical_distillation_weight > 0:  # every note a batch can hold, and training notes only
        batch_notes = set(in_pairs).union(*map(set, rows.get("negatives", [])))
        scale = training_args.lexical_distillation_scale
        lexical_teacher = LexicalTeacher([notes[i] for i in sorted(batch_notes)], scale)
    evaluator = eval_dataset = None
    if eval_pairs is not None and len(eval_pairs):
        pool = notes_in_pairs(eval_pairs)
        evaluator = RecallEvaluator([notes[i] for i in pool], eval_pairs)
        eval_dataset = Dataset.from_dict(
            {"anchor": eval_pairs.note_id_a.tolist(), "positive": eval_pairs.note_id_b.tolist()}
        )
    restarts: list[dict[str, Any]] = []
    resume = training_args.resume_from_checkpoint
    started = time.time()
    while True:
        trainer = NoteLLMTrainer(
            model=model,
            args=training_args,
            train_dataset=Dataset.from_dict(rows).shuffle(seed=training_args.seed),
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            data_collator=collator,
            evaluator=evaluator,
            lexical_teacher=lexical_teacher,
            callbacks=callbacks,
        )
        check = trainer.hold_check
        if check is not None:
            check.stops = len(restarts) < training_args.max_restarts  # the last try trains to the end
        trainer.train(resume_from_checkpoint=resume)
        if check is None or check.held is not False or not check.stops:
            break
        data_seed = training_args.order_seed
        restarts.append({"data_seed": data_seed, "steps": trainer.state.global_step, **check.signal.to_dict()})
        if training_args.process_index == 0:
            print(
                f"no hold at step {trainer.state.global_step}: the contrastive loss was "
                f"{check.signal.below_random:.3f} below its random level (hold_margin {training_args.hold_margin}); "
                f"starting over with data_seed {data_seed + 1}",
                flush=True,
            )
        training_args.data_seed, resume = data_seed + 1, None  # the args then name the order the model trained on
        last_try = len(restarts) == training_args.max_restarts
        model = with_adapters(initial_model if last_try else copy.deepcopy(initial_model))  # no copy for the last
    train_seconds = time.time() - started
    if trainer.is_world_process_zero():
        final = model.merge_and_unload() if model_args.use_peft else model
        out = Path(training_args.output_dir) / "model"
        final.save_pretrained(out)
        tokenizer.save_pretrained(out)
        info = {
            "world_size": training_args.world_size,
            "max_steps": training_args.max_steps,
            "steps_done": trainer.state.global_step,
            "train_seconds": round(train_seconds, 1),  # restarts included
            "data_seed": training_args.order_seed,
            "restarts": restarts,  # the tries hold_check_steps stopped: their data_seed, step and contrastive signal
            "hold": None
            if trainer.hold_check is None or trainer.hold_check.signal is None
            else {"held": trainer.hold_check.held, **trainer.hold_check.signal.to_dict()},
            "train_pairs": len(train_pairs),
            "eval_pairs": 0 if eval_pairs is None else len(eval_pairs),
            "model_args": {
                k: v for k, v in asdict(model_args).items() if isinstance(v, (str, int, float, bool, list, type(None)))
            },
            "notellm_args": asdict(notellm_args),
            "data_args": asdict(data_args),
            "pairs_args": asdict(pairs_args),
            "log_history": trainer.state.log_history,
            # What the frozen-prefix cache replayed (hits) against what it computed (misses) and holds (bytes).
            "prefix_cache": None
            if trainer.prefix_cache is None
            else {
                "hits": trainer.prefix_cache.hits,
                "misses": trainer.prefix_cache.misses,
                "bytes": trainer.prefix_cache.bytes,
            },
        }
        write_text(Path(training_args.output_dir) / "run_info.json", json.dumps(info, indent=2, default=str) + "\n")
    return trainer


def _trained_log_history(recipe_args: tuple[Any, ...]) -> list[dict]:
    """The child's work, at module level so that the spawned process can import it by name."""
    return train(*recipe_args).state.log_history


def _exit_with_parent(parent: int, poll_seconds: float = 1.0) -> None:
    """Started in the training child: ends it once ``parent`` is gone. A parent killed by SIGTERM or SIGKILL (a job's
    timeout, `kill`) takes no child with it, and the orphan would train on for the rest of its budget, taking the CPU
    from whatever runs next (it did: RESULTS.md, session 39)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def training_executor() -> ProcessPoolExecutor:
    """The one-worker executor [`train_in_child_process`] trains in: a spawned process that exits with its parent."""
    import multiprocessing

    return ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent, initargs=(os.getpid(),)
    )


def train_in_child_process(recipe_args: tuple[Any, ...]) -> list[dict]:
    """[`train`] in a spawned child process; returns its log history (the model and ``run_info.json`` are saved as
    ``train`` saves them). A process that has trained keeps a fragmented heap under glibc's malloc, and encoding
    after it ran 2.3x slower (the demo's pool: 211 s vs 90 s in a fresh process on the AMX Xeon;
    benchmarks/allocator_probe.py, RESULTS.md "Memory allocator"), so callers that evaluate afterwards train here.
    The child is an executor's worker, not a `multiprocessing.Pool`'s: a pool's workers are daemonic and may not start
    the data loader's worker processes (``dataloader_num_workers`` > 0, as the GPU config sets)."""
    with training_executor() as executor:
        return executor.submit(_trained_log_history, recipe_args).result()
