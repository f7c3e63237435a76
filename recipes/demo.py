"""The main job (`make demo`): real data, a real pretrained backbone, real training, retrieval, generation, report.

    python recipes/demo.py [--data debian|movielens] [--minutes 25] [--pool 3000] [--out outputs/demo]
                           [--precision auto|fp32|bf16]

1. builds the benchmark set (cached) and a demo-sized slice of it (a test pool of --pool notes);
2. scores popularity and all-MiniLM-L6-v2 on the pool first, so that their time is measured rather than estimated;
3. trains NoteLLM from SmolLM2-135M-Instruct with recipes/smollm2-135m-cpu/config_debian.yaml for one pass over
   the training pairs (--epochs, [`epoch_steps`]) or as long as the --minutes budget leaves once NoteLLM's own
   evaluation is set aside (its pool pass timed on this machine first: see [`training_seconds`]), whichever is
   shorter; scores SmolLM2 zero-shot (PromptEOL) when the budget still has room for it ([`prompteol_fits`]:
   training comes first), then evaluates NoteLLM against those rows, and fuses NoteLLM and MiniLM each with the pool's
   TF-IDF cosine at the weight the set's dev split chose for it ([`HYBRID_WEIGHTS`]: the ranking `notellm recommend
   --lexical-weight` serves), comparing the two hybrids with a paired interval;
4. shows query notes with their top recommendations and the hashtags/category the model generates;
5. writes <out>/report (markdown, JSON, recall and training curves), an exportable model <out>/export and the
   pool's index <out>/index, and prints the `notellm explore` command that browses them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "recipes" / "smollm2-135m-cpu" / "config_debian.yaml"
SETS = {"debian": "debian", "movielens": "movielens-tmdb"}
# What follows training, in passes of NoteLLM's encoder over the pool: its pool encoding, generation on the
# generation notes, the examples, the export and the report. The demo prints the measured figure at the end: 1.18 on
# the AMX CPU of 2026-11-30 (benchmarks/RESULTS.md, `make demo`); 1.4 leaves room for CPUs where generation (fp32)
# weighs more against a pass.
POOL_PASSES_AFTER_TRAINING = 1.4
# The share of the baselines scored before training (popularity, MiniLM) in the same unit: 70.5 s against a 263 s pass
# (0.27) on the 2-core AMD EPYC of session 40; 0.5 leaves room for CPUs where MiniLM (always fp32) weighs more. Only
# used to decide, before they run, whether the pool must be halved; their actual time is measured.
BASELINE_POOL_PASSES = 0.5
# SmolLM2 PromptEOL's pool pass in the same unit (its prompt has no shared prefix to cache): 222 s against 263 s (0.84)
# on that EPYC. It runs after training, and only when the budget has this much left beside the evaluation's share:
# where the budget ends training early, its time goes to NoteLLM instead (53 -> 66 steps there; RESULTS.md, session 40).
PROMPTEOL_POOL_PASSES = 1.0
# The lexical weight of each encoder's hybrid row per set, chosen on the set's dev split (benchmarks/RESULTS.md,
# rounds 19-21; the Makefile's benchmark uses the same): (1 - w) x the encoder's cosine + w x the pool's TF-IDF cosine.
HYBRID_WEIGHTS = {"debian": {"NoteLLM": 0.5, "minilm": 0.6}, "movielens": {"NoteLLM": 0.2, "minilm": 0.8}}
# Seconds kept back from the budget for what the estimate misses (a slower stretch of a shared host, model loads).
SAFETY_SECONDS = 90
# How the demo's first line names each --precision.
PRECISION_WORDS = {
    "auto": "bf16 where the CPU computes it natively",
    "fp32": "fp32 throughout",
    "bf16": "bf16 throughout",
}
# Below this much training the demo would show an untrained model: the pool is halved instead.
MIN_TRAINING_SECONDS = 240


def training_curves(log_history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in log_history if "loss_contrastive" in r and "eval_loss" not in r]
    steps = [r["step"] for r in rows]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for axis, key, title in zip(
        axes,
        ("loss_contrastive", "loss_generation", "logit_scale"),
        ("contrastive loss (GCL)", "generation loss (CSFT)", "temperature scale e^tau"),
        strict=True,
    ):
        axis.plot(steps, [r[key] for r in rows], marker=".")
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def pool_index(report: Path, out: Path) -> Any:
    """The NoteIndex of the pool's evaluated NoteLLM embeddings, saved to ``out`` for `notellm explore/recommend`."""
    import numpy as np

    from notellm_hf import NoteIndex

    pool_ids = json.loads((report / "pool_ids.json").read_text())
    index = NoteIndex(np.load(report / "embeddings_NoteLLM.npy"), pool_ids)
    index.save(out)
    return index


