"""Shared fixtures: a byte-level BPE tokenizer trained here and tiny random-init Llama / Qwen2 backbones."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from notellm_hf import NoteLLMForEmbeddingAndGeneration

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
