"""The paper's evaluation protocol on any note pool: recall@k, exposure buckets, category and hashtag metrics.

Recall: for each test pair the first note is the query and the second the target; every pool note except the
query is ranked; a hit at k when the target ranks in the top k. Ranks are pessimistic: notes scoring the same
as the target count as ahead of it, so constant scores earn nothing. k is reported both absolute and scaled
to the pool at the paper's fractions (100, 1k, 10k, 100k of its 257,937-note pool), whose mean is "Avg".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import TrainerCallback

PAPER_POOL_SIZE = 257_937
PAPER_KS = (100, 1_000, 10_000, 100_000)
SCALED_LABELS = tuple(f"R@{100 * k / PAPER_POOL_SIZE:.2g}%" for k in PAPER_KS)  # R@0.039% ... R@39%
LOW_EXPOSURE_SHARE, HIGH_EXPOSURE_SHARE = 0.30, 0.10


def scaled_ks(pool_size: int) -> dict[str, int]:
    """The paper's k values scaled to a pool of ``pool_size`` notes (candidates = pool minus the query)."""
    candidates = pool_size - 1
    return {
        label: max(1, round(k * candidates / (PAPER_POOL_SIZE - 1)))
        for label, k in zip(SCALED_LABELS, PAPER_KS, strict=True)
    }


Scorer = Callable[[np.ndarray], np.ndarray]
"""Maps query rows (indices into the pool) to a (len(rows), pool) matrix of relatedness scores."""


def embedding_scorer(embeddings: np.ndarray) -> Scorer:
    """Inner-product scores between pool notes (cosine for L2-normalised embeddings)."""
    matrix = np.asarray(embeddings, dtype=np.float32)
    if not np.isfinite(matrix).all():
        raise ValueError("embeddings hold NaN or inf")
    return lambda rows: matrix[rows] @ matrix.T


def popularity_scorer(popularity: np.ndarray) -> Scorer:
    """The same ranking for every query: the most popular notes first."""
    scores = np.asarray(popularity, dtype=np.float64)[None, :]
    return lambda rows: np.repeat(scores, len(rows), axis=0)


def target_ranks(scorer: Scorer, pool_ids: Sequence[str], pairs: pd.DataFrame, chunk: int = 1024) -> np.ndarray:
    """1-based pessimistic rank of each pair's target among all pool notes but the query."""
    position = {note_id: row for row, note_id in enumerate(pool_ids)}
    if len(position) != len(pool_ids):
        raise ValueError("pool note ids repeat")
    missing = sorted({i for i in pd.concat([pairs.note_id_a, pairs.note_id_b]) if i not in position})
    if missing:
        raise ValueError(f"{len(missing)} pair notes are not in the pool, e.g. {missing[:3]}")
    queries = pairs.note_id_a.map(position).to_numpy()
    targets = pairs.note_id_b.map(position).to_numpy()
    if (queries == targets).any():
        raise ValueError("a pair's query and target are the same note")
    ranks = np.empty(len(pairs), dtype=np.int64)
    for start in range(0, len(pairs), chunk):
        q, t = queries[start : start + chunk], targets[start : start + chunk]
        scores = scorer(q)
        rows = np.arange(len(q))
        target_scores = scores[rows, t][:, None]
        ahead = (scores >= target_scores).sum(axis=1)  # counts the target itself, so ranks start at 1
        ahead -= scores[rows, q] >= target_scores[:, 0]  # the query is not a candidate
        ranks[start : start + chunk] = ahead
    return ranks


def exposure_buckets(pool_ids: Sequence[str], exposure: Sequence[float]) -> tuple[set[str], set[str]]:
    """(low, high): the bottom 30% and top 10% of pool notes by exposure (ties broken by note id)."""
    order = sorted(range(len(pool_ids)), key=lambda i: (exposure[i], pool_ids[i]))
    n = len(order)
    low = {pool_ids[i] for i in order[: round(n * LOW_EXPOSURE_SHARE)]}
    high = {pool_ids[i] for i in order[n - round(n * HIGH_EXPOSURE_SHARE) :]}
    return low, high


def _recalls(ranks: np.ndarray, ks: dict[str, int]) -> dict[str, float]:
    return {label: float(100.0 * (ranks <= k).mean()) if len(ranks) else float("nan") for label, k in ks.items()}


def _curve(ranks: np.ndarray, candidates: int, points: int = 40) -> dict[str, list[float]]:
    """Recall (%) at log-spaced k from 1 to the number of candidates, for plotting."""
    ks = np.unique(np.geomspace(1, candidates, points).round().astype(int))
    return {"k": ks.tolist(), "recall": [float(100.0 * (ranks <= k).mean()) for k in ks]}