class EncodingClock:
    """Prices note encodings in seconds on this machine: the backbone's padded tokens per second in the evaluation's
    ``precision`` (auto: bf16 where native), timed on length-sorted batches of ``sample`` after a warm-up batch (the
    faster of two timings: `notellm_hf.precision.fastest_seconds`). Priced in padded tokens rather than notes,
    because a whole pool sorted by length pads far less than a small sample does."""

    def __init__(
        self, recipe_args: tuple[Any, ...], sample: list[Any], batch_size: int = 16, precision: str = "auto"
    ) -> None:
        from notellm_hf import NoteLLMForEmbeddingAndGeneration
        from notellm_hf.backbones import resolve_backbone
        from notellm_hf.precision import fastest_seconds, inference_autocast

        model_args, notellm_args = recipe_args[0], recipe_args[1]
        self.model, self.tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(
            resolve_backbone(model_args.model_name_or_path), **notellm_args.config_kwargs()
        )
        self.batch_size = batch_size
        timed = sample[batch_size:]
        with inference_autocast(precision, "cpu"):
            self.model.encode_notes(self.tokenizer, sample[:batch_size], batch_size=batch_size)
            seconds = fastest_seconds(lambda: self.model.encode_notes(self.tokenizer, timed, batch_size=batch_size))
        self.tokens_per_second = self.padded_tokens(timed) / seconds

    def padded_tokens(self, notes: list[Any]) -> int:
        """Tokens `encode_notes` computes for ``notes``, padding included (its length-sorted batches)."""
        from notellm_hf.models.notellm.processing_notellm import length_sorted_batches

        prompt = self.model.note_prompt
        sequences = [prompt.embedding_input_ids(self.tokenizer, note) for note in notes]
        batches = length_sorted_batches(sequences, self.batch_size)
        return sum(len(batch) * max(len(sequences[i]) for i in batch) for batch in batches)

    def seconds(self, notes: list[Any]) -> float:
        return self.padded_tokens(notes) / self.tokens_per_second


def training_seconds(
    budget: float, elapsed: float, pool_pass: float, head_pass: float, baselines_pending: bool = False
) -> float:
    """The training steps' share of a wall-time budget: what is left after the time already spent, the head's
    read-out pass (``head_pass`` seconds), ``POOL_PASSES_AFTER_TRAINING`` passes of ``pool_pass`` seconds over the
    pool (plus ``BASELINE_POOL_PASSES`` while the baselines have not run yet), and ``SAFETY_SECONDS``. So a CPU with
    native bf16 trains longer, one without stays inside the budget."""
    passes = POOL_PASSES_AFTER_TRAINING + (BASELINE_POOL_PASSES if baselines_pending else 0.0)
    return budget - elapsed - head_pass - passes * pool_pass - SAFETY_SECONDS


def prompteol_fits(budget: float, elapsed: float, pool_pass: float) -> bool:
    """Whether SmolLM2 PromptEOL's row (``PROMPTEOL_POOL_PASSES`` pool passes) fits in what the budget leaves after
    training, NoteLLM's evaluation and the safety margin set aside: a CPU whose training finished its pass early still
    shows the untrained LLM's row; one whose budget ended training gives that time to training instead."""
    return training_seconds(budget, elapsed, pool_pass, head_pass=0.0) >= PROMPTEOL_POOL_PASSES * pool_pass


