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
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SHARD_GLOB = "shard-*.npy"


def _shard_paths(directory: Path, index: int) -> tuple[Path, Path]:
    stem = directory / f"shard-{index:05d}"
    return stem.with_suffix(".npy"), stem.with_suffix(".ids.json")


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + f".{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.rename(path)


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
        _write_atomically(ids_path, json.dumps(ids, ensure_ascii=False).encode("utf-8"))
        _write_atomically(embeddings_path, buffer.getvalue())
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
