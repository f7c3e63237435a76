"""The ``notellm`` command line: argument parsing only; each subcommand is one library call a Python user can
make too (named in its handler)."""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections.abc import Sequence
from dataclasses import fields

from .data.pairs import CooccurrenceArguments, pairs_from_click_log
from .data.sets import PREPARERS, prepare_custom
from .data.splits import SPLIT_RULES
from .evaluation.baselines import BASELINES
from .evaluation.benchmark import evaluate_benchmark
from .evaluation.report import markdown_table
from .explorer import BASELINE_ENCODERS, explore
from .generation import generate_for_notes
from .hub import EXPORT_FORMATS, push_to_hub, render_note_table
from .precision import PRECISIONS
from .retrieval.encoding import encode_note_table
from .retrieval.index import NoteIndex
from .retrieval.lexical import parse_lexical_weights
from .retrieval.recommend import recommend
from .training.recipe import parse_recipe_args, train

PRECISION_HELP = "the language models' arithmetic: auto = bf16 autocast where the CPU/GPU computes it natively"


def _encode(args: argparse.Namespace) -> None:
    run = encode_note_table(
        args.model,
        args.notes,
        args.output,
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        precision=args.precision,
    )
    print(f"process {run.process_index}/{run.num_processes} wrote {[p.name for p in run.written]}", flush=True)
    if run.rows_on_disk is not None:
        print(f"{args.output}: embeddings of {run.rows_on_disk:,} of {run.notes:,} notes")


def _index(args: argparse.Namespace) -> None:
    index = NoteIndex.from_shards(
        args.embeddings, factory=args.factory, nprobe=args.nprobe, ef_search=args.ef_search, k_factor=args.k_factor
    )
    index.save(args.out)
    print(f"indexed {len(index):,} notes ({args.factory}) in {args.out}")


def _generate(args: argparse.Namespace) -> None:
    categories = [c.strip() for c in args.categories.split(",")] if args.categories else None
    records = generate_for_notes(
        args.model,
        args.notes,
        task=args.task,
        categories=categories,
        num_hashtags=args.num_hashtags,
        batch_size=args.batch_size,
        hashtag_vocabulary=args.hashtag_vocabulary,
    )
    for record in records:
        print(json.dumps(record, ensure_ascii=False))


def _recommend(args: argparse.Namespace) -> None:
    records = recommend(
        args.index,
        note_ids=args.note_id,
        new_notes=args.notes,
        model=args.model,
        catalog=args.catalog,
        k=args.k,
        generate=args.generate,
        precision=args.precision,
        lexical_weight=args.lexical_weight,
    )
    for record in records:
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
            continue
        print(f"{record['note_id']}:")
        if args.generate:
            tags = ", ".join(record["hashtags"]) or "-"
            print(f"  generated category: {record['category'] or '-'}; hashtags: {tags}")
        for rank, hit in enumerate(record["related"], start=1):
            print(f"  {rank:>3}. {hit['note_id']}  {hit['score']:.3f}  {hit['title']}")


def _explore(args: argparse.Namespace) -> None:
    explore(
        args.model,
        args.data,
        args.index,
        args.baseline,
        host=args.host,
        port=args.port,
        k=args.k,
        precision=args.precision,
    )


def _cooccurrence_arguments(args: argparse.Namespace) -> CooccurrenceArguments:
    return CooccurrenceArguments(**{f.name: getattr(args, f.name) for f in fields(CooccurrenceArguments)})


def _pairs(args: argparse.Namespace) -> None:
    pairs = pairs_from_click_log(args.clicks, args.output, _cooccurrence_arguments(args), progress=True)
    print(f"wrote {len(pairs):,} pairs over {pairs.note_id_a.nunique():,} notes to {args.output}")


def _print_set_statistics(stats: dict) -> None:
    print(json.dumps({split: stats[split] for split in ("train", "test")}, indent=2))


def _prepare(args: argparse.Namespace) -> None:
    _print_set_statistics(PREPARERS[args.name](args.out))