def hybrid_comparison(results: dict[str, Any]) -> str:
    """The line comparing NoteLLM's hybrid row with MiniLM's (a paired bootstrap interval over the test pairs; the
    table's intervals are NoteLLM's embedding against each row)."""
    from notellm_hf.evaluation import compare_to_reference

    rows = {name: dict(results[f"{name} + lexical"]) for name in ("NoteLLM", "minilm")}
    compare_to_reference(rows, "NoteLLM")
    versus = rows["minilm"]["vs_reference"]["all"]
    weights = ", ".join(f"{name} w = {row['lexical']['weight']:g}" for name, row in rows.items())
    return (
        f"Hybrid ranking (each cosine fused with the pool's TF-IDF cosine: {weights}): NoteLLM + lexical "
        f"{rows['NoteLLM']['retrieval']['avg']:.2f} vs minilm + lexical {rows['minilm']['retrieval']['avg']:.2f}, "
        f"difference {versus['difference']:+.2f} [{versus['low']:+.2f}, {versus['high']:+.2f}]"
    )


def show_examples(model_dir: Path, data_dir: Path, index: Any, queries: int = 3, k: int = 5) -> str:
    """Query notes, their top-k recommendations from the pool's index, and what the model generates for them."""
    from notellm_hf import Note
    from notellm_hf.backbones import load_notellm
    from notellm_hf.data.benchmark_set import load_benchmark_set
    from notellm_hf.retrieval.neighbour_hashtags import NEIGHBOURS, lendable_hashtags, neighbour_hashtags

    benchmark = load_benchmark_set(data_dir)
    test = [Note.from_any(row) for row in benchmark.split_notes("test")]
    by_id = {note.note_id: note for note in test}
    model, tokenizer = load_notellm(model_dir)
    categories = benchmark.categories
    picked = [by_id[i] for i in list(dict.fromkeys(benchmark.test_pairs.note_id_a))[:queries]]
    generated_categories = model.generate_category(tokenizer, picked, categories=categories)
    vocabulary = benchmark.hashtag_vocabulary or None
    generated_hashtags = model.generate_hashtags(tokenizer, picked, num_hashtags=3, vocabulary=vocabulary)
    lendable = lendable_hashtags(test, vocabulary)
    nearest = [index.recommend(note.note_id, max(k, NEIGHBOURS)) for note in picked]  # one search serves both lists
    related = benchmark.test_pairs.groupby("note_id_a").note_id_b.apply(set)
    lines = []
    for note, category, hashtags, hits in zip(picked, generated_categories, generated_hashtags, nearest, strict=True):
        lines.append(f"### {note.note_id}: {note.title}")
        lines.append(f"- category: generated `{category}`, true `{note.category}`")
        lines.append(f"- hashtags: generated {hashtags}, true {list(note.hashtags)[:6]}")
        lent = neighbour_hashtags(hits[:NEIGHBOURS], lendable)
        lines.append(f"- hashtags its {NEIGHBOURS} nearest pool notes carry: {lent}")
        for rank, (note_id, score) in enumerate(hits[:k], start=1):
            mark = " (a related note in the test pairs)" if note_id in related.get(note.note_id, set()) else ""
            lines.append(f"  {rank}. {note_id}: {by_id[note_id].title} [{score:.3f}]{mark}")
        lines.append("")
    return "\n".join(lines)


def epoch_steps(pairs: int, epochs: float) -> int:
    """Steps of the config's batch that see the training pairs ``epochs`` times. A cap, since a fast CPU's budget
    buys more: 203-205 steps (3.2 passes over 2,048 pairs) memorised them (in-batch accuracy 0.95) and lost the
    lead over MiniLM zero-shot on the test pool (-1.28 [-2.00, -0.56] at alpha 0.1; -0.56 [-1.28, +0.18] at
    alpha 1), where 57-92 steps (0.9-1.4 passes) led it (RESULTS.md)."""
    import yaml

    batch = yaml.safe_load(CONFIG.read_text())["per_device_train_batch_size"]
    return max(1, math.ceil(epochs * pairs / batch))


