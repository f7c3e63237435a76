"""benchmarks/year_neighbours.py: era and genre structure of a report's saved pool embeddings, checked on a pool
whose neighbours are known by construction."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "year_neighbours.py"


def test_neighbour_shares_of_an_era_ordered_and_a_genre_ordered_embedding(tmp_path):
    # Six movies: two eras (1950-51 and 1990-91) crossed with two genres. "era" puts a movie next to the others of its
    # era; "genre" next to the others of its genre; "undated" has no year and drops out.
    notes = pd.DataFrame(
        {
            "note_id": ["a", "b", "c", "d", "e", "f", "g"],
            "title": ["A (1950)", "B (1951)", "C (1950)", "D (1990)", "E (1991)", "F (1990)", "G"],
            "category": ["Drama", "Drama", "Comedy", "Drama", "Comedy", "Comedy", "Drama"],
        }
    )
    notes.to_parquet(tmp_path / "notes.parquet")
    report = tmp_path / "report"
    report.mkdir()
    (report / "pool_ids.json").write_text(json.dumps(list(notes.note_id)))
    era = np.array([[1, 0.1], [1, 0.2], [1, 0.3], [0.1, 1], [0.2, 1], [0.3, 1], [1, 1]])
    genre = np.array([[1, 0.1], [1, 0.2], [0.1, 1], [1, 0.3], [0.2, 1], [0.3, 1], [1, 1]])
    np.save(report / "embeddings_era.npy", era)
    np.save(report / "embeddings_genre.npy", genre)
    out = tmp_path / "out.json"
    argv = ["--report", str(report), "--data", str(tmp_path), "--k", "2", "--out", str(out)]
    subprocess.run([sys.executable, str(SCRIPT), *argv], check=True, capture_output=True, cwd=ROOT)
    result = json.loads(out.read_text())
    assert result["dated_pool_movies"] == 6
    # 15 pairs among the 6 dated movies: 6 within 2 years (3 per era), 6 of the same genre (3 Drama, 3 Comedy).
    assert result["random_pairs_within_2_years"] == round(6 / 15, 4)
    assert result["random_pairs_same_category"] == round(6 / 15, 4)
    assert result["era"]["top_2_within_2_years"] == 1.0
    assert result["genre"]["top_2_same_category"] == 1.0
    # Each movie's 2 genre neighbours: for a, b (Drama, 1950s) d is the other era; D's are a and b: 4 of 12 in era.
    assert result["genre"]["top_2_within_2_years"] == round(4 / 12, 4)
