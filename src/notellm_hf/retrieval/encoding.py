"""Encoding at scale: a note table split into fixed shards, embedded across processes, resumable.

    <dir>/shard-00000.npy        (n_i, d) float32 embeddings
    <dir>/shard-00000.ids.json   the n_i note ids of those rows

Shard i holds notes [i * shard_size, (i + 1) * shard_size) of the table and belongs to process
i % num_processes, so any number of `accelerate launch` processes split the work without talking to each
other. A shard is written under a temporary name and renamed into place (ids first, embeddings last), so an
interrupted run leaves only whole shards and a rerun skips them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from accelerate import PartialState
from accelerate.utils import parse_flag_from_env

from ..backbones import load_notellm
from ..data.io import write_bytes
from ..data.notes import read_notes
from ..precision import inference_autocast

SHARD_GLOB = "shard-*.npy"


def _shard_paths(directory: Path, index: int) -> tuple[Path, Path]:
    stem = directory / f"shard-{index:05d}"
    return stem.with_suffix(".npy"), stem.with_suffix(".ids.json")


def encode_to_shards(
    model: Any,
    tokenizer: Any,
    notes: Sequence[Any],
    directory: str | Path,
    shard_size: int = 100_000,
    batch_size: int = 32,
    process_index: int = 0,
    num_processes: int = 1,
    show_progress_bar: bool = False,
) -> list[Path]:
    """Embeds this process's shards of ``notes`` (a list of notes with ``note_id``) that are not on disk yet.

    Returns the embedding files this call wrote.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    if not 0 <= process_index < num_processes:
        raise ValueError(f"process_index {process_index} is outside [0, {num_processes})")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(process_index, -(-len(notes) // shard_size), num_processes):
        embeddings_path, ids_path = _shard_paths(directory, index)
        if embeddings_path.exists():
            continue
        shard = notes[index * shard_size : (index + 1) * shard_size]
        vectors = model.encode_notes(tokenizer, shard, batch_size=batch_size, show_progress_bar=show_progress_bar)
        ids = [note.note_id for note in shard]
        buffer = io.BytesIO()
        np.save(buffer, vectors.numpy())
        write_bytes(ids_path, json.dumps(ids, ensure_ascii=False).encode("utf-8"))
        write_bytes(embeddings_path, buffer.getvalue())
        written.append(embeddings_path)
    return written


def iter_shards(directory: str | Path) -> Iterator[tuple[np.ndarray, list[str]]]:
    """(embeddings, note ids) of each finished shard in order; embeddings are memory-mapped, not loaded."""
    directory = Path(directory)
    paths = sorted(directory.glob(SHARD_GLOB))
    if not paths:
        raise FileNotFoundError(f"{directory} holds no embedding shards ({SHARD_GLOB})")
    for path in paths:
        ids = json.loads(path.with_suffix(".ids.json").read_text(encoding="utf-8"))
        embeddings = np.load(path, mmap_mode="r")
        if len(ids) != len(embeddings):
            raise ValueError(f"{path.name}: {len(embeddings)} embeddings but {len(ids)} note ids")
        yield embeddings, ids


@dataclass
class EncodingRun:
    """What one process of [`encode_note_table`] did; ``rows_on_disk`` is counted by the main process only."""

    process_index: int
    num_processes: int
    written: list[Path]
    notes: int
    rows_on_disk: int | None


def encode_note_table(
    model: str | Path,
    notes: str | Path,
    directory: str | Path,
    shard_size: int = 100_000,
    batch_size: int = 32,
    precision: str = "auto",
) -> EncodingRun:
    """`notellm encode`: a NoteLLM folder and a note table in, embedding shards out, in this process or in each
    of ``accelerate launch``'s (each embeds its own shards, then all wait for each other). ``precision``: one of
    `notellm_hf.precision.PRECISIONS` ("auto": bf16 autocast where the device computes it natively)."""
    # CPU ranks are configured as Accelerator does it (ACCELERATE_USE_CPU).
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    table = read_notes(notes)
    notellm, tokenizer = load_notellm(model)
    with inference_autocast(precision, state.device):
        written = encode_to_shards(
            notellm.to(state.device),
            tokenizer,
            table,
            directory,
            shard_size=shard_size,
            batch_size=batch_size,
            process_index=state.process_index,
            num_processes=state.num_processes,
            show_progress_bar=state.is_local_main_process,
        )
    state.wait_for_everyone()
    rows = sum(len(ids) for _, ids in iter_shards(directory)) if state.is_main_process else None
    return EncodingRun(state.process_index, state.num_processes, written, len(table), rows)
