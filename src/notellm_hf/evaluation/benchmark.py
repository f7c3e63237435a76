"""[`evaluate_benchmark`]: NoteLLM models and baselines scored side by side on a benchmark set's test pool."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..backbones import load_notellm
from ..data.benchmark_set import load_benchmark_set
from ..data.io import write_text
from ..models.notellm.processing_notellm import Note
from ..precision import inference_autocast, resolve_precision
from ..retrieval.lexical import LexicalIndex, check_lexical_weight
from ..retrieval.neighbour_hashtags import lendable_hashtags, pool_neighbour_hashtags
from .baselines import BASELINES, BaselineInputs
from .generation_metrics import category_metrics, hashtag_metrics
from .metrics import embedding_scorer, hybrid_scorer, retrieval_metrics
from .report import write_report
from .significance import RESAMPLES, compare_to_reference


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
    reference: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    precision: str = "auto",
    earlier: dict[str, Any] | None = None,
    lexical_weights: Mapping[str, float | Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Scores NoteLLM model folders and baselines on a benchmark set's test pool; writes a report to ``out_dir``.

    ``models`` maps a row name to a model folder or Hub id (loaded with ``trust_remote_code``); category and
    hashtag generation are scored on the first ``generation_notes`` test notes (category decoding constrained
    to the set's categories; hashtags within the training notes' tags). Every embedding row also scores the hashtags
    its 10 nearest other pool notes carry ([`pool_neighbour_hashtags`], under ``"neighbour_hashtags"``): the tags
    an encoder's neighbours lend. ``baselines`` are names of [`BASELINES`]; ``backbone`` (a causal LM) is needed by
    those that run one. ``reuse_embeddings`` takes a model's pool embeddings from an earlier run into ``out_dir``
    when they are newer than its folder (reruns of a report). ``sentence_max_tokens`` caps MiniLM's input (its
    own limit: 256). Every encoder runs on ``device`` (default: the GPU when there is one). The causal LMs encode
    in ``precision`` (one of `notellm_hf.precision.PRECISIONS`; "auto": bf16 autocast where the device computes it
    natively); MiniLM and generation stay in fp32.

    ``lexical_weights`` maps embedding rows scored here to the weight of the pool's TF-IDF cosine in a hybrid row
    ``"<row> + lexical"`` ([`hybrid_scorer`]); a sequence of weights scores each and keeps the best Avg (a choice to
    make on a dev split, never on a test pool), with every weight's Avg under the row's ``"lexical"`` entry.

    ``earlier`` is what an earlier call on the same set returned: its rows join this report as if scored here (the
    demo scores its baselines before training, so that their time is measured rather than estimated).

    Every other row is compared with ``reference`` (default: the first model): the difference in Avg with its
    paired bootstrap 95% interval over ``resamples`` resamplings of the test pairs (``seed``), overall and per
    exposure bucket, under ``results[row]["vs_reference"]``.
    """
    lexical_weights = check_benchmark_rows(
        models,
        baselines,
        lexical_weights=lexical_weights,
        reference=reference,
        has_backbone=backbone is not None,
        earlier_rows=(earlier or {}).get("results", {}),
    )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    precision = resolve_precision(precision, device)
    benchmark = load_benchmark_set(data_dir)
    test = benchmark.split_notes("test")
    notes = [Note.from_any(row) for row in test]
    ids = [note.note_id for note in notes]
    exposure = [e or 0.0 for e in test["exposure"]]
    pairs = benchmark.test_pairs
    categories = benchmark.categories
    hashtag_vocabulary = benchmark.hashtag_vocabulary or None  # decoding within the training notes' tags
    sample = notes[:generation_notes]
    tagged = [note for note in notes if note.hashtags][:generation_notes]
    lendable = lendable_hashtags(notes, hashtag_vocabulary)
    out = Path(out_dir or ".")

    def embeddings_file(name: str) -> Path:
        return out / f"embeddings_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.npy"

    # What saved embeddings were made from: a reused file must match the pool and the precision of this run.
    provenance = {"pool": hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest(), "precision": precision}

    pool_embeddings: dict[str, np.ndarray] = {}

    def scored(embeddings: np.ndarray, name: str) -> dict[str, Any]:
        pool_embeddings[name] = embeddings
        if out_dir is not None:  # kept for serving demos and later analysis (rows follow pool_ids.json)
            out.mkdir(parents=True, exist_ok=True)
            np.save(embeddings_file(name), embeddings)
            write_text(embeddings_file(name).with_suffix(".json"), json.dumps(provenance))
        result = {"retrieval": retrieval_metrics(embedding_scorer(embeddings), ids, pairs, exposure)}
        if tagged:
            lent = pool_neighbour_hashtags(embeddings, ids, lendable, [note.note_id for note in tagged])
            result["neighbour_hashtags"] = hashtag_metrics(lent, [list(note.hashtags) for note in tagged])
        return result

    def saved_embeddings(name: str, path: str | Path) -> np.ndarray | None:
        """A previous run's embeddings of this pool in this run's precision, if saved after every file of the (local)
        model folder."""
        saved, folder = embeddings_file(name), Path(path)
        if not (reuse_embeddings and out_dir is not None and saved.exists() and folder.is_dir()):
            return None
        made_from = saved.with_suffix(".json")
        if not made_from.exists() or json.loads(made_from.read_text()) != provenance:
            return None
        if saved.stat().st_mtime < max(f.stat().st_mtime for f in folder.rglob("*") if f.is_file()):
            return None
        embeddings = np.load(saved)
        return embeddings if len(embeddings) == len(notes) else None

    rows = [*models, *baselines]
    print(
        f"evaluating {', '.join(rows)} on a pool of {len(notes):,} notes ({len(pairs):,} test pairs) on {device} "
        f"(language models encode in {precision}); "
        f"generation on {len(sample)} notes per model. Each encoder shows a progress bar with its time left.",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    if earlier is not None:
        earlier_rows = _check_earlier(earlier, data_dir, benchmark.stats.get("test"), [*models, *baselines])
        results.update(earlier_rows)
    for name, path in models.items():
        model, tokenizer = load_notellm(path)
        model.to(device)
        embeddings = saved_embeddings(name, path)
        if embeddings is None:
            with inference_autocast(precision, device):
                embeddings = model.encode_notes(tokenizer, notes, batch_size=batch_size, show_progress_bar=True)
            embeddings = embeddings.numpy()
        results[name] = scored(embeddings, name)
        if sample:
            predicted = model.generate_category(tokenizer, sample, categories=categories, batch_size=batch_size)
            results[name]["category"] = category_metrics(predicted, [n.category for n in sample], categories)
        if tagged:
            generated = model.generate_hashtags(
                tokenizer, tagged, num_hashtags=3, batch_size=batch_size, vocabulary=hashtag_vocabulary
            )
            results[name]["hashtags"] = hashtag_metrics(generated, [list(n.hashtags) for n in tagged])
    inputs = BaselineInputs(
        benchmark=benchmark,
        notes=notes,
        exposure=exposure,
        out_dir=out,
        device=device,
        batch_size=batch_size,
        backbone=backbone,
        finetune_steps=finetune_steps,
        sentence_max_tokens=sentence_max_tokens,
        precision=precision,
    )
    for name in baselines:
        output = BASELINES[name].run(inputs)
        if isinstance(output, np.ndarray):
            results[name] = scored(output, name)
        else:
            results[name] = {"retrieval": retrieval_metrics(output, ids, pairs, exposure)}
    lexical = LexicalIndex(notes) if lexical_weights else None
    for name, weights in lexical_weights.items():
        results[f"{name} + lexical"] = _hybrid_row(pool_embeddings[name], lexical, weights, ids, pairs, exposure)
    reference = reference or next(iter(models), None)
    if reference is not None:
        compare_to_reference(results, reference, resamples=resamples, seed=seed)
    meta = {
        "data": str(data_dir),
        "reference": reference,
        "models": {k: str(v) for k, v in models.items()},
        "baselines": [*(earlier["meta"]["baselines"] if earlier else ()), *baselines],
        "stats": benchmark.stats.get("test"),
        "generation_notes": len(sample),
        "precision": precision,
    }
    if out_dir is not None:
        write_report(out_dir, results, meta)
        write_text(out / "pool_ids.json", json.dumps(ids, ensure_ascii=False))
    return {"meta": meta, "results": results}


def check_benchmark_rows(
    models: Iterable[str],
    baselines: Sequence[str],
    lexical_weights: Mapping[str, float | Sequence[float]] | None = None,
    reference: str | None = None,
    has_backbone: bool = True,
    earlier_rows: Iterable[str] = (),
) -> dict[str, list[float]]:
    """Checks the rows a benchmark run asks for before anything is trained or encoded, so that a misspelt row name
    fails at once rather than after hours of training (`benchmarks/quality.py` calls it before its training runs);
    returns ``lexical_weights`` with every value a list of checked weights.

    ``models`` are the names of the NoteLLM rows, ``baselines`` names of [`BASELINES`] (those that run a causal LM
    need ``has_backbone``); ``lexical_weights`` may only fuse embedding rows scored in this run; ``reference`` must
    be one of the rows the run reports, the hybrid rows and ``earlier_rows`` included."""
    models = list(models)
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(BASELINES)}")
    needing = [name for name in baselines if BASELINES[name].needs_backbone]
    if needing and not has_backbone:
        raise ValueError(f"the baselines {needing} need --backbone (the causal LM NoteLLM starts from)")
    weights_by_row = {
        name: [check_lexical_weight(w) for w in ([weights] if isinstance(weights, (int, float)) else weights)]
        for name, weights in (lexical_weights or {}).items()
    }
    embedding_rows = {*models, *(name for name in baselines if BASELINES[name].embeds)}
    unfused = sorted(set(weights_by_row) - embedding_rows)
    if unfused:
        raise ValueError(f"lexical weights name rows that are not embedding rows scored here: {unfused}")
    unweighted = sorted(name for name, weights in weights_by_row.items() if not weights)
    if unweighted:
        raise ValueError(f"no lexical weight given for the rows {unweighted}")
    rows = [*earlier_rows, *models, *baselines, *(f"{name} + lexical" for name in weights_by_row)]
    if reference is not None and reference not in rows:
        raise ValueError(f"reference row {reference!r} is not among the rows {rows}")
    return weights_by_row


