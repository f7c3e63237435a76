"""benchmarks/embedding_spread.py: spread figures and centred ranking of a report's saved pool embeddings, checked
against values worked out by hand."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "embedding_spread.py"


def run(report: Path, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--report", str(report), *extra], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_spread_of_three_notes_on_two_directions(tmp_path):
    # Cosines (0, 1, 0): mean 1/3, sd sqrt(2)/3; mean embedding (2/3, 1/3) of length sqrt(5)/3; the centred rows
    # (1/3, -1/3), (-2/3, 2/3), (1/3, -1/3) lie on one line: participation ratio 1.
    (tmp_path / "pool_ids.json").write_text(json.dumps(["a", "b", "c"]))
    np.save(tmp_path / "embeddings_toy.npy", np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0]]))
    row = run(tmp_path)["toy"]
    assert row["mean_cosine"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["cosine_sd"] == pytest.approx(math.sqrt(2) / 3, abs=1e-4)
    assert row["mean_embedding_length"] == pytest.approx(math.sqrt(5) / 3, abs=1e-4)
    assert row["participation_ratio"] == pytest.approx(1.0, abs=0.01)


def test_centring_ranks_by_the_deviations_from_the_pool_mean(tmp_path):
    # Query a = (1, 0): raw cosines c 0, d -0.32, b -0.45, so its target b ranks 3rd; with the pool mean (0.06, 0.26)
    # of the unit rows subtracted, b -0.14, c -0.35, d -0.70: b ranks 1st. Brute force below says the same.
    pool = np.array([[3.0, 0.0], [-1.0, -2.0], [0.0, 2.0], [-1.0, 3.0]])
    ids = ["a", "b", "c", "d"]
    (tmp_path / "pool_ids.json").write_text(json.dumps(ids))
    np.save(tmp_path / "embeddings_toy.npy", pool)
    pd.DataFrame({"note_id_a": ["a"], "note_id_b": ["b"]}).to_parquet(tmp_path / "pairs.parquet")

    def rank_of_b(vectors):
        unit = [v / np.linalg.norm(v) for v in vectors]
        scores = {j: float(unit[0] @ unit[j]) for j in (1, 2, 3)}
        return sum(score >= scores[1] for score in scores.values())

    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    raw_rank, centred_rank = rank_of_b(list(unit)), rank_of_b(list(unit - unit.mean(axis=0)))
    assert (raw_rank, centred_rank) == (3, 1)
    row = run(tmp_path, "--pairs", str(tmp_path / "pairs.parquet"))["toy"]
    # 3 candidates: every scaled k is 1, so Avg is 100 x [rank <= 1].
    assert (row["avg"], row["centred_avg"]) == (0.0, 100.0)
    assert row["centred_minus_raw"]["difference"] == 100.0