def retrieval_metrics(
    scorer: Scorer,
    pool_ids: Sequence[str],
    pairs: pd.DataFrame,
    exposure: Sequence[float] | None = None,
    absolute_ks: Sequence[int] = (1, 10, 100),
) -> dict[str, Any]:
    """Recall (%) at absolute and pool-scaled k, their "Avg", and per exposure bucket of the target."""
    pool_ids = [str(i) for i in pool_ids]
    if len(pool_ids) < 2:
        raise ValueError("the pool needs at least two notes")
    if len(pairs) == 0:
        raise ValueError("no test pairs")
    ks = scaled_ks(len(pool_ids))
    ranks = target_ranks(scorer, pool_ids, pairs)
    scaled = _recalls(ranks, ks)
    result: dict[str, Any] = {
        "pool_size": len(pool_ids),
        "pairs": int(len(pairs)),
        "scaled_ks": ks,
        "recall": {**_recalls(ranks, {f"R@{k}": k for k in absolute_ks if k < len(pool_ids)}), **scaled},
        "avg": float(np.mean(list(scaled.values()))),
        "curve": _curve(ranks, len(pool_ids) - 1),
    }
    if exposure is not None:
        low, high = exposure_buckets(pool_ids, list(exposure))
        for name, bucket in (("low_exposure", low), ("high_exposure", high)):
            selected = pairs.note_id_b.isin(bucket).to_numpy()
            recalls = _recalls(ranks[selected], ks)
            result[name] = {
                "pairs": int(selected.sum()),
                "recall": recalls,
                "avg": float(np.mean(list(recalls.values()))),
            }
    return result


# ---- generation metrics ----
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


