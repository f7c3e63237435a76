"""Shared fixtures: a byte-level BPE tokenizer trained here and tiny random-init Llama / Qwen2 backbones."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from notellm_hf import NoteLLMForEmbeddingAndGeneration, NoteLLMTrainer, NoteLLMTrainingArguments, iter_shards
from notellm_hf.data.benchmark_set import write_benchmark_set

CORPUS = [
    "Extract the note information in json format, compress it into one word for recommendation,",
    'and generate the category of the note. The compression word is:"". The category is: topics are',
    "title content topic Travel Food Music Sports Science Cooking recipe pasta hiking mountain guitar",
    "笔记 标题 话题 内容 压缩为一个词 生成笔记类目 旅行 美食 音乐 🍜🎸 emoji, test, notes {} : \" ' 0123456789",
]

TOY_NOTES = [
    {
        "note_id": "pasta",
        "title": "Quick pasta recipe",
        "content": "Boil pasta, add tomato.",
        "hashtags": ["food", "recipe", "pasta"],
        "category": "Food",
    },
    {
        "note_id": "pizza",
        "title": "Home pizza",
        "content": "Dough, tomato and cheese.",
        "hashtags": ["food", "pizza"],
        "category": "Food",
    },
    {
        "note_id": "hike",
        "title": "Mountain hike",
        "content": "A long trail to the top.",
        "hashtags": ["travel", "hiking"],
        "category": "Travel",
    },
    {
        "note_id": "beach",
        "title": "Beach trip",
        "content": "Sun, sand and sea.",
        "hashtags": ["travel", "beach"],
        "category": "Travel",
    },
    {
        "note_id": "guitar",
        "title": "Guitar chords",
        "content": "Learn three chords.",
        "hashtags": ["music", "guitar"],
        "category": "Music",
    },
    {
        "note_id": "piano",
        "title": "Piano scales",
        "content": "Practice scales daily.",
        "hashtags": ["music", "piano"],
        "category": "Music",
    },
    {
        "note_id": "run",
        "title": "Morning run",
        "content": "Five km before work.",
        "hashtags": ["sports", "running"],
        "category": "Sports",
    },
    {
        "note_id": "swim",
        "title": "Swimming drills",
        "content": "Improve your stroke.",
        "hashtags": ["sports", "swimming"],
        "category": "Sports",
    },
]
TOY_PAIRS = [("pasta", "pizza"), ("hike", "beach"), ("guitar", "piano"), ("run", "swim")]
REPO_ROOT = Path(__file__).resolve().parents[1]
MOVIELENS_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "movielens_tmdb"  # see tests/fixtures/README.md
TOY_NOTES_BY_ID = {n["note_id"]: n for n in TOY_NOTES}


def build_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")


def tiny_backbone(arch: str, vocab_size: int, num_layers: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    common = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=1,
    )
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=True))
    return Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=False))


def make_model(
    arch: str = "llama", num_layers: int = 2, **config
) -> tuple[NoteLLMForEmbeddingAndGeneration, PreTrainedTokenizerFast]:
    tokenizer = build_tokenizer()
    config.setdefault("embedding_dim", 16)
    model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(
        tiny_backbone(arch, len(tokenizer), num_layers), tokenizer=tokenizer, **config
    )
    return model, tokenizer


def saved_model(folder, arch: str = "llama") -> tuple:
    """A tiny NoteLLM and its tokenizer saved to ``folder``: (folder, model, tokenizer)."""
    model, tokenizer = make_model(arch)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


@pytest.fixture(params=["llama", "qwen2"])
def tiny(request) -> tuple[NoteLLMForEmbeddingAndGeneration, PreTrainedTokenizerFast]:
    return make_model(request.param)


@pytest.fixture
def tokenizer() -> PreTrainedTokenizerFast:
    return build_tokenizer()


def read_shards(directory):
    """(embeddings, note ids) of every shard in a folder, concatenated."""
    shards = list(iter_shards(directory))
    return np.concatenate([np.asarray(e) for e, _ in shards]), [i for _, ids in shards for i in ids]


def pair_dataset(repeat: int = 8) -> Dataset:
    """The toy pairs as note dicts, ``repeat`` times."""
    return Dataset.from_list(
        [{"anchor": TOY_NOTES_BY_ID[a], "positive": TOY_NOTES_BY_ID[b]} for a, b in TOY_PAIRS] * repeat
    )


def tiny_training_args(tmp_path, **overrides) -> NoteLLMTrainingArguments:
    """Fast CPU settings for the tiny models: constant lr, no saving, no reporting."""
    settings = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        learning_rate=3e-3,
        max_steps=30,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        warmup_steps=0,
        lr_scheduler_type="constant",
    )
    settings.update(overrides)
    return NoteLLMTrainingArguments(**settings)


def reference_pairs(clicks, upper=30.0, lower=0.01, top_t=10, ordered=True, max_history=None):
    """Loop-by-loop version of the paper's rule, with exact fractions."""
    by_user = defaultdict(list)
    for user, note, time in clicks:
        by_user[user].append((time, note))
    scores = defaultdict(Fraction)
    for events in by_user.values():
        if max_history is not None:
            events = sorted(events, key=lambda e: (e[0], e[1]), reverse=True)[:max_history]
        first, last = {}, {}
        for time, note in events:
            first[note] = min(first.get(note, time), time)
            last[note] = max(last.get(note, time), time)
        notes = sorted(first)
        if len(notes) < 2:
            continue
        weight = Fraction(1, len(notes))
        for a in notes:
            for b in notes:
                if a != b and (not ordered or first[a] < last[b]):
                    scores[(a, b)] += weight
    kept = defaultdict(list)
    for (a, b), score in scores.items():
        score = round(float(score), 12)
        if lower <= score <= upper:
            kept[a].append((-score, b))
    rows = []
    for a in sorted(kept):
        for negative, b in sorted(kept[a])[:top_t]:
            rows.append((a, b, -negative))
    return rows


