"""Evaluation: the paper's recall protocol, its generation metrics, a dev-recall callback, the baselines, the
benchmark run that scores them side by side, and its report."""

from .baselines import BASELINES, Baseline, BaselineInputs
from .benchmark import check_benchmark_rows, evaluate_benchmark
from .evaluator import RecallEvaluator
from .generation_metrics import category_metrics, hashtag_metrics, hashtag_rouge_per_note, text_tokens
from .metrics import (
    PAPER_KS,
    PAPER_POOL_SIZE,
    SCALED_LABELS,
    embedding_scorer,
    exposure_buckets,
    popularity_scorer,
    retrieval_metrics,
    scaled_ks,
    target_ranks,
)
from .report import markdown_table, plot_recall_curves, write_report
from .significance import compare_to_reference, paired_bootstrap, per_pair_avg

__all__ = [
    "BASELINES",
    "PAPER_KS",
    "PAPER_POOL_SIZE",
    "SCALED_LABELS",
    "Baseline",
    "BaselineInputs",
    "RecallEvaluator",
    "category_metrics",
    "check_benchmark_rows",
    "compare_to_reference",
    "embedding_scorer",
    "evaluate_benchmark",
    "exposure_buckets",
    "hashtag_metrics",
    "hashtag_rouge_per_note",
    "markdown_table",
    "paired_bootstrap",
    "per_pair_avg",
    "plot_recall_curves",
    "popularity_scorer",
    "retrieval_metrics",
    "scaled_ks",
    "target_ranks",
    "text_tokens",
    "write_report",
]
