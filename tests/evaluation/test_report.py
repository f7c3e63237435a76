"""`notellm evaluate` end to end on the MovieLens fixture slice: NoteLLM and baselines, JSON + markdown + PNG."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from notellm_hf import Note
from notellm_hf.cli import main
from notellm_hf.data.benchmark_set import load_benchmark_set, write_benchmark_set
from notellm_hf.data.notes import note_text
from notellm_hf.data.sets.movielens import build_movielens_tmdb
from notellm_hf.evaluation.generation_metrics import hashtag_metrics

from conftest import MOVIELENS_FIXTURE as FIXTURE
from conftest import (
    brute_force_avg,
    brute_force_neighbour_tags,
    build_tokenizer,
    hand_tfidf,
    saved_model,
    tiny_backbone,
)


@pytest.fixture(scope="module")
def benchmark_dir(tmp_path_factory):
    raw = [pd.read_csv(FIXTURE / name) for name in ("ratings.csv", "links.csv", "tmdb_movies.csv")]
    out = tmp_path_factory.mktemp("set") / "movielens"
    write_benchmark_set(out, *build_movielens_tmdb(*raw, lower=0.0))
    return out


def test_evaluate_writes_the_report_for_models_and_baselines(tmp_path, benchmark_dir, capsys):
    saved_model(tmp_path / "model")
    backbone_tokenizer = build_tokenizer()
    tiny_backbone("qwen2", len(backbone_tokenizer)).save_pretrained(tmp_path / "backbone")
    backbone_tokenizer.save_pretrained(tmp_path / "backbone")
    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            "--model",
            f"NoteLLM tiny={tmp_path / 'model'}",
            "--data",
            str(benchmark_dir),
            "--out",
            str(out),
            "--baselines",
            "popularity,minilm,backbone,prompteol",
            "--backbone",
            str(tmp_path / "backbone"),
            "--generation-notes",
            "6",
            "--batch-size",
            "8",
        ]
    )
    assert code == 0
    report = json.loads((out / "results.json").read_text())["results"]
    assert list(report) == ["NoteLLM tiny", "popularity", "minilm", "backbone", "prompteol"]
    stats = json.loads((benchmark_dir / "stats.json").read_text())
    pool_ids = json.loads((out / "pool_ids.json").read_text())
    pairs = pd.read_parquet(benchmark_dir / "test_pairs.parquet")
    for name, result in report.items():
        assert result["retrieval"]["pool_size"] == stats["test"]["notes"]
        assert result["retrieval"]["pairs"] == stats["test"]["pairs"]
        if name == "popularity":
            notes = pd.read_parquet(benchmark_dir / "notes.parquet").set_index("note_id")
            exposure = notes.exposure.loc[pool_ids].fillna(0.0).to_numpy()
            scores = np.repeat(exposure[None, :], len(pool_ids), axis=0)
        else:
            embeddings = np.load(out / f"embeddings_{name.replace(' ', '_')}.npy")
            scores = embeddings @ embeddings.T
        assert result["retrieval"]["avg"] == pytest.approx(brute_force_avg(scores, pool_ids, pairs)), name
    # Every embedding row lends its 10 nearest other pool notes' tags (those in the training notes' tag list) to the
    # first 6 tagged pool notes, counted here by hand.
    benchmark = load_benchmark_set(benchmark_dir)
    pool = {row["note_id"]: Note.from_any(row) for row in benchmark.split_notes("test")}
    tagged = [note_id for note_id in pool_ids if pool[note_id].hashtags][:6]
    listed = set(benchmark.hashtag_vocabulary)
    lendable = {note_id: [t for t in note.hashtags if t in listed] for note_id, note in pool.items()}
    k = min(10, len(pool_ids) - 1)
    for name in ("NoteLLM tiny", "minilm", "backbone", "prompteol"):
        embeddings = np.load(out / f"embeddings_{name.replace(' ', '_')}.npy")
        lent = [brute_force_neighbour_tags(embeddings, pool_ids, lendable, note_id, k) for note_id in tagged]
        expected = hashtag_metrics(lent, [list(pool[note_id].hashtags) for note_id in tagged])
        assert report[name]["neighbour_hashtags"] == pytest.approx(expected), name
    assert "neighbour_hashtags" not in report["popularity"]
    reference_avg = report["NoteLLM tiny"]["retrieval"]["avg"]
    for name in ("popularity", "minilm", "backbone", "prompteol"):
        lead = report[name]["vs_reference"]["all"]
        assert lead["difference"] == pytest.approx(reference_avg - report[name]["retrieval"]["avg"])
        assert lead["low"] <= lead["difference"] <= lead["high"] and lead["resamples"] == 1000
    assert report["NoteLLM tiny"]["category"]["ill"] == 0.0  # constrained decoding
    assert report["NoteLLM tiny"]["category"]["notes"] == 6 and "bleu4" in report["NoteLLM tiny"]["hashtags"]
    table = (out / "results.md").read_text()
    assert sum(line.startswith("| ") for line in table.splitlines()) == 6 and "| popularity |" in table
    assert "NoteLLM tiny − row, Avg [95% CI]" in table and "paired bootstrap" in table
    assert (out / "recall_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "| NoteLLM tiny |" in capsys.readouterr().out


def test_evaluate_rejects_unknown_baselines(benchmark_dir, capsys):
    assert main(["evaluate", "--data", str(benchmark_dir), "--baselines", "bm25"]) == 2
    assert "unknown baselines ['bm25']" in capsys.readouterr().err


def test_saved_pool_embeddings_are_reused_only_while_newer_than_the_model(tmp_path, benchmark_dir):
    import os

    import numpy as np

    from notellm_hf.evaluation import evaluate_benchmark

    folder, model, tokenizer = saved_model(tmp_path / "model")
    out = tmp_path / "report"
    first = evaluate_benchmark(benchmark_dir, {"tiny": folder}, out_dir=out, generation_notes=0)
    saved = out / "embeddings_tiny.npy"
    # Constant embeddings score nothing under pessimistic ranks: a reused file shows in the figures.
    np.save(saved, np.ones_like(np.load(saved)))
    reused = evaluate_benchmark(benchmark_dir, {"tiny": folder}, out_dir=out, generation_notes=0, reuse_embeddings=True)
    assert reused["results"]["tiny"]["retrieval"]["avg"] == 0.0 < first["results"]["tiny"]["retrieval"]["avg"]
    newer = saved.stat().st_mtime + 10
    os.utime(folder / "config.json", (newer, newer))  # the model changed after the embeddings were saved
    again = evaluate_benchmark(benchmark_dir, {"tiny": folder}, out_dir=out, generation_notes=0, reuse_embeddings=True)
    assert again["results"]["tiny"]["retrieval"]["avg"] == first["results"]["tiny"]["retrieval"]["avg"]
    # Embeddings saved in another precision are not this run's: fp32 files are re-encoded for a bf16 run.
    options = {"out_dir": out, "generation_notes": 0, "reuse_embeddings": True}
    os.utime(folder / "config.json", (0, 0))  # the model is older than every file saved from here on
    evaluate_benchmark(benchmark_dir, {"tiny": folder}, precision="fp32", **options)
    np.save(saved, np.ones_like(np.load(saved)))
    fp32 = evaluate_benchmark(benchmark_dir, {"tiny": folder}, precision="fp32", **options)
    bf16 = evaluate_benchmark(benchmark_dir, {"tiny": folder}, precision="bf16", **options)
    assert fp32["results"]["tiny"]["retrieval"]["avg"] == 0.0 < bf16["results"]["tiny"]["retrieval"]["avg"]


def test_rows_scored_by_an_earlier_call_join_the_report_as_if_scored_together(tmp_path, benchmark_dir):
    from notellm_hf.evaluation import evaluate_benchmark

    folder, _, _ = saved_model(tmp_path / "model")
    together = evaluate_benchmark(benchmark_dir, {"tiny": folder}, baselines=["popularity"], generation_notes=0)
    first = evaluate_benchmark(benchmark_dir, {}, baselines=["popularity"], generation_notes=0)
    split = evaluate_benchmark(
        benchmark_dir, {"tiny": folder}, generation_notes=0, earlier=first, out_dir=tmp_path / "r"
    )
    assert split["results"] == together["results"] and split["meta"]["baselines"] == ["popularity"]
    assert "| popularity |" in (tmp_path / "r" / "results.md").read_text()
    with pytest.raises(ValueError, match=r"rows \['popularity'\] are in the earlier results"):
        evaluate_benchmark(benchmark_dir, {}, baselines=["popularity"], generation_notes=0, earlier=first)
    moved = {**first, "meta": {**first["meta"], "data": str(tmp_path / "elsewhere")}}
    with pytest.raises(ValueError, match="the earlier results scored"):
        evaluate_benchmark(benchmark_dir, {"tiny": folder}, generation_notes=0, earlier=moved)


def test_hybrid_rows_fuse_the_embeddings_with_the_pools_tfidf(tmp_path, benchmark_dir, capsys):
    saved_model(tmp_path / "model")
    out = tmp_path / "report"
    argv = ["evaluate", "--model", f"tiny={tmp_path / 'model'}", "--data", str(benchmark_dir), "--out", str(out)]
    options = ["--generation-notes", "0", "--baselines", "tfidf", "--lexical", "tiny=0,0.5,1"]
    assert main([*argv, *options]) == 0
    report = json.loads((out / "results.json").read_text())["results"]
    assert list(report) == ["tiny", "tfidf", "tiny + lexical"]
    pool_ids = json.loads((out / "pool_ids.json").read_text())
    pairs = pd.read_parquet(benchmark_dir / "test_pairs.parquet")
    notes = {row["note_id"]: Note.from_any(row) for row in load_benchmark_set(benchmark_dir).notes}
    vectors = hand_tfidf([note_text(notes[note_id]) for note_id in pool_ids])
    embeddings = np.load(out / "embeddings_tiny.npy")
    expected = {
        weight: brute_force_avg(
            (1 - weight) * embeddings @ embeddings.T + weight * vectors @ vectors.T, pool_ids, pairs
        )
        for weight in (0.0, 0.5, 1.0)
    }
    assert report["tfidf"]["retrieval"]["avg"] == pytest.approx(expected[1.0])
    hybrid = report["tiny + lexical"]
    assert hybrid["lexical"]["avg_by_weight"] == pytest.approx(
        {"0": expected[0.0], "0.5": expected[0.5], "1": expected[1.0]}
    )
    best = max(expected, key=expected.get)
    assert hybrid["lexical"]["weight"] == best and hybrid["retrieval"]["avg"] == pytest.approx(expected[best])
    assert hybrid["vs_reference"]["all"]["difference"] == pytest.approx(
        report["tiny"]["retrieval"]["avg"] - expected[best]
    )
    assert (
        f"Hybrid rows: (1 - w) x the encoder's cosine + w x the pool's TF-IDF cosine; tiny + lexical w = {best:g}."
        in ((out / "results.md").read_text())
    )
    capsys.readouterr()
    # Only embedding rows scored in this run fuse, each with weights in [0, 1], and the reference is a row of the run;
    # refused before any encoding.
    for flags, message in (
        (
            ["--baselines", "popularity", "--lexical", "popularity=0.5"],
            r"not embedding rows scored here: \['popularity'\]",
        ),
        (["--lexical", "minilm=0.5"], r"not embedding rows scored here: \['minilm'\]"),
        (["--lexical", "tiny=2"], r"weights in \[0, 1\]"),
        (["--lexical", "tiny=0.5", "--reference", "tiny+lexical"], r"reference row 'tiny\+lexical' is not among"),
    ):
        assert main([*argv, "--generation-notes", "0", *flags]) == 2
        assert re.search(message, capsys.readouterr().err), flags