def free_port() -> int:
    """An unused TCP port on the loopback address, for a local process group."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def brute_force_avg(scores: np.ndarray, pool_ids: list[str], pairs) -> float:
    """The paper's Avg recall, loop by loop: for each pair, the target's pessimistic rank among all pool notes but
    the query (ties count as ahead), then recall at the paper's k scaled to the pool (k * candidates / 257,936),
    averaged over k in (100, 1k, 10k, 100k)."""
    row = {note_id: i for i, note_id in enumerate(pool_ids)}
    candidates = len(pool_ids) - 1
    ks = [max(1, round(k * candidates / 257_936)) for k in (100, 1_000, 10_000, 100_000)]
    ranks = []
    for a, b in zip(pairs.note_id_a, pairs.note_id_b, strict=True):
        q, t = row[a], row[b]
        ranks.append(sum(1 for j in range(len(pool_ids)) if j != q and scores[q, j] >= scores[q, t]))
    return float(np.mean([100.0 * np.mean([r <= k for r in ranks]) for k in ks]))


def hand_lent_tags(hits, tags_of, num=3) -> list[str]:
    """Tags lent by ``(note_id, score)`` hits (nearest first), counted by hand: each hit with a positive score votes it
    once for each of its tags; the ``num`` most voted, ties in order of first vote."""
    votes = defaultdict(float)
    for note_id, score in hits:
        for tag in dict.fromkeys(tags_of.get(note_id, ())) if score > 0 else ():
            votes[tag] += score
    return sorted(votes, key=votes.get, reverse=True)[:num]


def brute_force_neighbour_tags(embeddings, note_ids, tags_of, query, k, num=3) -> list[str]:
    """A query note's lent tags counted by hand: cosine to every other note, the k best, each voting its cosine."""
    unit = {i: e / np.linalg.norm(e) for i, e in zip(note_ids, np.asarray(embeddings, dtype=np.float64), strict=True)}
    cosine = {i: float(unit[i] @ unit[query]) for i in note_ids if i != query}
    return hand_lent_tags(sorted(cosine.items(), key=lambda hit: -hit[1])[:k], tags_of, num)


def hand_tfidf(texts: list[str], vocabulary_texts: list[str] | None = None) -> np.ndarray:
    """TF-IDF by the textbook: words of 2+ word characters, lower-cased; tf 1 + ln(count); idf ln((1 + n) /
    (1 + df)) + 1 over the fitted texts; each vector scaled to unit length."""
    fitted = [Counter(re.findall(r"\b\w\w+\b", t.lower())) for t in (vocabulary_texts or texts)]
    words = sorted(set().union(*fitted))
    idf = {w: math.log((1 + len(fitted)) / (1 + sum(w in c for c in fitted))) + 1 for w in words}
    rows = []
    for text in texts:
        counts = Counter(re.findall(r"\b\w\w+\b", text.lower()))
        row = np.array([(1 + math.log(counts[w])) * idf[w] if counts[w] else 0.0 for w in words])
        norm = np.linalg.norm(row)
        rows.append(row / norm if norm else row)
    return np.array(rows)


