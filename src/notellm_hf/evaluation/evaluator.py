"""[`RecallEvaluator`]: recall on a dev split while training, as a Trainer callback or a NoteLLMTrainer evaluator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from transformers import TrainerCallback

from ..models.notellm.processing_notellm import Note
from .metrics import embedding_scorer, retrieval_metrics


class RecallEvaluator(TrainerCallback):
    """Recall on a dev split during training.

    With ``NoteLLMTrainer(..., evaluator=RecallEvaluator(notes, pairs))`` its figures join the evaluation
    metrics before they are logged (``eval_dev_avg``, ``eval_dev_R@...``), reaching every logger. As a plain
    callback of any `Trainer` (``callbacks=[...]``) it adds them to the returned metrics and the log history.
    """

    def __init__(self, notes: Sequence[Any], pairs: pd.DataFrame, name: str = "dev", batch_size: int = 32) -> None:
        self.notes = [Note.from_any(note) for note in notes]
        self.pairs, self.name, self.batch_size = pairs, name, batch_size

    def __call__(self, model: Any, tokenizer: Any) -> dict[str, float]:
        embeddings = model.encode_notes(tokenizer, self.notes, batch_size=self.batch_size).numpy()
        metrics = retrieval_metrics(embedding_scorer(embeddings), [n.note_id for n in self.notes], self.pairs)
        return {f"{self.name}_avg": metrics["avg"], **{f"{self.name}_{k}": v for k, v in metrics["recall"].items()}}

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None, **kwargs: Any) -> None:
        if metrics is None or any(key.startswith(f"eval_{self.name}_") for key in metrics):
            return  # NoteLLMTrainer already merged them
        figures = {f"eval_{key}": value for key, value in self(kwargs["model"], kwargs["processing_class"]).items()}
        metrics.update(figures)
        state.log_history.append({**figures, "step": state.global_step})
