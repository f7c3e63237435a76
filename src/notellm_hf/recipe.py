"""The training recipe behind ``recipes/train.py``: any note table + click log or pairs file in, a NoteLLM out.

Arguments follow the HF recipe layout (trl's ``TrlParser`` with ``ModelConfig``, [`DataArguments`] and
[`NoteLLMTrainingArguments`], read from ``--config <yaml>`` with command-line overrides).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset
from transformers import TrainerCallback, set_seed

from .collator import NoteLLMCollator
from .data.benchmark_set import load_benchmark_set
from .data.notes import load_notes, notes_by_id
from .data.pairs import build_cooccurrence_pairs, load_pairs
from .data.sources import cache_dir
from .evaluation import RecallEvaluator
from .lora import apply_lora
from .modeling_notellm import NoteLLMForEmbeddingAndGeneration, load_backbone
from .prompting_notellm import Note, NoteCompressionPrompt
from .trainer import NoteLLMTrainer
from .training_args import NoteLLMTrainingArguments

PACKAGE_SCHEME = "package:"


@dataclass
class DataArguments:
    """Where the notes and their related pairs come from, and how notes become prompts."""

    benchmark: str | None = field(default=None, metadata={"help": "A prepared benchmark set (notellm data prepare)."})
    notes: str | None = field(default=None, metadata={"help": "Note table (.jsonl, .parquet, .csv)."})
    clicks: str | None = field(
        default=None, metadata={"help": "Click log (user_id, note_id, timestamp) to build pairs."}
    )
    pairs: str | None = field(default=None, metadata={"help": "Precomputed pairs (note_id_a, note_id_b[, score])."})
    eval_pairs: str | None = field(default=None, metadata={"help": "Held-out pairs for the recall evaluator."})
    pairs_upper: float = field(default=30.0, metadata={"help": "Co-occurrence score ceiling (paper: 30)."})
    pairs_lower: float = field(default=0.01, metadata={"help": "Co-occurrence score floor (paper: 0.01)."})
    pairs_top_t: int = field(default=10, metadata={"help": "Related notes kept per note (paper: 10)."})
    pairs_ordered: bool = field(default=True, metadata={"help": "Count A -> B only when B was clicked after A."})
    pairs_max_history: int | None = field(default=None, metadata={"help": "Keep each user's M most recent clicks."})
    max_train_pairs: int | None = field(default=None, metadata={"help": "Sample at most this many training pairs."})
    max_eval_pairs: int | None = field(default=None, metadata={"help": "Sample at most this many eval pairs."})
    embedding_dim: int = field(default=128, metadata={"help": "Note embedding size d (paper: 128)."})
    readout: str = field(default="before_emb", metadata={"help": "'before_emb' (paper) or 'emb'."})
    initial_tau: float = field(default=3.0, metadata={"help": "Initial log-scale tau of the contrastive loss."})
    prompt_preset: str = field(default="en", metadata={"help": "Prompt wording: 'en' (paper) or 'zh' (authors' code)."})
    title_max_tokens: int = field(default=20, metadata={"help": "Title token budget (paper: 20)."})
    content_max_tokens: int = field(default=80, metadata={"help": "Content token budget (paper: 80)."})

    def __post_init__(self) -> None:
        for name in ("benchmark", "notes", "clicks", "pairs", "eval_pairs"):
            if getattr(self, name):
                setattr(self, name, str(Path(getattr(self, name)).expanduser()))

    def validate(self) -> None:
        """Checked by `train` before anything loads (not in __post_init__, so unknown keys are reported first)."""
        if self.benchmark:
            if self.notes or self.clicks or self.pairs:
                raise ValueError("give either benchmark or notes with clicks/pairs, not both")
        elif not self.notes or bool(self.clicks) == bool(self.pairs):
            raise ValueError("give notes and exactly one of clicks or pairs (or a prepared benchmark)")


def resolve_backbone(source: str) -> str:
    """A loadable backbone location: ``package:<module>/<file>`` points into an installed package, and a
    ``.gguf`` file is converted once to a safetensors folder in the cache (later loads are ~6x faster)."""
    if source.startswith(PACKAGE_SCHEME):
        module, _, filename = source[len(PACKAGE_SCHEME) :].partition("/")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"backbone {source!r}: package {module!r} is not installed")
        source = str(Path(next(iter(spec.submodule_search_locations))) / filename)
    if not source.endswith(".gguf"):
        return source
    path = Path(source)
    if not path.exists():
        raise ValueError(f"backbone {source!r} does not exist")
    folder = cache_dir() / "backbones" / path.stem
    if not (folder / "config.json").exists():
        model, tokenizer = load_backbone(path)
        partial = folder.with_name(folder.name + ".partial")
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        partial.rename(folder)
    return str(folder)


def _sample(pairs: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    if limit is None or len(pairs) <= limit:
        return pairs
    return pairs.sample(n=limit, random_state=seed).reset_index(drop=True)


def load_training_data(args: DataArguments, seed: int) -> tuple[dict[str, Note], pd.DataFrame, pd.DataFrame | None]:
    """(notes by id, training pairs, eval pairs or None), validated."""
    if args.benchmark:
        benchmark = load_benchmark_set(args.benchmark)
        notes = notes_by_id(benchmark.notes)
        train_pairs, eval_pairs = benchmark.train_pairs, benchmark.test_pairs
    else:
        notes = notes_by_id(load_notes(args.notes))
        if args.clicks:
            train_pairs = build_cooccurrence_pairs(
                args.clicks,
                upper=args.pairs_upper,
                lower=args.pairs_lower,
                top_t=args.pairs_top_t,
                ordered=args.pairs_ordered,
                max_history=args.pairs_max_history,
                known_note_ids=list(notes),
                on_unknown="drop",
            )
        else:
            train_pairs = load_pairs(args.pairs, known_note_ids=notes)
        eval_pairs = load_pairs(args.eval_pairs, known_note_ids=notes) if args.eval_pairs else None
    if len(train_pairs) == 0:
        raise ValueError("no training pairs: check the pair thresholds or the pairs file")
    eval_pairs = None if eval_pairs is None else _sample(eval_pairs, args.max_eval_pairs, seed)
    return notes, _sample(train_pairs, args.max_train_pairs, seed), eval_pairs


def train(
    model_args: Any,
    data_args: DataArguments,
    training_args: NoteLLMTrainingArguments,
    callbacks: list[TrainerCallback] | None = None,
) -> NoteLLMTrainer:
    """Loads data and backbone, trains with the joint loss, saves ``<output_dir>/model`` (merged, loadable)."""
    data_args.validate()
    if model_args.use_peft and training_args.trainable_layers is not None:
        raise ValueError("use_peft (LoRA) and trainable_layers (partial fine-tuning) are alternatives: pick one")
    set_seed(training_args.seed)
    notes, train_pairs, eval_pairs = load_training_data(data_args, training_args.seed)
    prompt = NoteCompressionPrompt(
        data_args.prompt_preset,
        title_max_tokens=data_args.title_max_tokens,
        content_max_tokens=data_args.content_max_tokens,
    )
    dtype = None if model_args.dtype in (None, "auto") else model_args.dtype
    model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(
        resolve_backbone(model_args.model_name_or_path),
        dtype=dtype,
        embedding_dim=data_args.embedding_dim,
        readout=data_args.readout,
        initial_tau=data_args.initial_tau,
        prompt=prompt.to_dict(),
    )
    if model_args.use_peft:
        lora = {"r": model_args.lora_r, "lora_alpha": model_args.lora_alpha, "lora_dropout": model_args.lora_dropout}
        if model_args.lora_target_modules:
            lora["target_modules"] = model_args.lora_target_modules
        model = apply_lora(model, **lora)
    rows = {
        "anchor": train_pairs.note_id_a.tolist(),
        "positive": train_pairs.note_id_b.tolist(),
        "pair_index": list(range(len(train_pairs))),  # keys the pair's prompt draws (exact resume)
    }
    collator = NoteLLMCollator(
        tokenizer, prompt=prompt, hashtag_ratio=training_args.hashtag_ratio, seed=training_args.seed, notes=notes
    )
    if training_args.train_sampling_strategy == "group_by_length":
        pairs = [{"anchor": a, "positive": b} for a, b in zip(rows["anchor"], rows["positive"], strict=True)]
        rows[training_args.length_column_name] = collator.pair_lengths(pairs)
    evaluator = eval_dataset = None
    if eval_pairs is not None and len(eval_pairs):
        pool = sorted(set(eval_pairs.note_id_a) | set(eval_pairs.note_id_b))
        evaluator = RecallEvaluator([notes[i] for i in pool], eval_pairs)
        eval_dataset = Dataset.from_dict(
            {"anchor": eval_pairs.note_id_a.tolist(), "positive": eval_pairs.note_id_b.tolist()}
        )
    trainer = NoteLLMTrainer(
        model=model,
        args=training_args,
        train_dataset=Dataset.from_dict(rows).shuffle(seed=training_args.seed),
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=collator,
        evaluator=evaluator,
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    if trainer.is_world_process_zero():
        final = model.merge_and_unload() if model_args.use_peft else model
        out = Path(training_args.output_dir) / "model"
        final.save_pretrained(out)
        tokenizer.save_pretrained(out)
        info = {
            "world_size": training_args.world_size,
            "max_steps": training_args.max_steps,
            "train_pairs": len(train_pairs),
            "eval_pairs": 0 if eval_pairs is None else len(eval_pairs),
            "model_args": {
                k: v for k, v in asdict(model_args).items() if isinstance(v, (str, int, float, bool, list, type(None)))
            },
            "data_args": asdict(data_args),
            "log_history": trainer.state.log_history,
        }
        (Path(training_args.output_dir) / "run_info.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    return trainer
