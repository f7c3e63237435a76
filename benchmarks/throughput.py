"""Throughput against the peers users would pick instead, printed side by side with ratios from the same run.

    python benchmarks/throughput.py [--only encode,train,retrieval] [--data ~/.cache/notellm_hf/datasets/debian]

- encode: `encode_notes` vs `SentenceTransformer.encode` (Transformer + lasttoken Pooling) of the same SmolLM2
  backbone on the same prompt texts (NoteLLM's category prompt up to [EMB]), fp32, plus a bf16-autocast line.
- train: `NoteLLMTrainer` (contrastive + generation loss) vs `SentenceTransformerTrainer` with
  MultipleNegativesRankingLoss, same backbone and pairs, full fine-tuning fp32, same batch; the MFU of the
  NoteLLM step (6 x non-embedding parameters x tokens / step time, against this machine's measured fp32 matmul peak).
- retrieval: `NoteIndex` ("IVF1024,Flat", several nprobe) vs brute-force NumPy matmul over 1M x 128 clustered unit
  vectors (or real embeddings: ``--vectors emb.npy --factory IVF256,Flat``, or ``HNSW32,Flat``): queries/s and
  recall@100 against the exact top 100.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import StepTimer, smollm2_notellm


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    seconds, _ = timed(lambda: [a @ b for _ in range(repeats)])
    return 2 * size**3 * repeats / seconds / 1e9


def notellm_and_texts(data: Path, count: int):
    from notellm_hf import Note
    from notellm_hf.data.benchmark_set import load_benchmark_set

    model, tokenizer, folder = smollm2_notellm()
    prompt = model.note_prompt
    benchmark = load_benchmark_set(data)
    notes = [Note.from_any(row) for row in benchmark.split_notes("train").select(range(count))]
    # The same text a sentence encoder sees: the category prompt up to (not including) [EMB].
    texts = [prompt.render(tokenizer, note)[0].split(prompt.emb_token)[0] for note in notes]
    return folder, model, tokenizer, notes, texts, benchmark


def sentence_transformer(folder: str):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    transformer = Transformer(folder, max_seq_length=512)
    return SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension(), "lasttoken")])


def bench_encode(data: Path, count: int, batch_size: int) -> list[str]:
    folder, model, tokenizer, notes, texts, _ = notellm_and_texts(data, count)
    st = sentence_transformer(folder)
    model.encode_notes(tokenizer, notes[:batch_size], batch_size=batch_size)  # warm-up
    st.encode(texts[:batch_size], batch_size=batch_size)
    ours, _ = timed(model.encode_notes, tokenizer, notes, batch_size=batch_size)
    peer, _ = timed(st.encode, texts, batch_size=batch_size)
    tokens = sum(len(model.note_prompt.embedding_input_ids(tokenizer, note)) for note in notes)
    few = notes[:batch_size]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16, _ = timed(model.encode_notes, tokenizer, few, batch_size=batch_size)
    return [
        f"| encode fp32 ({count} notes, {tokens / count:.0f} tokens each, batch {batch_size}) | "
        f"{count / ours:.2f} notes/s | {count / peer:.2f} notes/s | {peer / ours:.2f}x |",
        f"| encode bf16 autocast ({len(few)} notes) | {len(few) / bf16:.2f} notes/s | - | "
        f"{(count / ours) / (len(few) / bf16):.1f}x slower than fp32 |",
    ]


def bench_train(data: Path, pairs: int, steps: int) -> list[str]:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from notellm_hf import NoteLLMCollator, NoteLLMTrainer, NoteLLMTrainingArguments
    from notellm_hf.data.notes import notes_by_id

    folder, model, tokenizer, _, _, benchmark = notellm_and_texts(data, 1)
    chosen = benchmark.train_pairs.head(pairs * steps)
    notes = notes_by_id(benchmark.notes)
    prompt = model.note_prompt
    common = dict(
        output_dir="/tmp/notellm_throughput",
        per_device_train_batch_size=pairs,
        max_steps=steps,
        learning_rate=1e-5,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        logging_steps=10_000,
    )
    ours = StepTimer()
    dataset = Dataset.from_dict({"anchor": chosen.note_id_a.tolist(), "positive": chosen.note_id_b.tolist()})
    collator = NoteLLMCollator(tokenizer, prompt=prompt, seed=0, notes=notes)
    trainer = NoteLLMTrainer(
        model=model,
        args=NoteLLMTrainingArguments(**common),
        train_dataset=dataset,
        processing_class=tokenizer,
        data_collator=collator,
        callbacks=[ours],
    )
    tokens = []
    original = collator.__call__

    def counting(features):
        batch = original(features)
        tokens.append(int(batch["attention_mask"].sum()))
        return batch

    trainer.data_collator = counting
    trainer.train()

    def text(note_id: str) -> str:
        return prompt.render(tokenizer, notes[note_id])[0].split(prompt.emb_token)[0]

    texts = Dataset.from_dict(
        {"anchor": [text(a) for a in chosen.note_id_a], "positive": [text(b) for b in chosen.note_id_b]}
    )
    st = sentence_transformer(folder)
    peer = StepTimer()
    SentenceTransformerTrainer(
        model=st,
        args=SentenceTransformerTrainingArguments(**common),
        train_dataset=texts,
        loss=MultipleNegativesRankingLoss(st),
        callbacks=[peer],
    ).train()
    ours_s, peer_s = ours.mean(), peer.mean()
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n)
    flops = 6 * non_embedding * (sum(tokens[1:]) / len(tokens[1:]))
    peak = matmul_peak_gflops()
    return [
        f"| train, full fine-tuning fp32 ({2 * pairs} notes/step) | {2 * pairs / ours_s:.2f} notes/s "
        f"({ours_s:.1f} s/step) | {2 * pairs / peer_s:.2f} notes/s ({peer_s:.1f} s/step) | {peer_s / ours_s:.2f}x |",
        f"| MFU of the NoteLLM step | {flops / ours_s / 1e9:.1f} GFLOP/s of {peak:.0f} GFLOP/s measured fp32 "
        f"matmul peak = {100 * flops / ours_s / 1e9 / peak:.0f}% | | |",
    ]


def clustered_unit_vectors(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    vectors = centers[rng.integers(0, clusters, n)] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_retrieval(n: int, queries: int, factory: str, vectors: Path | None = None, k: int = 100) -> list[str]:
    import faiss

    from notellm_hf import NoteIndex

    if vectors is None:
        data = clustered_unit_vectors(n + queries, 128, 4096, seed=0)
    else:  # real embeddings: the last `queries` rows (in a seeded shuffle) query the others
        data = np.load(vectors).astype(np.float32)
        data = data[np.random.default_rng(0).permutation(len(data))]
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        n = len(data) - queries
    pool, query = data[:n], data[n:]
    dim = pool.shape[1]
    knob, settings = ("efSearch", (64, 128, 256)) if factory.startswith("HNSW") else ("nprobe", (8, 16, 32))

    def brute_force() -> np.ndarray:
        rows = []
        for start in range(0, queries, 100):
            scores = query[start : start + 100] @ pool.T
            top = np.argpartition(-scores, k, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
            rows.append(np.take_along_axis(top, order, axis=1))
        return np.concatenate(rows)

    exact_s, exact = timed(brute_force)
    ids = [str(i) for i in range(n)]
    lines = [f"| NumPy brute force ({n:,} x {dim}, {queries} queries) | {queries / exact_s:.0f} q/s | 1.000 | 1.0x |"]
    build_s, index = timed(NoteIndex, pool, ids, factory=factory)
    for setting in settings:
        faiss.ParameterSpace().set_index_parameter(index.index, knob, setting)
        search_s, (_, found) = timed(index.search, query, k)
        recall = np.mean([len(set(map(int, f)) & set(e.tolist())) / k for f, e in zip(found, exact, strict=True)])
        lines.append(
            f"| NoteIndex {factory} {knob}={setting} (built in {build_s:.0f} s) | {queries / search_s:.0f} q/s | "
            f"{recall:.3f} | {exact_s / search_s:.1f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="encode,train,retrieval")
    parser.add_argument("--data", default="~/.cache/notellm_hf/datasets/debian")
    parser.add_argument("--encode-notes", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-pairs", type=int, default=16)
    parser.add_argument("--train-steps", type=int, default=4)
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--factory", default="IVF1024,Flat", help="NoteIndex factory (IVF: nprobe, HNSW: efSearch)")
    parser.add_argument("--vectors", type=Path, help="real embeddings (.npy) instead of --pool synthetic vectors")
    args = parser.parse_args()
    data = Path(args.data).expanduser()
    header = ["| benchmark | notellm-hf | peer | ratio (peer time / ours) |", "|---|---|---|---|"]
    rows: list[str] = []
    for part in args.only.split(","):
        if part == "encode":
            rows += ["", *header, *bench_encode(data, args.encode_notes, args.batch_size)]
        elif part == "train":
            rows += ["", *header, *bench_train(data, args.train_pairs, args.train_steps)]
        elif part == "retrieval":
            rows += ["", "| retrieval | queries/s | recall@100 | speed-up vs NumPy |", "|---|---|---|---|"]
            rows += bench_retrieval(args.pool, args.queries, args.factory, args.vectors)
        else:
            raise SystemExit(f"unknown part {part!r}")
        print("\n".join(rows), flush=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)


if __name__ == "__main__":
    main()
