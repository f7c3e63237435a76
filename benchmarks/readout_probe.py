"""Does a trained NoteLLM's own token states hold the lexical evidence its one-state embedding lacks? (no training)

    python benchmarks/readout_probe.py --model outputs/X/debian/NoteLLM/model --train-pairs 4096 \
        [--report outputs/X/debian/report/results.json] [--out outputs/readout_probe]

Why: on Debian, NoteLLM trails all-MiniLM-L6-v2 fine-tuned on the pairs whose partners share rare words (the target
is TF-IDF's first pick: -5.55 Avg on the H200, -6.92 on the CPU, `lexical_strata.py`), and a TF-IDF cosine fused in
repairs that. MiniLM mean-pools its word-piece states; NoteLLM reads one state before ``[EMB]``. If the mean of the
trained model's own token states (the same forward pass) carries those words, fusing its cosine with the
embedding's should gain where TF-IDF gains, and a read-out that adds that mean is worth a training run; if no layer's
mean does, only an outside lexical signal brings the words back.

Rows on the dev slice the model was trained with (``prepared_slice(..., dev=True)``): the model's embedding (the
reference); for each of ``--layers`` the mean state over the tokens before ``[EMB]`` and the same mean weighted by
each token's IDF over the pool's prompts (TF-IDF's weighting: the prompt's own tokens weigh 0, rare names most; or
over the training notes' prompts, ``--idf-notes train``), each dimension standardised over the pool, and each one's
convex fusion ``(1 - w) x embedding cosine + w x mean-state cosine`` at each ``--weights`` (a dev sweep: its best is
optimistic); with ``--bags``, the same fusions with exact IDF-weighted bags (`lexical_bags`: the ceiling of any
lexical block over the prompt's tokens, and what the text beyond the prompt adds); the TF-IDF fusion at
``--lexical-weight``; the served lexical block (``NoteLLMConfig.lexical_block_weight``: layer 0's IDF-weighted mean,
standardised over the training notes, in the model's own ``encode_notes``) at each ``--block-weights``; and
``--report``'s ranked rows scored on the same pool (e.g. MiniLM fine-tuned, or the reference model of a block trained
end to end). Each with its paired interval against ``--reference`` (default: the embedding), overall and by the TF-IDF
rank of the target (`lexical_strata`). Writes <out>/results.json without per-pair lists.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from common import SETS, dev_pool
from lexical_strata import lexical_strata
from transformers import AutoTokenizer

from notellm_hf import NoteLLMForEmbeddingAndGeneration
from notellm_hf.data.io import write_text
from notellm_hf.evaluation import compare_to_reference, embedding_scorer, retrieval_metrics
from notellm_hf.evaluation.metrics import hybrid_scorer, target_ranks
from notellm_hf.models.notellm.processing_notellm import (
    Note,
    length_sorted_batches,
    padded_batch,
    position_ids_from_mask,
)
from notellm_hf.retrieval.lexical import LexicalIndex, hybrid_scores
from notellm_hf.training.lexical_block import fit_lexical_block, sequences_idf, token_idf

ROOT = Path(__file__).resolve().parents[1]


def unit_rows(matrix: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(matrix.double(), dim=-1).float().numpy()


@torch.no_grad()
def token_states(
    model, tokenizer, notes, layers, token_weights: torch.Tensor | None = None, batch_size: int = 32
) -> tuple[torch.Tensor, dict[tuple[str, int], torch.Tensor]]:
    """(n, h) read-out states (the last layer's state of the token before ``[EMB]``, what the head reads) and, per
    index of ``layers`` into the decoder's hidden states (0: the token embeddings, L: after layer L; the last index is
    the normed output the read-out comes from), the (n, h) mean of the states of the tokens before ``[EMB]``, keyed
    ``("mean", layer)``; with ``token_weights`` (one per vocabulary entry) also their weighted mean, keyed
    ``("weighted mean", layer)``."""
    decoder = model.language_model.get_decoder()
    model.eval()
    sequences = [model.note_prompt.embedding_input_ids(tokenizer, Note.from_any(note)) for note in notes]
    weightings = {"mean": None} if token_weights is None else {"mean": None, "weighted mean": token_weights}
    readout = torch.empty(len(notes), decoder.config.hidden_size)
    means = {(name, layer): torch.empty_like(readout) for name in weightings for layer in layers}
    for index in length_sorted_batches(sequences, batch_size):
        batch = padded_batch([sequences[i] for i in index], tokenizer.pad_token_id)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        output = decoder(
            input_ids=ids,
            attention_mask=mask,
            position_ids=position_ids_from_mask(mask),
            output_hidden_states=True,
            use_cache=False,
        )
        emb = model.emb_positions(ids)
        readout[index] = output.last_hidden_state[torch.arange(len(ids)), emb - 1].float()
        before_emb = (mask.bool() & (torch.arange(ids.shape[1])[None, :] < emb[:, None])).float()
        for name, token_weight in weightings.items():
            weights = before_emb if token_weight is None else before_emb * token_weight[ids]
            for layer in layers:
                total = torch.einsum("bt,bth->bh", weights, output.hidden_states[layer].float())
                means[name, layer][index] = total / weights.sum(dim=1, keepdim=True).clamp(min=1e-9)
    return readout, means


def standardised(states: torch.Tensor) -> torch.Tensor:
    """Each dimension centred and scaled to unit spread over the pool: a few outlier dimensions (up to ~500x the RMS
    in SmolLM2's middle layers) would otherwise decide every cosine."""
    return (states - states.mean(dim=0)) / states.std(dim=0).clamp(min=1e-6)


def bag_rows(sequences: list[list[int]], idf: torch.Tensor, sublinear: bool = False) -> np.ndarray:
    """(n, vocabulary) L2-normalised bags of token ids, each count times the token's IDF (``sublinear``: (1 + log
    count) times it, TF-IDF's weighting): what any lexical block over these tokens could at best keep, exactly."""
    counts = torch.zeros(len(sequences), len(idf), dtype=torch.float64)
    for row, sequence in enumerate(sequences):
        counts[row].index_add_(
            0, torch.tensor(sequence, dtype=torch.long), torch.ones(len(sequence), dtype=torch.float64)
        )
    weights = torch.where(counts > 0, 1 + counts.clamp(min=1).log(), 0.0) if sublinear else counts
    return unit_rows(weights * idf.double())


def lexical_bags(model, tokenizer, pool: list, train_notes: list) -> dict[str, np.ndarray]:
    """Exact lexical vectors of the pool, their IDF counted over ``train_notes`` (as a served model would have to):
    the IDF-weighted bag of the prompt's tokens (the lexical block's input, before its token-embedding mean blurs
    it), of the whole note text's tokens (no truncation budget; the prompt's own tokens weigh 0 here too, as in the
    block), the same with sublinear counts, and word TF-IDF."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from notellm_hf.data.notes import note_text

    def text_tokens(notes: list) -> list[list[int]]:
        return [tokenizer(note_text(note), add_special_tokens=False)["input_ids"] for note in notes]

    prompt = [model.note_prompt.embedding_input_ids(tokenizer, Note.from_any(note)) for note in pool]
    text = text_tokens(pool)
    text_idf = sequences_idf(model, tokenizer, text_tokens(train_notes))
    words = TfidfVectorizer(sublinear_tf=True).fit([note_text(note) for note in train_notes])
    return {
        "prompt tokens": bag_rows(prompt, token_idf(model, tokenizer, train_notes)),
        "note tokens": bag_rows(text, text_idf),
        "note tokens, sublinear": bag_rows(text, text_idf, sublinear=True),
        "note words (TF-IDF)": unit_rows(torch.from_numpy(words.transform([note_text(n) for n in pool]).toarray())),
    }


def slim(retrieval: dict) -> dict:
    """A row's retrieval entry without its per-pair lists (ranks, curve, each bucket's pair rows), in place."""
    for key in ("ranks", "curve"):
        retrieval.pop(key, None)
    for bucket in ("low_exposure", "high_exposure"):
        retrieval.get(bucket, {}).pop("rows", None)
    return retrieval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a trained NoteLLM folder (trained on the dev slice)")
    parser.add_argument("--data", choices=sorted(SETS), default="debian")
    parser.add_argument("--pool", type=int, default=1500)
    parser.add_argument("--train-pairs", type=int, default=4096)
    parser.add_argument(
        "--layers", default="0,4,30", help='hidden-state indices whose mean states are fused ("": none)'
    )
    parser.add_argument("--weights", default="0.1,0.3,0.5")
    parser.add_argument("--lexical-weight", type=float, default=0.5)
    parser.add_argument(
        "--idf-notes",
        choices=("pool", "train"),
        default="pool",
        help="the notes the IDF is counted over: the pool (as the TF-IDF index) or the training split (as a served "
        "read-out would have to)",
    )
    parser.add_argument("--report", help="a results.json of the same dev pool: its ranked rows are added")
    parser.add_argument(
        "--block-weights",
        default="",
        help="served lexical-block rows (the model's own encode_notes with lexical_block_weight w, `NoteLLMConfig`) at "
        "each w: a model trained with a block keeps its fitted buffers; one without gets them fitted on the "
        "training pairs' notes, as the recipe fits them",
    )
    parser.add_argument(
        "--bags",
        action="store_true",
        help="rows fusing the embedding with exact IDF-weighted bags (`lexical_bags`) at each --weights",
    )
    parser.add_argument(
        "--reference", help="the row every other is compared with (e.g. 'report: NoteLLM'); default: the embedding"
    )
    parser.add_argument("--out", default=str(ROOT / "outputs" / "readout_probe"))
    args = parser.parse_args()
    start = time.time()
    # A block is fitted on every note of the training pairs (at most two per pair), as the recipe fits it.
    dev = dev_pool(
        args.data, args.pool, args.train_pairs, fit_notes=2 * args.train_pairs if args.block_weights or args.bags else 0
    )
    pool, ids, exposure, pairs = dev.pool, dev.ids, dev.exposure, dev.pairs
    model = NoteLLMForEmbeddingAndGeneration.from_pretrained(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    layers = [int(layer) for layer in args.layers.split(",") if layer]
    idf = token_idf(model, tokenizer, pool if args.idf_notes == "pool" else list(dev.train_notes.values()))
    states, means = token_states(model, tokenizer, pool, layers, idf)
    embedding = unit_rows(model.embedding_head(states).detach())
    print(f"dev pool {len(pool)} notes, {len(pairs)} pairs; states in {time.time() - start:.0f} s", flush=True)

    lexical = LexicalIndex(pool)
    own = embedding_scorer(embedding)
    scorers = {"NoteLLM (its embedding)": own}
    others = {f"{name} state, layer {layer}": unit_rows(standardised(state)) for (name, layer), state in means.items()}
    if args.bags:
        others |= {f"bag of {name}": bag for name, bag in lexical_bags(model, tokenizer, pool, dev.fit).items()}
    for name, rows_of_other in others.items():
        other = embedding_scorer(rows_of_other.astype(np.float32))
        scorers[name] = other
        for weight in [float(w) for w in args.weights.split(",")]:
            scorers[f"embedding + {name}, w {weight:g}"] = lambda rows, w=weight, other=other: hybrid_scores(
                own(rows), other(rows), w
            )
    scorers[f"embedding + TF-IDF, w {args.lexical_weight:g}"] = hybrid_scorer(embedding, lexical, args.lexical_weight)
    block_weights = [float(w) for w in args.block_weights.split(",") if w]
    if block_weights:
        # One served encoding: its two unit parts, rescaled, are the encoding at any other weight.
        own_block = model.config.lexical_block_weight > 0
        first = block_weights[0]
        served = NoteLLMForEmbeddingAndGeneration.from_pretrained(args.model, lexical_block_weight=first)
        if not own_block:
            fit_lexical_block(served, tokenizer, dev.fit)  # every note of the training pairs
        encoded = served.encode_notes(tokenizer, pool).double()
        dim = served.config.embedding_dim
        head, block = encoded[:, :dim] / (1 - first) ** 0.5, encoded[:, dim:] / first**0.5
        for weight in block_weights:
            name = f"served lexical block ({'its own' if own_block else 'fitted here'}), w {weight:g}"
            mixed = torch.cat([head * (1 - weight) ** 0.5, block * weight**0.5], dim=1)
            scorers[name] = embedding_scorer(mixed.float().numpy())
    results = {name: {"retrieval": retrieval_metrics(s, ids, pairs, exposure)} for name, s in scorers.items()}
    if args.report:
        for row, result in json.loads(Path(args.report).read_text())["results"].items():
            if "ranks" in result["retrieval"]:
                if result["retrieval"]["pool_size"] != len(ids) or result["retrieval"]["pairs"] != len(pairs):
                    raise SystemExit(f"{args.report}: row {row!r} was not scored on this dev pool")
                results[f"report: {row}"] = {"retrieval": result["retrieval"]}
    reference = args.reference or next(iter(scorers))
    if reference not in results:
        raise SystemExit(f"--reference {reference!r} is none of the rows: {sorted(results)}")
    compare_to_reference(results, reference)
    lexical_ranks = target_ranks(lexical.similarity, ids, pairs)
    row_ranks = {name: np.asarray(r["retrieval"]["ranks"]) for name, r in results.items()}
    strata = lexical_strata(lexical_ranks, row_ranks, results[reference]["retrieval"]["scaled_ks"], len(ids), reference)
    for name, result in results.items():
        versus = result.get("vs_reference", {}).get("all")
        interval = ""
        if versus:
            interval = f"  ref - row {versus['difference']:+.2f} [{versus['low']:+.2f}, {versus['high']:+.2f}]"
        print(f"{name:45s} Avg {result['retrieval']['avg']:.2f}{interval}", flush=True)
    print(json.dumps(strata, indent=2))
    for result in results.values():  # the strata keep what a reader needs; per-pair lists stay out of the file
        slim(result["retrieval"])
    record = {"model": args.model, "data": str(dev.data), "idf_notes": args.idf_notes}
    record["seconds"] = round(time.time() - start, 1)
    record |= {"results": results, "strata": strata}
    write_text(Path(args.out) / "results.json", json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
