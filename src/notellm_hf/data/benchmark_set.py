"""The on-disk layout shared by every benchmark set, and its Table-1 statistics.

    <dir>/notes.parquet        note_id, title, content, hashtags, category, exposure, split ("train"/"test")
    <dir>/train_pairs.parquet  note_id_a, note_id_b, score   (both notes in the train split)
    <dir>/test_pairs.parquet   note_id_a, note_id_b, score   (both notes in the test pool)
    <dir>/stats.json           per-split statistics, thresholds, sources and their snapshot

A set is written to a temporary folder and renamed into place (``io.atomic_path``), so a failed build leaves
nothing behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import pandas as pd

from .io import atomic_path
from .notes import load_notes
from .pairs import load_pairs
from .splits import stable_split


@dataclass
class BenchmarkSet:
    notes: datasets.Dataset  # every note, with a "split" column
    train_pairs: pd.DataFrame
    test_pairs: pd.DataFrame
    stats: dict[str, Any]

    def split_notes(self, split: str) -> datasets.Dataset:
        return self.notes.filter(lambda row: row["split"] == split)

    @property
    def categories(self) -> list[str]:
        """The set's closed category list (sorted), which constrained category decoding chooses from."""
        return sorted({category for category in self.notes["category"] if category})

    @property
    def hashtag_vocabulary(self) -> list[str]:
        """The training notes' hashtags (sorted), which closed-list hashtag decoding chooses from: test notes' own
        tags are left out, so a tag only a test note carries cannot be read off the list."""
        train = self.notes.filter(lambda row: row["split"] != "test")
        return sorted({tag for tags in train["hashtags"] for tag in tags if tag})


def split_statistics(notes: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, Any]:
    """The paper's Table 1 for one split: sizes, average words per field, hashtags per note, categories."""

    def words(column: str) -> float:
        return round(float(notes[column].str.split().str.len().mean()), 2) if len(notes) else 0.0

    return {
        "notes": int(len(notes)),
        "pairs": int(len(pairs)),
        "notes_in_pairs": int(pd.concat([pairs.note_id_a, pairs.note_id_b]).nunique()),
        "avg_title_words": words("title"),
        "avg_content_words": words("content"),
        "avg_hashtags_per_note": round(float(notes.hashtags.map(len).mean()), 2) if len(notes) else 0.0,
        "categories": int(notes.category[notes.category != ""].nunique()),
    }


def write_benchmark_set(
    out_dir: str | Path,
    notes: pd.DataFrame,
    split: pd.Series,
    train_pairs: pd.DataFrame,
    test_pairs: pd.DataFrame,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Validates and writes a set; ``split`` maps note_id -> "train" / "test". Returns the statistics."""
    table = load_notes(notes).to_pandas()
    table["split"] = table.note_id.map(split)
    if table.split.isna().any() or not set(table.split) <= {"train", "test"}:
        raise ValueError("every note needs a split of 'train' or 'test'")
    for name, pairs in (("train", train_pairs), ("test", test_pairs)):
        members = set(table.note_id[table.split == name])
        pairs = load_pairs(pairs, known_note_ids=members)
        if name == "train":
            train_pairs = pairs
        else:
            test_pairs = pairs
    stats = {
        **meta,
        "train": split_statistics(table[table.split == "train"], train_pairs),
        "test": split_statistics(table[table.split == "test"], test_pairs),
    }
    with atomic_path(out_dir) as building:
        building.mkdir()
        table.to_parquet(building / "notes.parquet", index=False)
        train_pairs.to_parquet(building / "train_pairs.parquet", index=False)
        test_pairs.to_parquet(building / "test_pairs.parquet", index=False)
        (building / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return stats


def load_benchmark_set(directory: str | Path) -> BenchmarkSet:
    directory = Path(directory)
    if not (directory / "stats.json").exists():
        raise FileNotFoundError(f"{directory} is not a prepared benchmark set (no stats.json)")
    table = pd.read_parquet(directory / "notes.parquet")
    notes = load_notes(table.drop(columns="split")).add_column("split", table.split.tolist())
    return BenchmarkSet(
        notes=notes,
        train_pairs=load_pairs(directory / "train_pairs.parquet"),
        test_pairs=load_pairs(directory / "test_pairs.parquet"),
        stats=json.loads((directory / "stats.json").read_text(encoding="utf-8")),
    )


def dev_benchmark_set(source: str | Path, target: str | Path, dev_fraction: float = 0.3) -> dict[str, Any]:
    """A set to choose settings on: the source's training notes split again (a salted hash of the note id) into
    training and dev notes. The dev notes and the training pairs among them form its test pool and test pairs; the
    source's test notes are left out entirely, so nothing chosen on it has seen them. Returns its statistics."""
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
    full = load_benchmark_set(source)
    notes = full.notes.to_pandas()
    notes = notes[notes.split == "train"].drop(columns="split")
    split = stable_split(notes.note_id, dev_fraction, salt="dev:")
    side_a, side_b = full.train_pairs.note_id_a.map(split), full.train_pairs.note_id_b.map(split)
    train_pairs = full.train_pairs[(side_a == "train") & (side_b == "train")]
    dev_pairs = full.train_pairs[(side_a == "test") & (side_b == "test")]
    meta = {k: v for k, v in full.stats.items() if k not in ("train", "test")}
    meta["dev_of"] = {"source": str(source), "dev_fraction": dev_fraction, "rule": "sha256('dev:' + note_id) bucket"}
    return write_benchmark_set(target, notes, split, train_pairs, dev_pairs, meta)


def subsample_benchmark_set(
    source: str | Path, target: str | Path, pool: int, train_pairs: int, seed: int = 0
) -> dict[str, Any]:
    """A smaller set for CPU budgets: a test pool of ``pool`` notes (60% taken pair by pair from the test pairs,
    the rest drawn from the other test notes), every test pair inside it, and ``train_pairs`` sampled training
    pairs. Returns its statistics."""
    full = load_benchmark_set(source)
    notes = full.notes.to_pandas()
    pool = min(pool, int((notes.split == "test").sum()))
    chosen: list[str] = []
    seen: set[str] = set()
    shuffled = full.test_pairs.sample(frac=1.0, random_state=seed)
    for a, b in zip(shuffled.note_id_a, shuffled.note_id_b, strict=True):
        new = [n for n in (a, b) if n not in seen]
        if len(chosen) + len(new) > pool * 0.6:
            break
        chosen += new
        seen.update(new)
    distractors = notes[(notes.split == "test") & ~notes.note_id.isin(seen)].note_id.sample(
        n=pool - len(chosen), random_state=seed
    )
    pool_ids = set(chosen) | set(distractors)
    notes = notes[(notes.split == "train") | notes.note_id.isin(pool_ids)]
    split = pd.Series(notes.split.to_numpy(), index=notes.note_id.to_numpy())
    test = full.test_pairs
    test = test[test.note_id_a.isin(pool_ids) & test.note_id_b.isin(pool_ids)]
    train = full.train_pairs.sample(n=min(train_pairs, len(full.train_pairs)), random_state=seed)
    meta = {**{k: v for k, v in full.stats.items() if k not in ("train", "test")}, "subsample_of": str(source)}
    return write_benchmark_set(target, notes.drop(columns="split"), split, train, test, meta)