def _hybrid_row(
    embeddings: np.ndarray,
    lexical: LexicalIndex,
    weights: Sequence[float],
    ids: Sequence[str],
    pairs: pd.DataFrame,
    exposure: Sequence[float],
) -> dict[str, Any]:
    """The hybrid row at the weight with the best Avg on this pool (ties: the first given)."""
    scored = {
        weight: retrieval_metrics(hybrid_scorer(embeddings, lexical, weight), ids, pairs, exposure)
        for weight in weights
    }
    best = max(scored, key=lambda weight: scored[weight]["avg"])
    sweep = {f"{weight:g}": metrics["avg"] for weight, metrics in scored.items()}
    return {"retrieval": scored[best], "lexical": {"weight": best, "avg_by_weight": sweep}}


def _check_earlier(
    earlier: dict[str, Any], data_dir: str | Path, test_stats: Any, new_rows: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The rows of an earlier ``evaluate_benchmark`` result, after checking it scored the same pool; their
    ``vs_reference`` entries are dropped (this call compares every row again)."""
    meta, rows = earlier.get("meta", {}), earlier.get("results", {})
    if Path(meta.get("data", "")).resolve() != Path(data_dir).resolve() or meta.get("stats") != test_stats:
        raise ValueError(f"the earlier results scored {meta.get('data')!r}, not this pool ({data_dir})")
    repeated = sorted(set(rows) & set(new_rows))
    if repeated:
        raise ValueError(f"rows {repeated} are in the earlier results and would be scored again")
    return {name: {k: v for k, v in row.items() if k != "vs_reference"} for name, row in rows.items()}
