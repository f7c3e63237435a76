"""benchmarks/hashtag_decoding.py --report: the tags a note's nearest pool notes lend, on a pool whose neighbours are
known by construction."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from notellm_hf.data.benchmark_set import write_benchmark_set

from conftest import saved_model

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "hashtag_decoding.py"


def test_each_encoders_neighbours_lend_their_listed_tags(tmp_path):
    # Two training notes make the tag list {music, sports}; the four test notes form the pool. "grouped" puts guitar
    # next to piano and run next to swim (the other group at a negative cosine: no vote); "crossed" pairs them across.
    notes = pd.DataFrame(
        {
            "note_id": ["band", "gym", "guitar", "piano", "run", "swim"],
            "title": ["A band", "A gym", "Guitar chords", "Piano scales", "Running shoes", "Swimming drills"],
            "hashtags": [["music"], ["sports"], ["music", "guitar"], ["music", "piano"], ["sports"], ["sports"]],
        }
    )
    split = pd.Series(
        {"band": "train", "gym": "train", "guitar": "test", "piano": "test", "run": "test", "swim": "test"}
    )
    pairs = [
        pd.DataFrame([pair], columns=["note_id_a", "note_id_b"]) for pair in (("band", "gym"), ("guitar", "piano"))
    ]
    write_benchmark_set(tmp_path / "set", notes, split, *pairs, {"name": "toy"})
    folder, _, _ = saved_model(tmp_path / "model")
    report = tmp_path / "report"
    report.mkdir()
    (report / "pool_ids.json").write_text(json.dumps(["guitar", "piano", "run", "swim"]))
    np.save(report / "embeddings_grouped.npy", np.array([[1, 0], [1, 0.1], [-1, 0], [-1, -0.1]]))
    np.save(report / "embeddings_crossed.npy", np.array([[1, 0], [-1, 0], [1, 0.1], [-1, -0.1]]))
    out = tmp_path / "out.json"
    argv = ["--model", str(folder), "--data", str(tmp_path / "set"), "--notes", "4", "--beams", "4"]
    argv += ["--report", str(report), "--encoders", "grouped,crossed", "--out", str(out)]
    subprocess.run([sys.executable, str(SCRIPT), *argv], check=True, capture_output=True, cwd=ROOT)
    result = json.loads(out.read_text())
    names = ("neighbours (grouped)", "neighbours (crossed)")
    lent = {name: [example[name] for example in result["examples"]] for name in names}
    assert lent == {
        "neighbours (grouped)": [["music"], ["music"], ["sports"], ["sports"]],
        "neighbours (crossed)": [["sports"], ["sports"], ["music"], ["music"]],
    }
    # Exact precision: one right tag of the 3 asked for per note (grouped), none (crossed).
    grouped, crossed = result["neighbours (grouped)"], result["neighbours (crossed)"]
    assert grouped["tag_precision"] == 100 / 3 and crossed["tag_precision"] == 0.0
    versus = crossed["minus neighbours (grouped)"]["tag_precision"]
    assert versus["difference"] == versus["low"] == versus["high"] == -100 / 3
    assert set(crossed) >= {"minus vocabulary, 4 beams", "rouge1", "bleu4", "distinct_tags"}
