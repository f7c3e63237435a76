"""Evaluation results as the paper lays them out: a markdown table, JSON, and recall@k curves (PNG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..data.io import atomic_path, write_text
from .metrics import SCALED_LABELS


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _interval(comparison: dict[str, Any] | None) -> str:
    if not comparison:
        return "-"
    return f"{comparison['difference']:+.2f} [{comparison['low']:+.2f}, {comparison['high']:+.2f}]"


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per model: scaled recall (Table 2 layout), Avg, the reference row's lead in Avg with its paired
    bootstrap 95% interval (when rows were compared), Avg on low/high-exposure targets (Table 3), the generation
    metrics, and ROUGE-1 of the tags the row's 10 nearest pool notes carry."""
    reference = next((r["vs_reference"]["reference"] for r in results.values() if "vs_reference" in r), None)
    lead = [f"{reference} − row, Avg [95% CI]", f"{reference} − row, low-exp. [95% CI]"] if reference else []
    header = [
        "model",
        *SCALED_LABELS,
        "Avg",
        *lead,
        "low-exp. Avg",
        "high-exp. Avg",
        "cat. Acc",
        "cat. Ill.",
        "BLEU4",
        "R-1",
        "R-2",
        "R-L",
        "R-1, neighbours' tags",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, result in results.items():
        retrieval = result["retrieval"]
        category, hashtags = result.get("category") or {}, result.get("hashtags") or {}
        comparison = result.get("vs_reference", {})
        lead_cells = [_interval(comparison.get("all")), _interval(comparison.get("low_exposure"))] if reference else []
        cells = [
            *(_cell(retrieval["recall"][label]) for label in SCALED_LABELS),
            _cell(retrieval["avg"]),
            *lead_cells,
            _cell(retrieval.get("low_exposure", {}).get("avg")),
            _cell(retrieval.get("high_exposure", {}).get("avg")),
            _cell(category.get("accuracy")),
            _cell(category.get("ill")),
            *(_cell(hashtags.get(key)) for key in ("bleu4", "rouge1", "rouge2", "rougeL")),
            _cell((result.get("neighbour_hashtags") or {}).get("rouge1")),
        ]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    first = next(iter(results.values()))["retrieval"]
    ks = ", ".join(f"{label} = top {k}" for label, k in first["scaled_ks"].items())
    lines.append("")
    lines.append(f"Pool: {first['pool_size']:,} notes, {first['pairs']:,} test pairs; {ks}. Recall in %.")
    if reference:
        comparison = next(r["vs_reference"]["all"] for r in results.values() if "vs_reference" in r)
        lines.append(
            f"Intervals: paired bootstrap over the test pairs ({comparison['resamples']:,} resamples, seed "
            f"{comparison['seed']}); an interval above 0 means {reference} is ahead of that row."
        )
    weights = [f"{name} w = {result['lexical']['weight']:g}" for name, result in results.items() if "lexical" in result]
    if weights:
        lines.append(
            f"Hybrid rows: (1 - w) x the encoder's cosine + w x the pool's TF-IDF cosine; {', '.join(weights)}."
        )
    return "\n".join(lines)


def plot_recall_curves(results: dict[str, dict[str, Any]], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, result in results.items():
        curve = result["retrieval"]["curve"]
        axis.plot(curve["k"], curve["recall"], label=name)
    axis.set_xscale("log")
    axis.set_xlabel("k (candidates ranked)")
    axis.set_ylabel("recall@k (%)")
    axis.set_ylim(0, 100)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title("I2I recall on the test pool")
    figure.tight_layout()
    with atomic_path(path) as partial:
        figure.savefig(partial, dpi=120, format="png")
    plt.close(figure)
    return Path(path)


def write_report(out_dir: str | Path, results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "results.json",
        "markdown": out_dir / "results.md",
        "plot": out_dir / "recall_curves.png",
    }
    write_text(paths["json"], json.dumps({"meta": meta, "results": results}, indent=2, ensure_ascii=False) + "\n")
    write_text(paths["markdown"], markdown_table(results) + "\n")
    plot_recall_curves(results, paths["plot"])
    return paths
