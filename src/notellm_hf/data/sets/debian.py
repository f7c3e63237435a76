"""Debian packages as notes: relatedness that follows content (what depends on the same things is alike).

Source: the Debian package index reached through apt (``apt-get update`` into a private lists folder).
Mapping: note_id = package; title = short description; content = long description; hashtags = debtags
(``Tag``); category = ``Section``; exposure = number of reverse dependencies. Related pairs use the same
builder and formula as click logs: each depended-on package is a "user" whose "clicks" are the packages that
directly depend on it; pairs of packages built from the same source package are then dropped.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..benchmark_set import write_benchmark_set
from ..pairs import build_cooccurrence_pairs
from ..sources import cache_dir
from ..splits import stable_split

APT_HELPER = "/usr/lib/apt/apt-helper"


def fetch_index(cache: Path | None = None) -> Path:
    """Runs ``apt-get update`` into ``<cache>/debian/lists`` (the system's apt state is left alone)."""
    lists = (cache or cache_dir()) / "debian" / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    command = ["apt-get", "update", "-o", f"Dir::State::Lists={lists}", "-o", "Acquire::Languages=en"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (apt needs root):\n{result.stderr[-2000:]}")
    return lists


def _largest(lists: Path, pattern: str) -> Path:
    """The main suite's file: security and update suites hold only the few packages they change."""
    candidates = [p for p in lists.glob(pattern) if not p.name.endswith(".partial")]
    if not candidates:
        raise FileNotFoundError(f"no {pattern} in {lists}: run apt-get update into it first")
    return max(candidates, key=lambda p: p.stat().st_size)


def read_list(path: Path) -> str:
    """A downloaded apt list as text (apt-helper decompresses whatever compression apt chose)."""
    return subprocess.run([APT_HELPER, "cat-file", str(path)], check=True, capture_output=True, text=True).stdout


def parse_stanzas(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs; continuation lines are kept with their newline."""
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def long_description(description: str) -> tuple[str, str]:
    """(short description, long description without the " ." paragraph markers)."""
    short, _, rest = description.partition("\n")
    lines = [line.strip() for line in rest.splitlines()]
    return short.strip(), " ".join(line for line in lines if line and line != ".")


def depended_on(depends: str) -> list[str]:
    """Package names a Depends field names (first alternative, versions and architecture qualifiers dropped)."""
    names = []
    for clause in depends.split(","):
        first = clause.split("|")[0].strip()
        name = re.split(r"[\s(:\[]", first, maxsplit=1)[0]
        if name:
            names.append(name)
    return names


def debian_notes(packages_text: str, translations_text: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(notes, dependency "clicks" user_id=depended-on, note_id=dependent, source package of each note)."""
    descriptions = {
        (s["Package"], s.get("Description-md5", "")): s["Description-en"]
        for s in parse_stanzas(translations_text)
        if "Description-en" in s
    }
    rows, edges, sources = [], [], {}
    for stanza in parse_stanzas(packages_text):
        name = stanza.get("Package")
        description = descriptions.get((name, stanza.get("Description-md5", "")))
        if not name or description is None or name in sources:
            continue
        title, content = long_description(description)
        if not content:
            continue
        tags = [t.strip() for t in stanza.get("Tag", "").replace("\n", " ").split(",") if t.strip()]
        rows.append(
            {
                "note_id": name,
                "title": title,
                "content": content,
                "hashtags": tags,
                "category": stanza.get("Section", "").split("/")[-1],
            }
        )
        sources[name] = stanza.get("Source", name).split(" ")[0]
        edges += [(dependency, name) for dependency in set(depended_on(stanza.get("Depends", "")))]
    notes = pd.DataFrame(rows)
    clicks = pd.DataFrame(edges, columns=["user_id", "note_id"]).drop_duplicates()
    reverse = clicks.groupby("user_id").size()
    notes["exposure"] = notes.note_id.map(reverse).fillna(0).astype(float)
    return notes, clicks, sources


def build_debian(
    packages_text: str,
    translations_text: str,
    *,
    test_fraction: float = 0.3,
    lower: float = 0.05,
    upper: float = 30.0,
    top_t: int = 10,
    max_dependents: int = 2000,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    notes, clicks, sources = debian_notes(packages_text, translations_text)
    dependents = clicks.groupby("user_id").note_id.transform("size")
    clicks = clicks[dependents <= max_dependents].assign(timestamp=0)
    thresholds = {"lower": lower, "upper": upper, "top_t": top_t, "ordered": False}
    pairs = build_cooccurrence_pairs(clicks, **thresholds)
    same_source = pairs.note_id_a.map(sources) == pairs.note_id_b.map(sources)
    split = stable_split(notes.note_id, test_fraction)
    kept = pairs[~same_source]
    side_a, side_b = kept.note_id_a.map(split), kept.note_id_b.map(split)
    train_pairs = kept[(side_a == "train") & (side_b == "train")]
    test_pairs = kept[(side_a == "test") & (side_b == "test")]
    meta = {
        "name": "debian",
        "split": {
            "rule": "sha256(package name) bucket; pairs kept only within a split",
            "test_fraction": test_fraction,
        },
        "thresholds": {**thresholds, "max_dependents_per_user": max_dependents},
        "relations": {
            "dependency_edges": int(len(clicks)),
            "pairs_before_same_source_filter": int(len(pairs)),
            "pairs_between_same_source_packages": int(same_source.sum()),
            "pairs_across_splits_dropped": int(len(kept) - len(train_pairs) - len(test_pairs)),
        },
        "licence": "Debian states no licence for the package index text as a whole",
    }
    return notes, split, train_pairs, test_pairs, meta


def _snapshot(lists: Path, files: list[Path]) -> dict[str, Any]:
    release = _largest(lists, "*_InRelease")
    date = next(
        (line[5:].strip() for line in release.read_text(errors="replace").splitlines() if line.startswith("Date:")), ""
    )
    return {
        "release_file": release.name,
        "release_date": date,
        "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
    }


def prepare_debian(out_dir: str | Path | None = None, cache: Path | None = None, **options: Any) -> dict:
    """Fetches the index, builds the set into ``out_dir`` (default ``<cache>/datasets/debian``); returns stats."""
    out_dir = Path(out_dir or (cache or cache_dir()) / "datasets" / "debian")
    lists = fetch_index(cache)
    packages = _largest(lists, "*_main_binary-*_Packages*")
    translations = _largest(lists, "*_main_i18n_Translation-en*")
    notes, split, train_pairs, test_pairs, meta = build_debian(read_list(packages), read_list(translations), **options)
    meta["snapshot"] = _snapshot(lists, [packages, translations])
    return write_benchmark_set(out_dir, notes, split, train_pairs, test_pairs, meta)