def hashtag_metrics(predicted: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU-4 (sacrebleu) and mean ROUGE-1/2/L F1 (rouge-score), x100, on [`text_tokens`]."""
    import sacrebleu
    from rouge_score import rouge_scorer

    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} notes")
    hypotheses = [" ".join(text_tokens(" ".join(tags))) for tags in predicted]
    references = [" ".join(text_tokens(" ".join(tags))) for tags in truth]
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="none").score
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Tokenizer())
    scores = [scorer.score(ref, hyp) for ref, hyp in zip(references, hypotheses, strict=True)]
    rouge = {
        name: 100.0 * float(np.mean([s[name].fmeasure for s in scores])) for name in ("rouge1", "rouge2", "rougeL")
    }
    return {"bleu4": bleu, **rouge, "notes": len(predicted)}


class RecallEvaluator(TrainerCallback):
    """Recall on a dev split during training.

    With ``NoteLLMTrainer(..., evaluator=RecallEvaluator(notes, pairs))`` its figures join the evaluation
    metrics before they are logged (``eval_dev_avg``, ``eval_dev_R@...``), reaching every logger. As a plain
    callback of any `Trainer` (``callbacks=[...]``) it adds them to the returned metrics and the log history.
    """

    def __init__(self, notes: Sequence[Any], pairs: pd.DataFrame, name: str = "dev", batch_size: int = 32) -> None:
        from .prompting_notellm import Note

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


BASELINES = ("popularity", "minilm", "minilm-finetuned", "backbone", "prompteol")


def evaluate_benchmark(
    data_dir: str | Path,
    models: dict[str, str | Path],
    baselines: Sequence[str] = (),
    backbone: str | Path | None = None,
    out_dir: str | Path | None = None,
    generation_notes: int = 100,
    batch_size: int = 16,
    finetune_steps: int = -1,
    reuse_embeddings: bool = False,
    sentence_max_tokens: int = 256,
    device: str | None = None,
) -> dict[str, Any]:
    """Scores NoteLLM model folders and baselines on a benchmark set's test pool; writes a report to ``out_dir``.

    ``models`` maps a row name to a model folder or Hub id (loaded with ``trust_remote_code``); category and
    hashtag generation are scored on the first ``generation_notes`` test notes (category decoding constrained
    to the set's categories). ``backbone`` (a causal LM) is needed by the "backbone" and "prompteol" baselines.
    ``reuse_embeddings`` takes a model's pool embeddings from an earlier run into ``out_dir`` when they are
    newer than its folder (reruns of a report). ``sentence_max_tokens`` caps MiniLM's input (its own limit: 256).
    Every encoder runs on ``device`` (default: the GPU when there is one).
    """
    from transformers import AutoModel, AutoTokenizer

    from .data.benchmark_set import load_benchmark_set
    from .prompting_notellm import Note
    from .report import write_report

    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(BASELINES)}")
    if {"backbone", "prompteol"} & set(baselines) and backbone is None:
        raise ValueError("the 'backbone' and 'prompteol' baselines need --backbone (the causal LM NoteLLM starts from)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    benchmark = load_benchmark_set(data_dir)
    test = benchmark.split_notes("test")
    notes = [Note.from_any(row) for row in test]
    ids = [note.note_id for note in notes]
    exposure = [e or 0.0 for e in test["exposure"]]
    pairs = benchmark.test_pairs
    categories = sorted({c for c in benchmark.notes["category"] if c})
    sample = notes[:generation_notes]
    tagged = [note for note in notes if note.hashtags][:generation_notes]

    def embeddings_file(name: str) -> Path:
        return Path(out_dir or ".") / f"embeddings_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.npy"

    def scored(embeddings: np.ndarray, name: str) -> dict[str, Any]:
        if out_dir is not None:  # kept for serving demos and later analysis (rows follow pool_ids.json)
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            np.save(embeddings_file(name), embeddings)
        return {"retrieval": retrieval_metrics(embedding_scorer(embeddings), ids, pairs, exposure)}

    def saved_embeddings(name: str, path: str | Path) -> np.ndarray | None:
        """A previous run's embeddings of this pool, if saved after every file of the (local) model folder."""
        saved, folder = embeddings_file(name), Path(path)
        if not (reuse_embeddings and out_dir is not None and saved.exists() and folder.is_dir()):
            return None
        if saved.stat().st_mtime < max(f.stat().st_mtime for f in folder.rglob("*") if f.is_file()):
            return None
        embeddings = np.load(saved)
        return embeddings if len(embeddings) == len(notes) else None

    results: dict[str, dict[str, Any]] = {}
    for name, path in models.items():
        model = AutoModel.from_pretrained(str(path), trust_remote_code=True).to(device)
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=True)
        embeddings = saved_embeddings(name, path)
        if embeddings is None:
            embeddings = model.encode_notes(tokenizer, notes, batch_size=batch_size, show_progress_bar=True).numpy()
        results[name] = scored(embeddings, name)
        if sample:
            predicted = model.generate_category(tokenizer, sample, categories=categories, batch_size=batch_size)
            results[name]["category"] = category_metrics(predicted, [n.category for n in sample], categories)
        if tagged:
            generated = model.generate_hashtags(tokenizer, tagged, num_hashtags=3, batch_size=batch_size)
            results[name]["hashtags"] = hashtag_metrics(generated, [list(n.hashtags) for n in tagged])
    for name in baselines:
        if name == "popularity":
            results[name] = {"retrieval": retrieval_metrics(popularity_scorer(exposure), ids, pairs, exposure)}
        elif name.startswith("minilm"):
            from sentence_transformers import SentenceTransformer

            from .baselines import finetune_sentence_transformer, minilm_path, sentence_transformer_embeddings

            encoder = SentenceTransformer(minilm_path(), device=device)
            encoder.max_seq_length = min(sentence_max_tokens, encoder.max_seq_length)
            if name == "minilm-finetuned":
                train_notes = {row["note_id"]: Note.from_any(row) for row in benchmark.split_notes("train")}
                finetune_sentence_transformer(
                    encoder,
                    train_notes,
                    benchmark.train_pairs,
                    Path(out_dir or ".") / "minilm-finetuned",
                    max_steps=finetune_steps,
                )
            results[name] = scored(sentence_transformer_embeddings(encoder, notes), name)
        else:
            from .baselines import PLAIN_TEMPLATE, PROMPTEOL_TEMPLATE, LastTokenEncoder
            from .modeling_notellm import load_backbone

            language_model, tokenizer = load_backbone(backbone)
            language_model.to(device)
            template = PROMPTEOL_TEMPLATE if name == "prompteol" else PLAIN_TEMPLATE
            results[name] = scored(
                LastTokenEncoder(language_model, tokenizer, template).encode(notes, batch_size), name
            )
    meta = {
        "data": str(data_dir),
        "models": {k: str(v) for k, v in models.items()},
        "baselines": list(baselines),
        "stats": benchmark.stats.get("test"),
        "generation_notes": len(sample),
    }
    if out_dir is not None:
        write_report(out_dir, results, meta)
        (Path(out_dir) / "pool_ids.json").write_text(json.dumps(ids, ensure_ascii=False))
    return {"meta": meta, "results": results}
