"""benchmarks/compare_rows.py pairs rows of saved reports, averaging seeds per pair, and refuses rows scored on other
pairs."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "compare_rows.py"
KS = {"R@a": 1, "R@b": 2}


def report(path: Path, rows: dict[str, list[int]], pool_size: int = 10) -> Path:
    retrieval = {
        name: {
            "retrieval": {
                "pool_size": pool_size,
                "pairs": len(ranks),
                "scaled_ks": KS,
                "ranks": ranks,
                "low_exposure": {"rows": [1, 2]},
            }
        }
        for name, ranks in rows.items()
    }
    path.write_text(json.dumps({"meta": {}, "results": retrieval}))
    return path


def compare(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *flags], capture_output=True, text=True, timeout=60)


def test_seeds_are_averaged_per_pair_before_the_difference(tmp_path):
    # Per pair, 100 x the share of k in {1, 2} that reach the rank: seed 1 ranks [1, 2, 3, 1] -> 100, 50, 0, 100;
    # seed 2 ranks [1, 1, 1, 1] -> 100 each; averaged per pair 100, 75, 50, 100 (Avg 81.25). The row ranks
    # [2, 2, 1, 3] -> 50, 50, 100, 0 (Avg 50). Low-exposure pairs 1 and 2: 75, 50 against 50, 100.
    seed1 = report(tmp_path / "seed1.json", {"NoteLLM": [1, 2, 3, 1], "other": [2, 2, 1, 3]})
    seed2 = report(tmp_path / "seed2.json", {"NoteLLM": [1, 1, 1, 1]})
    out = compare("--reference", f"{seed1}:NoteLLM", f"{seed2}:NoteLLM", "--row", f"{seed1}:other")
    assert out.returncode == 0, out.stderr
    assert "Avg 81.25, low-exposure Avg 62.50 (2 pairs)" in out.stdout
    assert "Avg 50.00; reference - row +31.25 [" in out.stdout
    assert "; low-exposure -12.50 [" in out.stdout


def test_rows_scored_on_other_pairs_or_missing_are_named_errors(tmp_path):
    ours = report(tmp_path / "ours.json", {"NoteLLM": [1, 2, 3, 1]})
    other_pool = report(tmp_path / "other.json", {"NoteLLM": [1, 2, 3, 1]}, pool_size=11)
    out = compare("--reference", f"{ours}:NoteLLM", "--row", f"{other_pool}:NoteLLM")
    assert out.returncode != 0 and "not scored on the same pool and test pairs" in out.stderr
    out = compare("--reference", f"{ours}:NoteLLM", "--row", f"{ours}:MiniLM")
    assert out.returncode != 0 and "has no retrieval row 'MiniLM'" in out.stderr and "Traceback" not in out.stderr
