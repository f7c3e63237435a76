"""Where each row of a report wins and loses, by how lexically easy its test pairs are (no encoding: it reads ranks).

    python benchmarks/lexical_strata.py --results benchmarks/results/debian/round32_gpu_h200_test_pool.json \
        --data ~/.cache/notellm_hf/datasets/debian-quality-3000-1000000 --reference NoteLLM [--out strata.json] \
        [--also OTHER.json ...]

The test pairs of the report's pool (``--data``: the benchmark set it was scored on) are put into strata by the rank
the pool's TF-IDF cosine gives each pair's target (`LexicalIndex`, the lexical half of hybrid rows): rank 1, then up
to each scaled k of the report (2-12, 13-116, ... on a 3,000-note pool). For each stratum: every embedding row's Avg
over its pairs and ``--reference`` minus each row with its paired bootstrap interval (the reports' settings).
``--also`` adds the rows of other reports scored on the same pool and pairs, named ``<file stem>:<row>``. Why: on
Debian, NoteLLM trails MiniLM fine-tuned at the top of the ranking and leads further down, and TF-IDF fusion helps
NoteLLM far more than MiniLM; the strata show whether its deficit sits on the pairs that share words.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from notellm_hf.data.benchmark_set import load_benchmark_set
from notellm_hf.data.io import write_text
from notellm_hf.evaluation.metrics import target_ranks
from notellm_hf.evaluation.significance import paired_bootstrap, per_pair_avg
from notellm_hf.models.notellm.processing_notellm import Note
from notellm_hf.retrieval.lexical import LexicalIndex


def strata_edges(scaled_ks: dict[str, int], pool_size: int) -> list[tuple[int, int]]:
    """Rank ranges [low, high]: the top 1, then up to each scaled k above 1, then the rest of the pool."""
    uppers = sorted({1, *(k for k in scaled_ks.values() if k > 1), pool_size - 1})
    return [(low, high) for low, high in zip([1, *(u + 1 for u in uppers[:-1])], uppers, strict=True)]


def lexical_strata(
    lexical_ranks: np.ndarray,
    row_ranks: dict[str, np.ndarray],
    scaled_ks: dict[str, int],
    pool_size: int,
    reference: str,
) -> list[dict]:
    """Per stratum of ``lexical_ranks``: its pair count, each row's Avg there, and reference minus each row."""
    strata = []
    for low, high in strata_edges(scaled_ks, pool_size):
        chosen = (lexical_ranks >= low) & (lexical_ranks <= high)
        if not chosen.any():
            continue
        scores = {row: per_pair_avg(ranks[chosen], scaled_ks) for row, ranks in row_ranks.items()}
        stratum = {"tfidf_rank": [low, high], "pairs": int(chosen.sum())}
        stratum["avg"] = {row: round(float(s.mean()), 2) for row, s in scores.items()}
        stratum["reference_minus_row"] = {}
        for row, s in scores.items():
            if row != reference:
                diff = paired_bootstrap(scores[reference], s)
                stratum["reference_minus_row"][row] = {
                    key: round(float(diff[key]), 2) for key in ("difference", "low", "high")
                }
        strata.append(stratum)
    return strata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, help="a results.json written by evaluate_benchmark")
    parser.add_argument("--data", required=True, help="the benchmark set the report scored")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--also", action="append", default=[], help="another results.json of the same pool and pairs")
    parser.add_argument("--out")
    args = parser.parse_args()
    results = json.loads(Path(args.results).read_text())["results"]
    row_ranks = {row: np.asarray(r["retrieval"]["ranks"]) for row, r in results.items() if "ranks" in r["retrieval"]}
    if args.reference not in row_ranks:
        raise SystemExit(f"--reference {args.reference!r} is not a ranked row of {args.results}: {sorted(row_ranks)}")
    for other in args.also:
        for row, result in json.loads(Path(other).read_text())["results"].items():
            if "ranks" in result["retrieval"]:
                row_ranks[f"{Path(other).stem}:{row}"] = np.asarray(result["retrieval"]["ranks"])
    benchmark = load_benchmark_set(Path(args.data).expanduser())
    notes = [Note.from_any(row) for row in benchmark.split_notes("test")]
    ids = [note.note_id for note in notes]
    base = results[args.reference]["retrieval"]
    unequal = sorted(row for row, ranks in row_ranks.items() if len(ranks) != len(benchmark.test_pairs))
    if base["pool_size"] != len(ids) or unequal:
        raise SystemExit(
            f"{args.data} is not the pool these rows were scored on: {len(ids)} notes and "
            f"{len(benchmark.test_pairs)} test pairs; the report has {base['pool_size']} notes, rows of another pair "
            f"count: {unequal}"
        )
    lexical_ranks = target_ranks(LexicalIndex(notes).similarity, ids, benchmark.test_pairs)
    strata = lexical_strata(lexical_ranks, row_ranks, base["scaled_ks"], len(ids), args.reference)
    print(json.dumps(strata, indent=2))
    if args.out:
        record = {"results": args.results, "also": args.also, "strata": strata}
        write_text(Path(args.out), json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
