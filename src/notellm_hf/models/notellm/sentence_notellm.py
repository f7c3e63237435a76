"""Sentence-Transformers input module for NoteLLM: ``SentenceTransformer(folder, trust_remote_code=True)``.

Copied into exported folders next to ``modeling_notellm.py`` (listed in ``modules.json``). It renders each
input through the same category compression prompt as training and ``encode_notes`` (only the note text
is ever cut, never the ``"[EMB]"`` suffix) and returns the NoteLLM embedding as ``sentence_embedding``.
Inputs: note dicts (``title``, ``content``, ``hashtags``, ``category``) or plain strings (read as content);
a ``prompt`` / ``prompt_name`` is prepended to the note's content.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from sentence_transformers.base.modules import InputModule
from transformers import AutoModel, AutoTokenizer


class NoteLLMSentenceEmbedding(InputModule):
    config_file_name = "sentence_notellm_config.json"  # config.json belongs to the NoteLLM model itself
    config_keys: list[str] = []
    save_in_root = True

    def __init__(self, model: Any, tokenizer: Any) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer

    @property
    def modalities(self) -> list[str]:
        return ["text"]

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        notes = []
        for position, item in enumerate(inputs):
            note = {"content": item} if isinstance(item, str) else dict(item)
            note.setdefault("note_id", f"#{position}")
            if prompt:
                note["content"] = prompt + (note.get("content") or "")
            notes.append(note)
        return self.model.tokenize_notes(self.tokenizer, notes)

    def forward(self, features: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, torch.Tensor]:
        output = self.model(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
        features["sentence_embedding"] = output.embeddings
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.model.config.embedding_size

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> NoteLLMSentenceEmbedding:
        hub = {"token": token, "cache_dir": cache_folder, "revision": revision, "local_files_only": local_files_only}
        # Serving embeddings: the LM head is not loaded (pass model_kwargs={"embedding_only": False} to keep it).
        model_kwargs = {"embedding_only": True, **(model_kwargs or {})}
        model = AutoModel.from_pretrained(
            model_name_or_path, subfolder=subfolder, trust_remote_code=True, **hub, **model_kwargs
        )
        tokenizer = AutoTokenizer.from_pretrained(
            model_name_or_path, subfolder=subfolder, trust_remote_code=True, **hub
        )
        return cls(model.eval(), tokenizer)

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.model.save_pretrained(output_path, safe_serialization=safe_serialization)
        self.save_tokenizer(output_path)
        self.save_config(output_path)