def _prepare_custom(args: argparse.Namespace) -> None:
    stats = prepare_custom(
        args.notes,
        args.clicks,
        args.out,
        split=args.split,
        test_fraction=args.test_fraction,
        pairs=_cooccurrence_arguments(args),
    )
    _print_set_statistics(stats)
    print(f"{args.out}: {stats['split']['rule'].split(':')[0]} split; train with `benchmark: {args.out}`")


def _train(args: argparse.Namespace) -> None:
    train(*parse_recipe_args(args.recipe_args))


def _evaluate(args: argparse.Namespace) -> None:
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
        reference=args.reference,
        resamples=args.resamples,
        seed=args.seed,
        precision=args.precision,
        lexical_weights=parse_lexical_weights(args.lexical),
    )
    print(markdown_table(report["results"]))
    print(f"\nreport: {args.out}/results.md, results.json, recall_curves.png")


def _export(args: argparse.Namespace) -> None:
    if args.adapter_only and args.format != "notellm":
        raise ValueError("--adapter-only exports a LoRA adapter for the NoteLLM format only (--format notellm)")
    if args.onnx and args.format != "sentence-transformers":
        raise ValueError("--onnx adds ONNX files to a stock-module export only (--format sentence-transformers)")
    if args.onnx != bool(args.calibration_notes):
        raise ValueError("--onnx and --calibration-notes go together: the int8 file is calibrated on those notes")
    options = {"adapter_only": True} if args.adapter_only else {}
    if args.onnx:
        options.update(onnx=True, calibration_notes=args.calibration_notes)
    out = EXPORT_FORMATS[args.format](
        args.source,
        args.out,
        base_model=args.base_model,
        model_id=args.model_id,
        training_config=args.training_config,
        evaluation=args.eval_results,
        datasets=args.dataset or None,
        **options,
    )
    print(f"exported to {out}")


def _render(args: argparse.Namespace) -> None:
    out = render_note_table(args.model, args.notes, args.out)
    print(f"rendered notes to {out}")


def _push(args: argparse.Namespace) -> None:
    url = push_to_hub(args.folder, args.repo_id, private=args.private, revision=args.revision)
    print(f"pushed {args.folder} to {args.repo_id}: {url}")


