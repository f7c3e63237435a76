"""Paired bootstrap differences between rows of saved benchmark reports, seeds averaged per pair.

    python benchmarks/compare_rows.py --reference A.json:ROW [A2.json:ROW ...] --row B.json:ROW [B2.json:ROW ...]
        [--row C.json:ROW ...]

Each ``FILE:ROW`` names a row of a ``results.json`` written by `evaluate_benchmark` (a run's report or its copy
under ``benchmarks/results/``). Several after one flag are seeds of the same recipe scored on the same test pairs:
their per-pair scores are averaged before the bootstrap, which is how RESULTS.md's "seeds averaged per pair" figures
are computed (a paired bootstrap over pairs does not cover seed variance: see the seed spreads there). Prints each
side's Avg and the reference minus each row, over all pairs and over the low-exposure targets, with 95% intervals
(1,000 resamples, seed 0, as every report).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from notellm_hf.evaluation.significance import paired_bootstrap, per_pair_avg


def load_row(spec: str) -> dict:
    """The retrieval entry of ``FILE:ROW`` (split at the first colon after ``.json``)."""
    path, separator, row = spec.partition(".json:")
    if not separator:
        raise SystemExit(f"{spec!r}: expected FILE.json:ROW")
    path = Path(path + ".json")
    if not path.is_file():
        raise SystemExit(f"{spec!r}: no file {path}")
    results = json.loads(path.read_text())["results"]
    if row not in results or "retrieval" not in results[row]:
        raise SystemExit(f"{spec!r}: {path} has no retrieval row {row!r}; it has {sorted(results)}")
    return results[row]["retrieval"]


def same_pairs_key(retrieval: dict) -> tuple:
    """What two rows must share to be paired: the pool, the test pairs, the scaled k and the low-exposure pairs."""
    low = retrieval.get("low_exposure", {}).get("rows")
    return retrieval["pool_size"], retrieval["pairs"], tuple(retrieval["scaled_ks"].items()), tuple(low or ())


def seed_averaged(specs: list[str], key: tuple | None) -> tuple[np.ndarray, tuple]:
    """Per-pair Avg scores of ``specs`` averaged over them, and the pairing key they share."""
    scores = []
    for spec in specs:
        retrieval = load_row(spec)
        if key is None:
            key = same_pairs_key(retrieval)
        elif same_pairs_key(retrieval) != key:
            raise SystemExit(f"{spec!r} was not scored on the same pool and test pairs as the reference")
        scores.append(per_pair_avg(np.asarray(retrieval["ranks"]), retrieval["scaled_ks"]))
    return np.mean(scores, axis=0), key


def interval(difference: dict) -> str:
    return f"{difference['difference']:+.2f} [{difference['low']:+.2f}, {difference['high']:+.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", nargs="+", required=True, metavar="FILE:ROW", help="one row, or its seeds")
    parser.add_argument("--row", nargs="+", action="append", required=True, metavar="FILE:ROW", help="ditto")
    args = parser.parse_args()
    reference, key = seed_averaged(args.reference, None)
    low = np.asarray(key[3], dtype=int)
    print(
        f"reference ({len(args.reference)} run(s)): Avg {reference.mean():.2f}"
        + (f", low-exposure Avg {reference[low].mean():.2f} ({len(low)} pairs)" if len(low) else "")
    )
    for specs in args.row:
        row, _ = seed_averaged(specs, key)
        line = (
            f"- {' + '.join(specs)}: Avg {row.mean():.2f}; reference - row {interval(paired_bootstrap(reference, row))}"
        )
        if len(low):
            line += f"; low-exposure {interval(paired_bootstrap(reference[low], row[low]))}"
        print(line)


if __name__ == "__main__":
    main()