def toy_benchmark_set(folder: Path) -> Path:
    """The toy notes as a benchmark set: the first two pairs train, the last two form the test pool."""
    test_ids = {note_id for pair in TOY_PAIRS[2:] for note_id in pair}
    split = pd.Series({n["note_id"]: "test" if n["note_id"] in test_ids else "train" for n in TOY_NOTES})
    pairs = [pd.DataFrame(chunk, columns=["note_id_a", "note_id_b"]) for chunk in (TOY_PAIRS[:2], TOY_PAIRS[2:])]
    write_benchmark_set(folder, pd.DataFrame(TOY_NOTES), split, *pairs, {"name": "toy"})
    return folder


def tiny_trainer(
    tmp_path: Path, arch: str = "llama", train_dataset: Dataset | None = None, **overrides
) -> NoteLLMTrainer:
    """A NoteLLMTrainer for a tiny model over ``train_dataset`` (default: the toy pairs, 8 copies) with
    [`tiny_training_args`]."""
    model, tokenizer = make_model(arch)
    args = tiny_training_args(tmp_path, **overrides)
    dataset = pair_dataset() if train_dataset is None else train_dataset
    return NoteLLMTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)


def user_notes(count=40, unclicked=2):
    """Notes n00.. (the last ``unclicked`` never clicked, the first without hashtags or category) and a click log
    where note i appears at time 10 i and is clicked only after that."""
    notes = pd.DataFrame(
        {
            "note_id": [f"n{i:02d}" for i in range(count)],
            "title": [f"note {i}" for i in range(count)],
            "content": [f"about topic {i % 5}" for i in range(count)],
            "hashtags": [[] if i == 0 else [f"topic{i % 5}"] for i in range(count)],
            "category": ["" if i == 0 else f"c{i % 3}" for i in range(count)],
        }
    )
    rng = np.random.default_rng(0)
    clicks = []
    for user in range(300):
        for note in rng.choice(count - unclicked, size=rng.integers(2, 6), replace=False):
            clicks.append((f"u{user}", f"n{note:02d}", int(10 * note + rng.integers(0, 400))))
    return notes, pd.DataFrame(clicks, columns=["user_id", "note_id", "timestamp"])


def run_script_offline(script: str, folder: Path, payload: object) -> dict:
    """Runs ``script`` (argv: folder, JSON payload) in a fresh offline interpreter; its last stdout line is JSON."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder), json.dumps(payload)],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HF_HOME": str(folder.parent / "hf")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A tiny Llama backbone folder and the toy notes, pairs, dev pairs and clicks as files: what a recipe reads."""
    root = tmp_path_factory.mktemp("toy")
    tokenizer = build_tokenizer()
    tiny_backbone("llama", len(tokenizer)).save_pretrained(root / "backbone")
    tokenizer.save_pretrained(root / "backbone")
    (root / "notes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in TOY_NOTES))
    pd.DataFrame(TOY_PAIRS * 4, columns=["note_id_a", "note_id_b"]).to_csv(root / "pairs.csv", index=False)
    pd.DataFrame(TOY_PAIRS, columns=["note_id_a", "note_id_b"]).to_csv(root / "dev.csv", index=False)
    clicks = [(u, a, 1) for u, (a, _) in enumerate(TOY_PAIRS)] + [(u, b, 2) for u, (_, b) in enumerate(TOY_PAIRS)]
    pd.DataFrame(clicks, columns=["user_id", "note_id", "timestamp"]).to_csv(root / "clicks.csv", index=False)
    return root


def tiny_overrides(toy, out, source="pairs"):
    """Recipe arguments that train a tiny model on the `toy` files for 2 steps into ``out``, evaluating at step 2."""
    other = "clicks" if source == "pairs" else "pairs"
    data = ["--notes", str(toy / "notes.jsonl"), f"--{source}", str(toy / f"{source}.csv"), f"--{other}", ""]
    data += ["--eval_pairs", str(toy / "dev.csv")]
    return [
        "--model_name_or_path",
        str(toy / "backbone"),
        "--dtype",
        "float32",
        "--benchmark",
        "",
        *data,
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "4",
        "--per_device_eval_batch_size",
        "4",
        "--embedding_dim",
        "16",
        "--use_cpu",
        "true",
        "--report_to",
        "none",
        "--save_strategy",
        "no",
        "--eval_strategy",
        "steps",
        "--eval_steps",
        "2",
        "--logging_steps",
        "1",
    ]
