"""The main job (`make demo`): real data, a real pretrained backbone, real training, retrieval, generation, report.

    python recipes/demo.py [--data debian|movielens] [--steps 60] [--pool 1500] [--out outputs/demo]

1. builds the benchmark set (cached) and a demo-sized slice of it (a test pool of --pool notes);
2. trains NoteLLM from SmolLM2-135M-Instruct with recipes/smollm2-135m-cpu/config_debian.yaml;
3. evaluates it against popularity, all-MiniLM-L6-v2 and SmolLM2 zero-shot (PromptEOL) on the pool;
4. shows query notes with their top recommendations and the hashtags/category the model generates;
5. writes <out>/report (markdown, JSON, recall and training curves), an exportable model <out>/export and the
   pool's index <out>/index, and prints the `notellm explore` command that browses them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "recipes" / "smollm2-135m-cpu" / "config_debian.yaml"
SETS = {"debian": "debian", "movielens": "movielens-tmdb"}


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


def show_examples(model_dir: Path, data_dir: Path, index: Any, queries: int = 3, k: int = 5) -> str:
    """Query notes, their top-k recommendations from the pool's index, and what the model generates for them."""
    from notellm_hf import Note
    from notellm_hf.backbones import load_notellm
    from notellm_hf.data.benchmark_set import load_benchmark_set

    benchmark = load_benchmark_set(data_dir)
    test = [Note.from_any(row) for row in benchmark.split_notes("test")]
    by_id = {note.note_id: note for note in test}
    model, tokenizer = load_notellm(model_dir)
    categories = benchmark.categories
    picked = [by_id[i] for i in list(dict.fromkeys(benchmark.test_pairs.note_id_a))[:queries]]
    generated_categories = model.generate_category(tokenizer, picked, categories=categories)
    generated_hashtags = model.generate_hashtags(tokenizer, picked, num_hashtags=3)
    related = benchmark.test_pairs.groupby("note_id_a").note_id_b.apply(set)
    lines = []
    for note, category, hashtags in zip(picked, generated_categories, generated_hashtags, strict=True):
        lines.append(f"### {note.note_id}: {note.title}")
        lines.append(f"- category: generated `{category}`, true `{note.category}`")
        lines.append(f"- hashtags: generated {hashtags}, true {list(note.hashtags)[:6]}")
        for rank, (note_id, score) in enumerate(index.recommend(note.note_id, k), start=1):
            mark = " (a related note in the test pairs)" if note_id in related.get(note.note_id, set()) else ""
            lines.append(f"  {rank}. {note_id}: {by_id[note_id].title} [{score:.3f}]{mark}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=sorted(SETS), default="debian")
    parser.add_argument(
        "--steps", type=int, default=300, help="at most; the config's max_train_seconds may stop sooner"
    )
    parser.add_argument("--pool", type=int, default=1500)
    parser.add_argument("--train-pairs", type=int, default=2048)
    parser.add_argument("--generation-notes", type=int, default=16)
    parser.add_argument("--out", default=str(ROOT / "outputs" / "demo"))
    args = parser.parse_args()
    out = Path(args.out) / args.data
    start = time.time()
    print(
        f"notellm demo: builds the {SETS[args.data]} set, trains NoteLLM from SmolLM2-135M for up to {args.steps} "
        "steps within the config's 600 s budget of steps "
        "(top 8 layers, pca head, bf16 where native), evaluates it against popularity, all-MiniLM-L6-v2 and "
        f"SmolLM2 zero-shot on a {args.pool}-note test pool, shows recommendations and generations, and writes "
        f"{out}/report. "
        "Roughly 18 minutes on 2 CPU cores with native bf16 (AMX / avx512_bf16), about 25 without (estimated).",
        flush=True,
    )
    from notellm_hf import export_model
    from notellm_hf.backbones import resolve_backbone
    from notellm_hf.data import PREPARERS, cache_dir, subsample_benchmark_set
    from notellm_hf.data.io import write_text
    from notellm_hf.evaluation import evaluate_benchmark, markdown_table
    from notellm_hf.training.recipe import parse_recipe_args, train

    full = cache_dir() / "datasets" / SETS[args.data]
    if not (full / "stats.json").exists():
        print(f"[1/5] preparing {SETS[args.data]} ...", flush=True)
        PREPARERS[SETS[args.data]](full)
    data = cache_dir() / "datasets" / f"{SETS[args.data]}-demo-{args.pool}"
    if not (data / "stats.json").exists():
        subsample_benchmark_set(full, data, args.pool, args.train_pairs)
    stats = json.loads((data / "stats.json").read_text())
    print(
        f"[1/5] data: {stats['train']['pairs']} training pairs; test pool {stats['test']['notes']} notes, "
        f"{stats['test']['pairs']} test pairs ({time.time() - start:.0f} s)",
        flush=True,
    )

    print(f"[2/5] training NoteLLM ({args.steps} steps) ...", flush=True)
    argv = ["--config", str(CONFIG), "--benchmark", str(data), "--output_dir", str(out / "train")]
    argv += ["--max_steps", str(args.steps), "--save_strategy", "no", "--disable_tqdm", "false"]
    recipe_args = parse_recipe_args(argv)
    # A finished run is reused only when the command and the config file are what they were.
    settings = {"argv": argv, "config": CONFIG.read_text()}
    info_path = out / "train" / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if info.get("demo_settings") == settings:
        log_history = info["log_history"]
        print(f"[2/5] reusing the trained model in {out / 'train' / 'model'}", flush=True)
    else:
        log_history = train(*recipe_args).state.log_history
        write_text(info_path, json.dumps({**json.loads(info_path.read_text()), "demo_settings": settings}, indent=2))
        print(f"[2/5] trained ({time.time() - start:.0f} s)", flush=True)

    print("[3/5] evaluating NoteLLM and the baselines ...", flush=True)
    report = out / "report"
    backbone = resolve_backbone(recipe_args[0].model_name_or_path)
    results = evaluate_benchmark(
        data,
        {"NoteLLM": out / "train" / "model"},
        baselines=["popularity", "minilm", "prompteol"],
        backbone=backbone,
        out_dir=report,
        generation_notes=args.generation_notes,
    )
    print(markdown_table(results["results"]), flush=True)
    training_curves(log_history, report / "training_curves.png")

    print("[4/5] recommendations and generations for a few test notes ...", flush=True)
    examples = show_examples(out / "train" / "model", data, pool_index(report, out / "index"))
    print(examples, flush=True)

    print("[5/5] exporting ...", flush=True)
    export_model(
        out / "train" / "model",
        out / "export",
        evaluation=json.loads((report / "results.json").read_text()),
        training_config={"steps": args.steps, "config": str(CONFIG.relative_to(ROOT)), "data": str(data)},
    )
    (report / "report.md").write_text(
        f"# notellm demo ({args.data})\n\n{markdown_table(results['results'])}\n\n![recall](recall_curves.png)\n\n"
        f"![training](training_curves.png)\n\n## Examples\n\n{examples}\n\nWall time: {time.time() - start:.0f} s.\n"
    )
    print(f"done in {time.time() - start:.0f} s: report {report}/report.md, model {out}/export", flush=True)
    print(
        "browse it (then open http://127.0.0.1:7860):\n"
        f"  .venv/bin/notellm explore --model {out / 'export'} --data {data} --index {out / 'index'} --baseline minilm",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
