"""The model card of an export: ``model_card_template.md`` (inside this package) filled with the model's settings
and, when given, the figures of an evaluation report."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..evaluation.metrics import SCALED_LABELS
from ..evaluation.report import markdown_table

CARD_TEMPLATE = "model_card_template.md"
# Text Embeddings Inference's `--pooling` names for sentence-transformers' Pooling modes.
TEI_POOLING = {"lasttoken": "last-token", "mean": "mean"}


def stock_pooling_mode(readout: str) -> str:
    """sentence-transformers' Pooling mode that reads out what ``encode_notes`` reads out for this read-out: the mean
    of the states for ``readout="mean"``, else the last rendered token (the renderer ends the text at it)."""
    return "mean" if readout == "mean" else "lasttoken"


def card_template_path() -> Path:
    """The template shipped inside the package (found the same way from a source tree or an installed wheel)."""
    template = resources.files(__package__) / CARD_TEMPLATE
    if not template.is_file():
        raise FileNotFoundError(f"model card template {CARD_TEMPLATE} is missing from {__package__}")
    return Path(str(template))


def model_card(
    model_config: Any,
    model_id: str | None = None,
    base_model: str | None = None,
    datasets: list[str] | None = None,
    license: str = "apache-2.0",
    training_config: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    evaluated_model: str = "NoteLLM",
    stock_modules: bool = False,
) -> ModelCard:
    """Renders the card template; every figure comes from ``evaluation`` (a results.json).

    ``stock_modules``: the card of a stock-module export (sentence-transformers' own modules, no remote code).
    """
    eval_results, table, dataset_name = [], None, None
    if evaluation is not None:
        results = evaluation["results"]
        if evaluated_model not in results:
            raise ValueError(f"evaluation has no row {evaluated_model!r} (rows: {list(results)})")
        retrieval = results[evaluated_model]["retrieval"]
        dataset_name = Path(evaluation["meta"]["data"]).name
        for label in (*SCALED_LABELS, "avg"):
            value = retrieval["avg"] if label == "avg" else retrieval["recall"][label]
            eval_results.append(
                EvalResult(
                    task_type="sentence-similarity",
                    task_name="Item-to-item note retrieval",
                    dataset_type=dataset_name,
                    dataset_name=dataset_name,
                    dataset_split="test",
                    metric_type="recall",
                    metric_name=f"Recall {label} (pool-scaled)",
                    metric_value=round(value, 2),
                )
            )
        table = markdown_table(results)
    card_data = ModelCardData(
        model_name=model_id or "NoteLLM",
        base_model=base_model,
        datasets=datasets,
        license=license,
        library_name="sentence-transformers" if stock_modules else "transformers",
        pipeline_tag="feature-extraction",
        tags=["notellm", "sentence-transformers", "feature-extraction", "recommendation"]
        + ([] if stock_modules else ["custom_code"]),
        eval_results=eval_results or None,
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(card_template_path()),
        model_id=model_id or "path/to/export",
        embedding_dim=model_config.embedding_dim,
        embedding_size=model_config.embedding_size,
        lexical_block_weight=model_config.lexical_block_weight,
        readout=model_config.readout,
        pooling=TEI_POOLING[stock_pooling_mode(model_config.readout)],
        backbone=model_config.text_config.model_type,
        training_config=json.dumps(training_config, indent=2) if training_config else None,
        evaluation_table=table,
        dataset_name=dataset_name,
        stock_modules=stock_modules,
    )
