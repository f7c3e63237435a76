"""Files in and out: one reader that picks the format by file suffix, and writes that never leave half a file.

Every table the project reads (notes, pairs) goes through [`read_table`], so each accepts the same formats and
fails with the same named errors; every file or folder it writes goes through [`atomic_path`]: written under a
temporary name beside the target and renamed into place, so an interrupted or failed write leaves the old
target (or nothing) behind, never a partial one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

TABLE_SUFFIXES = (".parquet", ".csv", ".tsv", ".jsonl")


def table_suffix(path: str | Path, what: str, suffixes: Sequence[str] = TABLE_SUFFIXES) -> str:
    """The lower-cased suffix of an existing file of one of ``suffixes``; named errors otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(f"{what} {path}: unsupported file type {suffix!r} (use {', '.join(suffixes)})")
    return suffix


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}: row {number}: not valid JSON ({error.msg})") from error
    # Object cells keep each value as JSON gave it (an integer id stays an integer beside a missing one).
    return pd.DataFrame(rows, dtype=object)


def read_table(
    path: str | Path, what: str, suffixes: Sequence[str] = TABLE_SUFFIXES, text_cells: bool = False
) -> pd.DataFrame:
    """A table from ``.parquet``, ``.csv``, ``.tsv`` or ``.jsonl``/``.json`` (one JSON object a line).

    ``text_cells`` reads CSV/TSV cells as strings with empty cells kept empty (for text tables, where
    "NA" is a word, not a missing value).
    """
    path = Path(path)
    suffix = table_suffix(path, what, suffixes)
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".json"):
            return _read_jsonl(path)
        text = {"dtype": str, "keep_default_na": False} if text_cells else {}
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", **text)
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {path}: not UTF-8 text ({error.reason} at byte {error.start})") from error


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` to write a file or folder to; renames it into place on success.

    An existing target is replaced only once the new one is complete; on an error the temporary path is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    _remove(partial)
    try:
        yield partial
        if partial.is_dir() and path.exists():
            _remove(path)
        os.replace(partial, path)
    finally:
        _remove(partial)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_table(frame: pd.DataFrame, path: str | Path, what: str, suffixes: Sequence[str] = TABLE_SUFFIXES) -> Path:
    """Writes ``frame`` in the format of ``path``'s suffix, through [`atomic_path`]."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(f"{what} {path}: unsupported file type {suffix!r} (use {', '.join(suffixes)})")
    with atomic_path(path) as partial:
        if suffix == ".parquet":
            frame.to_parquet(partial, index=False)
        elif suffix in (".csv", ".tsv"):
            frame.to_csv(partial, index=False, sep="\t" if suffix == ".tsv" else ",")
        else:
            frame.to_json(partial, orient="records", lines=True, force_ascii=False)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Writes UTF-8 text through [`atomic_path`]."""
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Writes bytes through [`atomic_path`]."""
    with atomic_path(path) as partial:
        partial.write_bytes(data)
    return Path(path)
