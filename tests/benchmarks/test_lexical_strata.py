"""benchmarks/lexical_strata.py: test pairs put into strata by their TF-IDF rank, each row's Avg per stratum, checked
against Avg contributions computed by hand."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from notellm_hf.data.benchmark_set import load_benchmark_set

from conftest import toy_benchmark_set

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "lexical_strata.py"
spec = importlib.util.spec_from_file_location("lexical_strata", SCRIPT)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
lexical_strata, strata_edges = module.lexical_strata, module.strata_edges


def test_strata_run_from_the_top_1_through_each_scaled_k_to_the_rest_of_the_pool():
    scaled = {"R@0.039%": 1, "R@0.39%": 12, "R@3.9%": 116, "R@39%": 1163}
    assert strata_edges(scaled, 3000) == [(1, 1), (2, 12), (13, 116), (117, 1163), (1164, 2999)]


def test_each_rows_avg_and_the_reference_difference_per_stratum():
    # Pool of 100, scaled k 1 and 10. Four pairs whose targets TF-IDF ranks at 1, 1, 5 and 50: strata [1, 1] (two
    # pairs), [2, 10] (one), [11, 99] (one). A pair's Avg contribution is 100 x the share of {1, 10} reaching its rank:
    # rank 1 -> 100, ranks 2-10 -> 50, beyond -> 0.
    lexical = np.array([1, 1, 5, 50])
    rows = {"A": np.array([1, 3, 5, 100]), "B": np.array([2, 20, 5, 100])}
    strata = lexical_strata(lexical, rows, {"a": 1, "b": 10}, 100, reference="A")
    assert [s["tfidf_rank"] for s in strata] == [[1, 1], [2, 10], [11, 99]]
    assert [s["pairs"] for s in strata] == [2, 1, 1]
    # Top stratum: A scores 100 and 50, B 50 and 0; each pair's difference is 50, so the interval collapses onto it.
    assert strata[0]["avg"] == {"A": 75.0, "B": 25.0}
    assert strata[0]["reference_minus_row"]["B"] == {"difference": 50.0, "low": 50.0, "high": 50.0}
    assert strata[1]["avg"] == {"A": 50.0, "B": 50.0} and strata[2]["avg"] == {"A": 0.0, "B": 0.0}
    assert strata[1]["reference_minus_row"]["B"]["difference"] == 0.0


def test_strata_without_pairs_are_left_out():
    strata = lexical_strata(np.array([1, 1]), {"A": np.array([1, 2])}, {"a": 1, "b": 10}, 100, reference="A")
    assert [s["tfidf_rank"] for s in strata] == [[1, 1]] and strata[0]["reference_minus_row"] == {}


def report(path, ranks_by_row, pool_size=4):
    results = {
        row: {"retrieval": {"pool_size": pool_size, "scaled_ks": {"a": 1, "b": 2}, "ranks": ranks}}
        for row, ranks in ranks_by_row.items()
    }
    path.write_text(json.dumps({"results": results}))
    return path


def test_the_command_line_adds_rows_of_other_reports_and_names_those_of_another_pool(tmp_path):
    data = toy_benchmark_set(tmp_path / "set")
    pairs = len(load_benchmark_set(data).test_pairs)
    main = report(tmp_path / "main.json", {"A": [1] * pairs})
    other = report(tmp_path / "other.json", {"B": [2] * pairs})
    out = tmp_path / "strata.json"
    argv = ["--results", str(main), "--data", str(data), "--reference", "A", "--also", str(other), "--out", str(out)]
    subprocess.run([sys.executable, str(SCRIPT), *argv], check=True, capture_output=True)
    strata = json.loads(out.read_text())["strata"]
    assert sum(s["pairs"] for s in strata) == pairs
    # Every pair: A at rank 1 scores 100, B at rank 2 scores 50 (k 2 only), in whatever stratum it sits.
    assert all(s["avg"] == {"A": 100.0, "other:B": 50.0} for s in strata)
    shorter = report(tmp_path / "shorter.json", {"C": [1] * (pairs + 1)})
    argv[argv.index(str(other))] = str(shorter)
    failed = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True)
    assert failed.returncode != 0 and "shorter:C" in failed.stderr and "Traceback" not in failed.stderr
