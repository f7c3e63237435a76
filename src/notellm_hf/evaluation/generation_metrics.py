"""The paper's generation metrics: category accuracy and illegal rate, hashtag BLEU-4 and ROUGE (Sec. 5.4)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def text_tokens(text: str) -> list[str]:
    """Lower-cased word tokens; each CJK character is a token (so Chinese hashtags are scored too)."""
    return _TOKEN.findall(text.lower())


@dataclass
class _Tokenizer:
    """rouge-score's tokenizer interface over [`text_tokens`]."""

    def tokenize(self, text: str) -> list[str]:
        return text_tokens(text)


def category_metrics(predicted: Sequence[str], truth: Sequence[str], categories: Sequence[str]) -> dict[str, float]:
    """Accuracy (%) over notes with a category, and Ill. (%): generated categories outside the closed set."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} notes")
    closed = set(categories)
    labelled = [(p, t) for p, t in zip(predicted, truth, strict=True) if t]
    return {
        "accuracy": 100.0 * sum(p == t for p, t in labelled) / max(1, len(labelled)),
        "ill": 100.0 * sum(p not in closed for p in predicted) / max(1, len(predicted)),
        "notes": len(predicted),
    }


def hashtag_rouge_per_note(predicted: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """ROUGE-1/2/L F1 (x100, rouge-score on [`text_tokens`]) of each note's generated tags against its true tags:
    the per-note scores a paired bootstrap resamples."""
    from rouge_score import rouge_scorer  # the `eval` extra

    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} notes")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Tokenizer())
    scores = [scorer.score(_tag_text(ref), _tag_text(hyp)) for ref, hyp in zip(truth, predicted, strict=True)]
    return {name: np.array([100.0 * s[name].fmeasure for s in scores]) for name in ("rouge1", "rouge2", "rougeL")}


def _tag_text(tags: Sequence[str]) -> str:
    return " ".join(text_tokens(" ".join(tags)))


def hashtag_metrics(predicted: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU-4 (sacrebleu) and mean ROUGE-1/2/L F1 (rouge-score), x100, on [`text_tokens`]."""
    # Imported here: sacrebleu and rouge-score come with the `eval` extra, training does not need them.
    import sacrebleu

    rouge = hashtag_rouge_per_note(predicted, truth)
    bleu = sacrebleu.corpus_bleu([_tag_text(t) for t in predicted], [[_tag_text(t) for t in truth]], tokenize="none")
    return {
        "bleu4": bleu.score,
        **{name: float(np.mean(values)) for name, values in rouge.items()},
        "notes": len(predicted),
    }