def fp32_expectation(precision: str) -> str | None:
    """What a user of a CPU that computes this demo in fp32 should expect, said before the 25 minutes start: every
    pass takes longer, so the budget buys far fewer steps (31 of 128 on a 2-core EPYC whose bf16 run buys 66) and the
    embedding alone ends below MiniLM zero-shot (three seeds -0.73 Avg, one of them level) while the hybrid ranking
    still leads it (RESULTS.md, sessions 38, 40 and 41)."""
    from notellm_hf.precision import resolve_precision

    if resolve_precision(precision, "cpu") != "fp32":
        return None
    return (
        "note: this run computes in fp32 (no native bf16 on this CPU, or --precision fp32), so every pass takes "
        "1.4-1.8x as long and the budget buys about half the steps a bf16 CPU gets or fewer; expect NoteLLM's "
        "embedding below MiniLM zero-shot (level at best), and its hybrid row ahead of MiniLM's (README: what the 25 "
        "minutes buy per CPU)"
    )


def training_argv(data: Path, output_dir: Path, epochs: float, precision: str) -> list[str]:
    """The recipe's command line for the demo's training on the slice ``data``: the config, at most ``epochs``
    passes over its pairs, and ``precision`` ("auto" leaves the choice to the config's ``auto_bf16``)."""
    argv = ["--config", str(CONFIG), "--benchmark", str(data), "--output_dir", str(output_dir)]
    steps = epoch_steps(json.loads((data / "stats.json").read_text())["train"]["pairs"], epochs)
    argv += ["--max_steps", str(steps), "--save_strategy", "no", "--disable_tqdm", "false"]
    if precision != "auto":
        argv += ["--auto_bf16", "false", "--bf16", str(precision == "bf16").lower()]
    return argv


def training_summary(info: dict[str, Any]) -> str:
    """The report's line on training, from the run's ``run_info.json``: the steps the budget allowed out of those asked
    (a slower CPU trains fewer, and NoteLLM's lead over MiniLM shrinks with them; RESULTS.md, sessions 13, 25 and 38)
    and how far the contrastive loss ended below its random level."""
    from notellm_hf.training import ContrastiveSignal

    line = f"Training: {info['steps_done']} of {info['max_steps']} steps in {info['train_seconds']:.0f} s"
    if info["steps_done"] < info["max_steps"]:
        line += " (the time budget ended it; fewer steps, a smaller lead over MiniLM: README, steps per CPU)"
    signal = ContrastiveSignal.from_log_history(info["log_history"])
    return f"{line}; {signal.summary()}" if signal is not None else line