def _add_cooccurrence_flags(parser: argparse.ArgumentParser) -> None:
    """`--upper`, `--lower`, `--top-t`, `--unordered`, `--max-history` from [`CooccurrenceArguments`] (the recipe's
    ``pairs_*`` keys), so both take the same defaults and help."""
    hints = typing.get_type_hints(CooccurrenceArguments)
    for spec in fields(CooccurrenceArguments):
        name, help_text = spec.name.removeprefix("pairs_"), spec.metadata["help"]
        if hints[spec.name] is bool:  # on by default: the flag turns it off
            parser.add_argument(f"--un{name}", dest=spec.name, action="store_false", help=f"turn off: {help_text}")
            continue
        kind = next(t for t in typing.get_args(hints[spec.name]) or (hints[spec.name],) if t is not type(None))
        parser.add_argument(
            f"--{name.replace('_', '-')}", dest=spec.name, type=kind, default=spec.default, help=help_text
        )


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
    encode.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    encode.set_defaults(run=_encode)

    index = commands.add_parser("index", help="build a NoteIndex from embedding shards, one shard at a time")
    index.add_argument("embeddings", help="folder written by `notellm encode`")
    index.add_argument("out", help="index folder (faiss file + note ids)")
    index.add_argument("--factory", default="Flat", help='faiss factory string, e.g. "HNSW32,Flat", "IVF4096,Flat"')
    index.add_argument("--nprobe", type=int, help="IVF cells searched per query")
    index.add_argument("--k-factor", type=float, help="refine stage (factory ending in ',RFlat'): re-rank k x this")
    index.add_argument("--ef-search", type=int, help="HNSW search breadth")
    index.set_defaults(run=_index)

    generate = commands.add_parser("generate", help="generate each note's category or hashtags")
    generate.add_argument("--model", required=True)
    generate.add_argument("--notes", required=True)
    generate.add_argument("--task", choices=["category", "hashtags"], default="category")
    generate.add_argument("--categories", help="comma-separated closed category list (constrained decoding)")
    generate.add_argument("--num-hashtags", type=int, default=3)
    generate.add_argument(
        "--hashtag-vocabulary", help="text file, one hashtag a line: hashtags are decoded within this closed list"
    )
    generate.add_argument("--batch-size", type=int, default=16)
    generate.set_defaults(run=_generate)

    pairs = commands.add_parser("pairs", help="related-note pairs from a click log (user_id, note_id, timestamp)")
    pairs.add_argument("clicks", help="click log: .parquet, .csv, .tsv or .arrow")
    pairs.add_argument("output", help="pairs file: .parquet, .csv or .jsonl (note_id_a, note_id_b, score)")
    _add_cooccurrence_flags(pairs)
    pairs.set_defaults(run=_pairs)

    recommend_command = commands.add_parser(
        "recommend", help="related notes for indexed notes (--note-id) or for new notes (--notes: cold start)"
    )
    recommend_command.add_argument("--index", required=True, help="index folder (notellm index, or the demo's)")
    recommend_command.add_argument("--note-id", action="append", default=[], help="an indexed note (repeatable)")
    recommend_command.add_argument("--notes", help="note table of new notes to embed and search for")
    recommend_command.add_argument("--model", help="the NoteLLM that built the index (for --notes and --generate)")
    recommend_command.add_argument("--catalog", help="note table or prepared set folder: titles of the results")
    recommend_command.add_argument("-k", type=int, default=10, help="related notes per query")
    recommend_command.add_argument("--generate", action="store_true", help="also the generated hashtags/category")
    recommend_command.add_argument("--json", action="store_true", help="one JSON record per query")
    recommend_command.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    recommend_command.add_argument(
        "--lexical-weight",
        type=float,
        default=0.0,
        help="hybrid ranking: (1 - w) x embedding cosine + w x TF-IDF cosine over the catalog's text (needs --catalog; "
        "choose w with `notellm evaluate --lexical` on a dev split)",
    )
    recommend_command.set_defaults(run=_recommend)

    explore_command = commands.add_parser("explore", help="a local page to browse a model's recommendations")
    explore_command.add_argument("--model", required=True, help="NoteLLM folder or Hub id")
    explore_command.add_argument("--data", required=True, help="a prepared set (notellm data prepare)")
    explore_command.add_argument("--index", help="index of the pool (default: embed the set's test pool now)")
    explore_command.add_argument("--baseline", choices=sorted(BASELINE_ENCODERS), help="a second column to compare")
    explore_command.add_argument("--host", default="127.0.0.1")
    explore_command.add_argument("--port", type=int, default=7860)
    explore_command.add_argument("-k", type=int, default=10, help="related notes shown")
    explore_command.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    explore_command.set_defaults(run=_explore)

    evaluate = commands.add_parser("evaluate", help="recall, exposure buckets and generation metrics on a test pool")
    evaluate.add_argument("--model", action="append", default=[], help="NoteLLM folder or Hub id (NAME=PATH names it)")
    evaluate.add_argument("--data", required=True, help="a prepared benchmark set (notellm data prepare)")
    evaluate.add_argument("--out", default="evaluation", help="report folder (JSON, markdown, PNG)")
    choices = "; ".join(f"{name}: {baseline.description}" for name, baseline in BASELINES.items())
    evaluate.add_argument("--baselines", default="", help=f"comma-separated names. {choices}")
    evaluate.add_argument("--backbone", help="causal LM for the backbone/prompteol baselines (id, folder or .gguf)")
    evaluate.add_argument("--generation-notes", type=int, default=100, help="test notes scored for generation")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--finetune-steps", type=int, default=-1, help="steps for minilm-finetuned (-1: 1 epoch)")
    evaluate.add_argument("--device", help="where every encoder runs (default: cuda when available, else cpu)")
    evaluate.add_argument("--reference", help="row every other row is compared with (default: the first --model)")
    evaluate.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples of the test pairs")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")
    evaluate.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    evaluate.add_argument(
        "--lexical",
        action="append",
        default=[],
        metavar="ROW=WEIGHT[,WEIGHT...]",
        help="add the hybrid row 'ROW + lexical': (1 - w) x ROW's cosine + w x the pool's TF-IDF cosine; several "
        "weights: the best Avg is kept (choose on a dev split, then give that one weight on the test pool)",
    )
    evaluate.set_defaults(run=_evaluate)

    export = commands.add_parser(
        "export", help="a folder to publish or serve: NoteLLM with remote code, or stock sentence-transformers modules"
    )
    export.add_argument("source", help="a trained NoteLLM folder or a LoRA adapter folder")
    export.add_argument("out", help="output folder")
    export.add_argument(
        "--format",
        choices=sorted(EXPORT_FORMATS),
        default="notellm",
        help="notellm: the NoteLLM model with its remote code (embeddings + generation); sentence-transformers: "
        "stock modules only, no remote code (embeddings of notes rendered by `notellm render`)",
    )
    export.add_argument(
        "--onnx", action="store_true", help="with --format sentence-transformers: add onnx/model.onnx + int8 copy"
    )
    export.add_argument(
        "--calibration-notes",
        help="with --onnx: a note table (a few dozen of the notes to embed) the int8 file's smoothing is calibrated on",
    )
    export.add_argument("--adapter-only", action="store_true", help="export the LoRA adapter alone (not merged)")
    export.add_argument("--base-model", help="base NoteLLM for an adapter (Hub id to record when publishing)")
    export.add_argument("--model-id", help="Hub id shown in the model card's usage snippets")
    export.add_argument("--eval-results", help="results.json of `notellm evaluate` for the card's figures")
    export.add_argument("--training-config", help="JSON file of the training configuration for the card")
    export.add_argument("--dataset", action="append", default=[], help="dataset id for the card (repeatable)")
    export.set_defaults(run=_export)

    render = commands.add_parser(
        "render", help="notes -> the prompt texts a stock-module export embeds (JSON Lines: note_id, text)"
    )
    render.add_argument("model", help="a stock-module export or a NoteLLM model (folder or Hub id)")
    render.add_argument("--notes", required=True, help="note table (.jsonl, .parquet, .csv): note_id, title, ...")
    render.add_argument("--out", required=True, help="output .jsonl")
    render.set_defaults(run=_render)

    push = commands.add_parser("push", help="publish an exported folder to the Hugging Face Hub")
    push.add_argument("folder")
    push.add_argument("--repo-id", required=True)
    push.add_argument("--private", action="store_true")
    push.add_argument("--revision", help="branch to push to (created if missing)")
    push.set_defaults(run=_push)

    data = commands.add_parser("data", help="benchmark data sets").add_subparsers(dest="data_command", required=True)
    prepare = data.add_parser("prepare", help="build a benchmark set (notes, split, pairs, stats.json)")
    sets = prepare.add_subparsers(dest="name", required=True)
    for name in sorted(PREPARERS):
        built_in = sets.add_parser(name, help=f"the built-in {name} set")
        built_in.add_argument("--out", help="output folder (default: <cache>/datasets/<name>)")
        built_in.set_defaults(run=_prepare)
    custom = sets.add_parser("custom", help="your own notes and click log, split the paper's way")
    custom.add_argument("--notes", required=True, help="note table: note_id plus title/content/hashtags/category")
    custom.add_argument("--clicks", required=True, help="click log: user_id, note_id[, timestamp]")
    custom.add_argument("--out", required=True, help="output folder")
    custom.add_argument(
        "--split",
        choices=["auto", *SPLIT_RULES],
        default="auto",
        help="time: the notes first clicked last form the test pool; hash: a stable hash of the note id; "
        "auto: time when the clicks carry usable timestamps",
    )
    custom.add_argument("--test-fraction", type=float, default=0.3, help="share of the notes in the test pool")
    _add_cooccurrence_flags(custom)
    custom.set_defaults(run=_prepare_custom)

    train_command = commands.add_parser(
        "train",
        help="train NoteLLM from a recipe: --config YAML plus any of its keys as flags (as recipes/train.py)",
        add_help=False,
    )
    train_command.set_defaults(run=_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "train":  # the recipe's own parser reads (and explains, with --help) the rest
        args.recipe_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"notellm: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
