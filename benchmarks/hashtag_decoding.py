"""Hashtag decoding, open vs within the training notes' tag list, on one model (per-note ROUGE-1, paired bootstrap);
with ``--report``, also the tags each note's 10 nearest pool notes lend.

    python benchmarks/hashtag_decoding.py --model M --data ~/.cache/notellm_hf/datasets/debian-dev-1500-2048 \
        [--notes 48] [--beams 4,8] [--report DIR --encoders NoteLLM,minilm] [--out F.json]

Scores the first ``--notes`` test notes that have hashtags, each decoding asked for 3 tags: open greedy decoding
(``distinct_hashtags`` cleaning) and ``generate_hashtags(vocabulary=BenchmarkSet.hashtag_vocabulary)`` at each beam
count. Reports BLEU-4 / ROUGE (the paper's metrics), exact tag precision (% of the 3 asked for that are the note's
own), tags per note, distinct tags over all notes, tags outside the list, the wall seconds (bf16 autocast where
native), and ROUGE-1 of each vocabulary row minus the open row. ``--report`` is an evaluation folder
(``pool_ids.json``, ``embeddings_<encoder>.npy`` of the same pool): each encoder's row holds the listed tags its 10
nearest other pool notes carry (``pool_neighbour_hashtags``), compared with the first vocabulary row and (every
encoder after the first) with the first encoder's row (ROUGE-1 and exact precision).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from notellm_hf.backbones import load_notellm
from notellm_hf.data import load_benchmark_set
from notellm_hf.evaluation.generation_metrics import hashtag_metrics, hashtag_rouge_per_note
from notellm_hf.evaluation.significance import paired_bootstrap
from notellm_hf.models.notellm.processing_notellm import Note
from notellm_hf.precision import inference_autocast, resolve_precision
from notellm_hf.retrieval.neighbour_hashtags import lendable_hashtags, pool_neighbour_hashtags


def tag_precision(generated: list[list[str]], truth: list[list[str]], asked: int = 3) -> np.ndarray:
    """Per note: 100 x the share of the ``asked`` tags that are among the note's own tags (exact match)."""
    return np.array([100.0 * len(set(tags) & set(true)) / asked for tags, true in zip(generated, truth, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--notes", type=int, default=48)
    parser.add_argument("--beams", default="4,8")
    parser.add_argument("--report", help="evaluation folder with pool_ids.json and embeddings_<encoder>.npy")
    parser.add_argument("--encoders", default="NoteLLM,minilm", help="with --report: whose neighbours lend tags")
    parser.add_argument("--out")
    args = parser.parse_args()
    model, tokenizer = load_notellm(args.model)
    benchmark = load_benchmark_set(args.data)
    vocabulary = benchmark.hashtag_vocabulary
    tagged = [Note.from_any(row) for row in benchmark.split_notes("test") if row["hashtags"]][: args.notes]
    truth = [list(note.hashtags) for note in tagged]
    decodings = {"open": {}} | {
        f"vocabulary, {beams} beams": {"vocabulary": vocabulary, "vocabulary_beams": int(beams)}
        for beams in args.beams.split(",")
    }
    figures, per_note, generated = {"model": args.model, "notes": len(tagged), "vocabulary": len(vocabulary)}, {}, {}
    with inference_autocast(resolve_precision("auto", "cpu"), "cpu"):
        for name, options in decodings.items():
            start = time.perf_counter()
            generated[name] = model.generate_hashtags(tokenizer, tagged, num_hashtags=3, **options)
            seconds = time.perf_counter() - start
            per_note[name] = hashtag_rouge_per_note(generated[name], truth)["rouge1"]
            figures[name] = {
                **hashtag_metrics(generated[name], truth),
                "seconds": round(seconds, 1),
                "tags_per_note": float(np.mean([len(tags) for tags in generated[name]])),
                "distinct_tags": len({tag for tags in generated[name] for tag in tags}),
                "outside_vocabulary": sum(tag not in set(vocabulary) for tags in generated[name] for tag in tags),
            }
    for name in list(decodings)[1:]:
        figures[name]["rouge1_minus_open"] = paired_bootstrap(per_note[name], per_note["open"])
    precision = {name: tag_precision(generated[name], truth) for name in decodings}
    if args.report:
        pool_ids = json.loads(Path(args.report, "pool_ids.json").read_text())
        pool = [Note.from_any(row) for row in benchmark.split_notes("test")]
        if pool_ids != [note.note_id for note in pool]:
            raise ValueError(f"{args.report} scored another pool than the test notes of {args.data}")
        lendable, decoded = lendable_hashtags(pool, vocabulary), list(decodings)[1]
        queries, lent_rows = [note.note_id for note in tagged], []
        for encoder in args.encoders.split(","):
            name = f"neighbours ({encoder})"
            embeddings = np.load(Path(args.report, f"embeddings_{encoder}.npy"))
            generated[name] = pool_neighbour_hashtags(embeddings, pool_ids, lendable, queries)
            per_note[name] = hashtag_rouge_per_note(generated[name], truth)["rouge1"]
            precision[name] = tag_precision(generated[name], truth)
            figures[name] = {
                **hashtag_metrics(generated[name], truth),
                "distinct_tags": len({tag for tags in generated[name] for tag in tags}),
            }
            for other in (decoded, *lent_rows[:1]):
                figures[name][f"minus {other}"] = {
                    "rouge1": paired_bootstrap(per_note[name], per_note[other]),
                    "tag_precision": paired_bootstrap(precision[name], precision[other]),
                }
            lent_rows.append(name)
    for name, values in precision.items():
        figures[name]["tag_precision"] = float(values.mean())
    figures["examples"] = [
        {"note": note.note_id, "true": truth[i][:6], **{name: rows[i] for name, rows in generated.items()}}
        for i, note in enumerate(tagged[:8])
    ]
    text = json.dumps(figures, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
