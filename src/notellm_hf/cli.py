"""The ``notellm`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _load(model_dir: str):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
    return model, tokenizer


def _read_notes(path: str) -> list:
    from .data.notes import load_notes, notes_by_id

    return list(notes_by_id(load_notes(path)).values())


def _encode(args: argparse.Namespace) -> None:
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    from .encoding import encode_to_shards, iter_shards

    # One process, or one of `accelerate launch`'s (each embeds its own shards); CPU ranks as in Accelerator.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    notes = _read_notes(args.notes)
    model, tokenizer = _load(args.model)
    written = encode_to_shards(
        model.to(state.device),
        tokenizer,
        notes,
        args.output,
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        process_index=state.process_index,
        num_processes=state.num_processes,
        show_progress_bar=state.is_local_main_process,
    )
    print(f"process {state.process_index}/{state.num_processes} wrote {[p.name for p in written]}", flush=True)
    state.wait_for_everyone()
    if state.is_main_process:
        rows = sum(len(ids) for _, ids in iter_shards(args.output))
        print(f"{args.output}: embeddings of {rows:,} of {len(notes):,} notes")


def _index(args: argparse.Namespace) -> None:
    from .index import NoteIndex

    index = NoteIndex.from_shards(args.embeddings, factory=args.factory, nprobe=args.nprobe, ef_search=args.ef_search)
    index.save(args.out)
    print(f"indexed {len(index):,} notes ({args.factory}) in {args.out}")


def _generate(args: argparse.Namespace) -> None:
    notes = _read_notes(args.notes)
    model, tokenizer = _load(args.model)
    if args.task == "category":
        categories = [c.strip() for c in args.categories.split(",")] if args.categories else None
        outputs = model.generate_category(tokenizer, notes, categories=categories, batch_size=args.batch_size)
    else:
        outputs = model.generate_hashtags(tokenizer, notes, num_hashtags=args.num_hashtags, batch_size=args.batch_size)
    for note, output in zip(notes, outputs, strict=True):
        print(json.dumps({"note_id": note.note_id, args.task: output}, ensure_ascii=False))


def _pairs(args: argparse.Namespace) -> None:
    from .data.pairs import build_cooccurrence_pairs, write_pairs

    pairs = build_cooccurrence_pairs(
        args.clicks,
        upper=args.upper,
        lower=args.lower,
        top_t=args.top_t,
        ordered=not args.unordered,
        max_history=args.max_history,
        progress=True,
    )
    write_pairs(pairs, args.output)
    print(f"wrote {len(pairs):,} pairs over {pairs.note_id_a.nunique():,} notes to {args.output}")


def _prepare(args: argparse.Namespace) -> None:
    from .data import PREPARERS

    stats = PREPARERS[args.name](args.out)
    print(json.dumps({split: stats[split] for split in ("train", "test")}, indent=2))


def _evaluate(args: argparse.Namespace) -> None:
    from .evaluation import evaluate_benchmark
    from .report import markdown_table

    models = {}
    for spec in args.model:
        name, _, path = spec.rpartition("=")
        models[name or ("NoteLLM" if len(args.model) == 1 else path)] = path
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    if not models and not baselines:
        raise ValueError("nothing to evaluate: give --model and/or --baselines")
    report = evaluate_benchmark(
        args.data,
        models,
        baselines=baselines,
        backbone=args.backbone,
        out_dir=args.out,
        generation_notes=args.generation_notes,
        batch_size=args.batch_size,
        finetune_steps=args.finetune_steps,
        device=args.device,
    )
    print(markdown_table(report["results"]))
    print(f"\nreport: {args.out}/results.md, results.json, recall_curves.png")


def _export(args: argparse.Namespace) -> None:
    from .hub import export_model

    evaluation = json.loads(open(args.eval_results, encoding="utf-8").read()) if args.eval_results else None
    training = json.loads(open(args.training_config, encoding="utf-8").read()) if args.training_config else None
    out = export_model(
        args.source,
        args.out,
        adapter_only=args.adapter_only,
        base_model=args.base_model,
        model_id=args.model_id,
        training_config=training,
        evaluation=evaluation,
        datasets=args.dataset or None,
    )
    print(f"exported to {out}")


def _push(args: argparse.Namespace) -> None:
    from .hub import push_to_hub

    url = push_to_hub(args.folder, args.repo_id, private=args.private, revision=args.revision)
    print(f"pushed {args.folder} to {args.repo_id}: {url}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notellm", description="NoteLLM: note embeddings, hashtags and categories.")
    commands = parser.add_subparsers(dest="command", required=True)

    encode = commands.add_parser(
        "encode", help="embed a note table into resumable shards (run under `accelerate launch` to split it)"
    )
    encode.add_argument("--model", required=True)
    encode.add_argument("--notes", required=True, help="note table (.jsonl, .parquet, .csv): note_id, title, ...")
    encode.add_argument("--output", required=True, help="folder of shard-NNNNN.npy + shard-NNNNN.ids.json files")
    encode.add_argument("--shard-size", type=int, default=100_000, help="notes per shard")
    encode.add_argument("--batch-size", type=int, default=32)
    encode.set_defaults(run=_encode)

    index = commands.add_parser("index", help="build a NoteIndex from embedding shards, one shard at a time")
    index.add_argument("embeddings", help="folder written by `notellm encode`")
    index.add_argument("out", help="index folder (faiss file + note ids)")
    index.add_argument("--factory", default="Flat", help='faiss factory string, e.g. "HNSW32,Flat", "IVF4096,Flat"')
    index.add_argument("--nprobe", type=int, help="IVF cells searched per query")
    index.add_argument("--ef-search", type=int, help="HNSW search breadth")
    index.set_defaults(run=_index)

    generate = commands.add_parser("generate", help="generate each note's category or hashtags")
    generate.add_argument("--model", required=True)
    generate.add_argument("--notes", required=True)
    generate.add_argument("--task", choices=["category", "hashtags"], default="category")
    generate.add_argument("--categories", help="comma-separated closed category list (constrained decoding)")
    generate.add_argument("--num-hashtags", type=int, default=3)
    generate.add_argument("--batch-size", type=int, default=16)
    generate.set_defaults(run=_generate)

    pairs = commands.add_parser("pairs", help="related-note pairs from a click log (user_id, note_id, timestamp)")
    pairs.add_argument("clicks", help="click log: .parquet, .csv, .tsv or .arrow")
    pairs.add_argument("output", help="pairs file: .parquet, .csv or .jsonl (note_id_a, note_id_b, score)")
    pairs.add_argument("--upper", type=float, default=30.0, help="drop pairs scoring above this (paper: 30)")
    pairs.add_argument("--lower", type=float, default=0.01, help="drop pairs scoring below this (paper: 0.01)")
    pairs.add_argument("--top-t", type=int, default=10, help="related notes kept per note (paper: 10)")
    pairs.add_argument("--unordered", action="store_true", help="count both directions, ignoring click order")
    pairs.add_argument("--max-history", type=int, help="keep only each user's most recent M clicks")
    pairs.set_defaults(run=_pairs)

    evaluate = commands.add_parser("evaluate", help="recall, exposure buckets and generation metrics on a test pool")
    evaluate.add_argument("--model", action="append", default=[], help="NoteLLM folder or Hub id (NAME=PATH names it)")
    evaluate.add_argument("--data", required=True, help="a prepared benchmark set (notellm data prepare)")
    evaluate.add_argument("--out", default="evaluation", help="report folder (JSON, markdown, PNG)")
    evaluate.add_argument(
        "--baselines", default="", help="comma-separated: popularity,minilm,minilm-finetuned,backbone,prompteol"
    )
    evaluate.add_argument("--backbone", help="causal LM for the backbone/prompteol baselines (id, folder or .gguf)")
    evaluate.add_argument("--generation-notes", type=int, default=100, help="test notes scored for generation")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--finetune-steps", type=int, default=-1, help="steps for minilm-finetuned (-1: 1 epoch)")
    evaluate.add_argument("--device", help="where every encoder runs (default: cuda when available, else cpu)")
    evaluate.set_defaults(run=_evaluate)

    export = commands.add_parser("export", help="one folder loadable by AutoModel and SentenceTransformer")
    export.add_argument("source", help="a trained NoteLLM folder or a LoRA adapter folder")
    export.add_argument("out", help="output folder")
    export.add_argument("--adapter-only", action="store_true", help="export the LoRA adapter alone (not merged)")
    export.add_argument("--base-model", help="base NoteLLM for an adapter (Hub id to record when publishing)")
    export.add_argument("--model-id", help="Hub id shown in the model card's usage snippets")
    export.add_argument("--eval-results", help="results.json of `notellm evaluate` for the card's figures")
    export.add_argument("--training-config", help="JSON file of the training configuration for the card")
    export.add_argument("--dataset", action="append", default=[], help="dataset id for the card (repeatable)")
    export.set_defaults(run=_export)

    push = commands.add_parser("push", help="publish an exported folder to the Hugging Face Hub")
    push.add_argument("folder")
    push.add_argument("--repo-id", required=True)
    push.add_argument("--private", action="store_true")
    push.add_argument("--revision", help="branch to push to (created if missing)")
    push.set_defaults(run=_push)

    data = commands.add_parser("data", help="benchmark data sets").add_subparsers(dest="data_command", required=True)
    prepare = data.add_parser("prepare", help="build a benchmark set (notes, split, pairs, stats.json)")
    prepare.add_argument("name", choices=["movielens-tmdb", "debian"])
    prepare.add_argument("--out", help="output folder (default: <cache>/datasets/<name>)")
    prepare.set_defaults(run=_prepare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"notellm: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
