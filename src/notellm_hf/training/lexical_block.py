"""Fitting the lexical block of a NoteLLM built with ``lexical_block_weight > 0`` (see ``NoteLLMConfig``).

Why: NoteLLM reads a note out of one hidden state, and on Debian its misses are the pairs whose partners share rare
words (package names) that TF-IDF matches exactly (benchmarks/RESULTS.md, rounds 19 and 33). The lexical block
appends to the embedding the note's token embeddings averaged with IDF weights, so the rare words weigh in the
one dense vector. Its IDF and the per-dimension standardisation of those means are fitted here on training notes
only (the test pool stays unseen), before training, and saved with the model as buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..models.notellm.processing_notellm import padded_batch
from .lora import unwrap_peft


def template_token_ids(prompt: Any, tokenizer: Any) -> list[int]:
    """Token ids of the prompt's own wording in both variants (the instruction, ``{j}`` for each asked number of
    hashtags, the guidance after ``[EMB]``): words every note's prompt holds say nothing about the note."""
    template = prompt.template
    texts = [template.category_template.format(note="", emb=prompt.emb_token)]
    texts += [
        template.hashtag_template.format(note="", emb=prompt.emb_token, j=j) for j in range(1, prompt.max_hashtags + 1)
    ]
    return sorted({token for text in texts for token in tokenizer(text, add_special_tokens=False)["input_ids"]})


def token_idf(model: Any, tokenizer: Any, notes: Sequence[Any]) -> torch.Tensor:
    """(vocabulary,) ``log(n / document frequency)`` of each token over the notes' embedding prompts: 0 for a token
    no note holds, for a token in every note and for the prompt's own words (``template_token_ids``), highest for a
    token one note holds (the rare names TF-IDF matches)."""
    notellm = unwrap_peft(model)
    return sequences_idf(notellm, tokenizer, notellm._embedding_sequences(tokenizer, notes))


def sequences_idf(notellm: Any, tokenizer: Any, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """[`token_idf`] of notes already tokenized (their embedding prompts, or any other token sequences of them): the
    fit tokenizes once for the IDF and the means, and the readout probe counts whole note texts."""
    frequency = torch.zeros(notellm.get_input_embeddings().weight.shape[0], dtype=torch.float64)
    for sequence in sequences:
        frequency[torch.tensor(sorted(set(sequence)))] += 1
    idf = torch.log(len(sequences) / frequency.clamp(min=1))
    idf[frequency == 0] = 0.0
    idf[template_token_ids(notellm.note_prompt, tokenizer)] = 0.0
    return idf.float()


@torch.no_grad()
def fit_lexical_block(model: Any, tokenizer: Any, notes: Sequence[Any], batch_size: int = 256) -> None:
    """Sets the model's ``token_idf`` to [`token_idf`] of ``notes`` and its ``lexical_center`` / ``lexical_scale`` to
    the mean and standard deviation of their IDF-weighted token-embedding means (``lexical_means``)."""
    notellm = unwrap_peft(model)
    if notellm.config.lexical_block_weight <= 0:
        raise ValueError("this model has no lexical block (lexical_block_weight is 0)")
    if len(notes) < 2:
        raise ValueError(f"the lexical block needs at least 2 training notes to fit, got {len(notes)}")
    sequences = notellm._embedding_sequences(tokenizer, notes)  # tokenized once for the IDF and the means
    notellm.token_idf.copy_(sequences_idf(notellm, tokenizer, sequences))
    means = []
    for start in range(0, len(sequences), batch_size):
        batch = padded_batch(sequences[start : start + batch_size], tokenizer.pad_token_id)
        batch = {key: value.to(notellm.device) for key, value in batch.items()}
        means.append(notellm.lexical_means(batch["input_ids"], batch["attention_mask"]).double())
    means = torch.cat(means)
    notellm.lexical_center.copy_(means.mean(dim=0))
    # A dimension with no spread would divide by 0; its standardised value is 0 for every note anyway.
    notellm.lexical_scale.copy_(means.std(dim=0).clamp(min=1e-6))