def main() -> None:
    from notellm_hf.precision import PRECISIONS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=sorted(SETS), default="debian")
    parser.add_argument("--minutes", type=float, default=25.0, help="wall-time budget of the whole demo")
    parser.add_argument(
        "--epochs",
        type=float,
        default=1.0,
        help="passes over the training pairs at the most (the paper trains one); the time budget may stop sooner",
    )
    parser.add_argument("--pool", type=int, default=3000, help="test-pool notes (halved if the budget needs it)")
    parser.add_argument(
        "--train-pairs",
        type=int,
        default=4096,
        help="training pairs sampled; 4,096 so that a fast CPU's budget buys new pairs, not repeats (RESULTS round 10)",
    )
    parser.add_argument("--generation-notes", type=int, default=16)
    parser.add_argument("--out", default=str(ROOT / "outputs" / "demo"))
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="training and encoding precision: auto takes bf16 where the CPU computes it natively (AMX, avx512_bf16) "
        "and fp32 elsewhere; fp32 shows what a CPU without native bf16 gets from the same budget",
    )
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error(f"--minutes must be > 0, got {args.minutes}")
    out = Path(args.out) / args.data
    start = time.time()
    print(
        f"notellm demo: builds the {SETS[args.data]} set, trains NoteLLM from SmolLM2-135M (top 8 layers, pca "
        f"head, {PRECISION_WORDS[args.precision]}) for what its time budget leaves, evaluates it against "
        f"popularity, all-MiniLM-L6-v2 (and SmolLM2 zero-shot where time is left) on a {args.pool}-note test pool, "
        f"shows recommendations and generations, and writes {out}/report. Budget: {args.minutes:g} minutes in all.",
        flush=True,
    )
    expectation = fp32_expectation(args.precision)
    if expectation:
        print(expectation, flush=True)
    from notellm_hf import Note, export_model
    from notellm_hf.backbones import resolve_backbone
    from notellm_hf.data import NOTES_VERSIONS, cache_dir, is_current, load_benchmark_set, prepared_slice
    from notellm_hf.data.io import write_text
    from notellm_hf.evaluation import evaluate_benchmark, markdown_table
    from notellm_hf.precision import resolve_precision
    from notellm_hf.training.recipe import parse_recipe_args, train_in_child_process

    if not is_current(cache_dir() / "datasets" / SETS[args.data], SETS[args.data]):
        print(f"[1/5] preparing {SETS[args.data]} ...", flush=True)

    def train_argv(data: Path) -> list[str]:
        return training_argv(data, out / "train", args.epochs, args.precision)

    report = out / "report"

    def score_baselines(data: Path, words: str, baselines: list[str], **options: Any) -> dict[str, Any]:
        """``baselines`` scored on the pool (``options``: evaluate_benchmark's backbone, earlier, lexical_weights)."""
        print(f"{words} on the pool ...", flush=True)
        return evaluate_benchmark(
            data,
            {},
            baselines=baselines,
            out_dir=report,
            generation_notes=args.generation_notes,
            precision=args.precision,
            **options,
        )

    def score_before_training(data: Path) -> dict[str, Any]:
        minilm_weight = {"minilm": HYBRID_WEIGHTS[args.data]["minilm"]}
        return score_baselines(
            data,
            "[2/5] scoring popularity and all-MiniLM-L6-v2",
            ["popularity", "minilm"],
            lexical_weights=minilm_weight,
        )

    # A finished run is reused only when the command, the config file and the set's note mapping are what they were.
    info_path = out / "train" / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    settings = {"args": vars(args), "config": CONFIG.read_text(), "notes_version": NOTES_VERSIONS[SETS[args.data]]}
    pool_pass = None
    if info.get("demo_settings", {}).get("request") == settings:
        pool = info["demo_settings"]["pool"]
        data = prepared_slice(SETS[args.data], "demo", pool, args.train_pairs)
        recipe_args = parse_recipe_args(train_argv(data))
        backbone = resolve_backbone(recipe_args[0].model_name_or_path)
        baselines = score_before_training(data)
        log_history = info["log_history"]
        print(f"[3/5] reusing the trained model in {out / 'train' / 'model'}", flush=True)
    else:
        pool, data = args.pool, prepared_slice(SETS[args.data], "demo", args.pool, args.train_pairs)
        recipe_args = parse_recipe_args(train_argv(data))
        notes = [Note.from_any(row) for row in load_benchmark_set(data).split_notes("test")]
        clock = EncodingClock(
            recipe_args, random.Random(0).sample(notes, min(64, len(notes))), precision=args.precision
        )
        notellm_args = recipe_args[1]
        head_notes = 0 if notellm_args.embedding_head_init == "random" else notellm_args.head_init_notes
        pool_pass = clock.seconds(notes)
        del clock  # its backbone copy is not needed while training
        head_pass = pool_pass * head_notes / len(notes)
        budget = args.minutes * 60
        seconds = training_seconds(budget, time.time() - start, pool_pass, head_pass, baselines_pending=True)
        while seconds < MIN_TRAINING_SECONDS and pool >= 1000:
            print(f"[1/5] {pool} pool notes leave {seconds:.0f} s of training ({pool_pass:.0f} s a pass): halving it")
            pool, pool_pass = pool // 2, pool_pass / 2
            seconds = training_seconds(budget, time.time() - start, pool_pass, head_pass, baselines_pending=True)
        data = prepared_slice(SETS[args.data], "demo", pool, args.train_pairs)
        backbone = resolve_backbone(recipe_args[0].model_name_or_path)
        baselines = score_before_training(data)
        seconds = max(training_seconds(budget, time.time() - start, pool_pass, head_pass), MIN_TRAINING_SECONDS)
        print(
            f"[3/5] training NoteLLM for {recipe_args[-1].max_steps} steps ({args.epochs:g} pass(es) over the pairs) "
            f"or {seconds:.0f} s, whichever ends first (a pass over the pool takes ~{pool_pass:.0f} s here in "
            f"{resolve_precision(args.precision, 'cpu')}; the rest of the {args.minutes:g} minutes goes to its "
            "evaluation) ...",
            flush=True,
        )
        recipe_args = parse_recipe_args([*train_argv(data), "--max_train_seconds", f"{seconds:.0f}"])
        log_history = train_in_child_process(recipe_args)
        write_text(
            info_path,
            json.dumps(
                {**json.loads(info_path.read_text()), "demo_settings": {"request": settings, "pool": pool}}, indent=2
            ),
        )
        print(f"[3/5] trained ({time.time() - start:.0f} s)", flush=True)
    # A reused model leaves the whole budget: PromptEOL is always scored then.
    if pool_pass is None or prompteol_fits(args.minutes * 60, time.time() - start, pool_pass):
        scored = time.time()
        baselines = score_baselines(
            data, "[3/5] scoring SmolLM2 PromptEOL zero-shot", ["prompteol"], backbone=backbone, earlier=baselines
        )
        llm_row = f"SmolLM2 PromptEOL zero-shot scored in {time.time() - scored:.0f} s."
    else:
        left = args.minutes * 60 - (time.time() - start)
        llm_row = (
            f"SmolLM2 PromptEOL zero-shot not scored: the budget's remaining {left:.0f} s hold NoteLLM's evaluation, "
            f"not its ~{PROMPTEOL_POOL_PASSES * pool_pass:.0f} s pass as well (training had that time instead); "
            "`make benchmark` or `notellm evaluate --baselines prompteol` scores it."
        )
    print(f"[3/5] {llm_row}", flush=True)
    trained = time.time()
    training = training_summary(json.loads(info_path.read_text()))
    print(f"[3/5] {training}", flush=True)
    stats = json.loads((data / "stats.json").read_text())
    print(
        f"[3/5] data: {stats['train']['pairs']} training pairs; test pool {stats['test']['notes']} notes, "
        f"{stats['test']['pairs']} test pairs",
        flush=True,
    )

    print("[3/5] evaluating NoteLLM against the baselines ...", flush=True)
    results = evaluate_benchmark(
        data,
        {"NoteLLM": out / "train" / "model"},
        backbone=backbone,
        out_dir=report,
        generation_notes=args.generation_notes,
        precision=args.precision,
        earlier=baselines,
        lexical_weights={"NoteLLM": HYBRID_WEIGHTS[args.data]["NoteLLM"]},
    )
    hybrid = hybrid_comparison(results["results"])
    print(f"{markdown_table(results['results'])}\n{hybrid}", flush=True)
    training_curves(log_history, report / "training_curves.png")

    print("[4/5] recommendations and generations for a few test notes ...", flush=True)
    examples = show_examples(out / "train" / "model", data, pool_index(report, out / "index"))
    print(examples, flush=True)

    print("[5/5] exporting ...", flush=True)
    export_model(
        out / "train" / "model",
        out / "export",
        evaluation=json.loads((report / "results.json").read_text()),
        training_config={
            "steps": max(row.get("step", 0) for row in log_history),
            "config": str(CONFIG.relative_to(ROOT)),
            "data": str(data),
        },
    )
    after = time.time() - trained
    timing = f"Wall time: {time.time() - start:.0f} s"
    if pool_pass is not None:  # how many priced passes the work after training took (POOL_PASSES_AFTER_TRAINING)
        timing += f"; after training {after:.0f} s = {after / pool_pass:.2f} pool passes of {pool_pass:.0f} s"
    (report / "report.md").write_text(
        f"# notellm demo ({args.data})\n\n{markdown_table(results['results'])}\n\n{hybrid}.\n\n"
        "![recall](recall_curves.png)\n\n"
        f"{training}. {llm_row}\n\n![training](training_curves.png)\n\n## Examples\n\n{examples}\n\n{timing}.\n"
    )
    print(f"{timing}. Report {report}/report.md, model {out}/export", flush=True)
    print(
        "browse it (then open http://127.0.0.1:7860):\n"
        f"  .venv/bin/notellm explore --model {out / 'export'} --data {data} --index {out / 'index'} --baseline minilm",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
