"""A data set the project has never seen, from any folder of Python wheels: a note table and a click log in the
shape a user brings to `notellm data prepare custom` (README, "Your own data").

    python benchmarks/wheels_as_notes.py /opt/pypi/files /opt/pypi-more/files --out outputs/wheels

Notes: one per project (its newest wheel): title = the project's Summary, content = the start of its long
description, hashtags = its Keywords, category = the first "Topic ::" classifier's second level. Clicks: every
requirement is a "user" whose "clicks" are the projects requiring it (projects that share requirements are
related, as Debian's reverse dependencies are); wheels carry no times, so the split is a stable hash.
"""

from __future__ import annotations

import argparse
import email.parser
import re
import zipfile
from pathlib import Path

import pandas as pd


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_metadata(path: Path) -> email.message.Message | None:
    with zipfile.ZipFile(path) as archive:
        member = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if member is None:
            return None
        return email.parser.Parser().parsestr(archive.read(member).decode("utf-8", "replace"))


def notes_and_clicks(folders: list[Path], content_words: int = 120) -> tuple[pd.DataFrame, pd.DataFrame]:
    notes, requirements = {}, {}
    for path in sorted(p for folder in folders for p in folder.glob("*.whl")):
        meta = wheel_metadata(path)
        if meta is None or not meta.get("Name"):
            continue
        project = canonical(meta["Name"])
        description = meta.get_payload() or meta.get("Description") or ""
        words = re.sub(r"\s+", " ", re.sub(r"[#*`=<>\[\]()|_-]{2,}", " ", description)).split()[:content_words]
        topics = [c.split(" :: ") for c in meta.get_all("Classifier") or [] if c.startswith("Topic ::")]
        keywords = [k.strip() for k in re.split(r"[,;]|\s{2,}", meta.get("Keywords") or "") if k.strip()]
        notes[project] = {
            "note_id": project,
            "title": (meta.get("Summary") or project).strip(),
            "content": " ".join(words),
            "hashtags": keywords[:8],
            "category": topics[0][1] if topics and len(topics[0]) > 1 else "",
        }
        names = [re.split(r"[\s;<>=!~\[(]", r.strip(), maxsplit=1)[0] for r in meta.get_all("Requires-Dist") or []]
        requirements[project] = {canonical(name) for name in names} - {project}
    clicks = [(f"requires:{r}", project, 0) for project, required in requirements.items() for r in sorted(required)]
    return pd.DataFrame(list(notes.values())), pd.DataFrame(clicks, columns=["user_id", "note_id", "timestamp"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("outputs/wheels"))
    args = parser.parse_args()
    notes, clicks = notes_and_clicks(args.folders)
    args.out.mkdir(parents=True, exist_ok=True)
    notes.to_json(args.out / "notes.jsonl", orient="records", lines=True, force_ascii=False)
    clicks.drop(columns="timestamp").to_csv(args.out / "clicks.csv", index=False)
    print(f"{len(notes)} notes, {len(clicks)} clicks by {clicks.user_id.nunique()} requirements -> {args.out}")


if __name__ == "__main__":
    main()
