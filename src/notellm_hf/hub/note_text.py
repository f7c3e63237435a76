"""Notes rendered into the text a stock-module export embeds: the client side of serving without remote code.

A serving engine (sentence-transformers without ``trust_remote_code``, TEI, vLLM's pooling runner, ONNX Runtime)
only tokenizes text and pools its last token. NoteLLM's embedding is the state at the read-out token of the Note
Compression Prompt, so the client renders each note into that prompt, cut right after the read-out token, with
the same per-field token budgets as training; the engine's last-token pooling then reads out exactly what
``encode_notes`` reads out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer
from transformers.utils import cached_file

from ..data.io import atomic_path
from ..data.notes import read_notes
from ..models.notellm.configuration_notellm import READOUT_POSITIONS, NoteLLMConfig
from ..models.notellm.processing_notellm import Note, NoteCompressionPrompt

# Written into every stock-module export: the prompt settings and read-out a client needs to render notes.
RENDERING_FILE = "notellm_rendering.json"


class NoteTextRenderer:
    """Renders notes (dicts, [`Note`] records or strings read as content) into embedding text.

    ``readout="before_emb"`` (the paper's read-out) and ``readout="mean"`` end the text before ``[EMB]``;
    ``readout="emb"`` keeps ``[EMB]`` as the last token, since its state is the embedding then.
    """

    def __init__(self, tokenizer: Any, prompt: NoteCompressionPrompt, readout: str) -> None:
        if readout not in READOUT_POSITIONS:
            raise ValueError(f"readout must be one of {READOUT_POSITIONS}, got {readout!r}")
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.readout = readout

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any) -> NoteTextRenderer:
        """The renderer of a loaded NoteLLM (its prompt settings and read-out)."""
        return cls(tokenizer, model.note_prompt, model.config.readout)

    @classmethod
    def from_pretrained(cls, model_name_or_path: str | Path, **hub_kwargs: Any) -> NoteTextRenderer:
        """From a stock-module export (its ``notellm_rendering.json``) or a NoteLLM model folder / Hub id."""
        name = str(model_name_or_path)
        try:
            settings = cached_file(name, RENDERING_FILE, _raise_exceptions_for_missing_entries=False, **hub_kwargs)
            if settings is not None:
                data = json.loads(Path(settings).read_text(encoding="utf-8"))
                prompt, readout = NoteCompressionPrompt.from_dict(data["prompt"]), data["readout"]
            else:
                config_dict = NoteLLMConfig.get_config_dict(name, **hub_kwargs)[0]
                if config_dict.get("model_type") != NoteLLMConfig.model_type:
                    raise ValueError(f"config.json has model_type {config_dict.get('model_type')!r}, not 'notellm'")
                config = NoteLLMConfig.from_dict(config_dict)
                prompt = NoteCompressionPrompt.from_dict({**(config.prompt or {}), "emb_token": config.emb_token})
                readout = config.readout
            tokenizer = AutoTokenizer.from_pretrained(name, **hub_kwargs)
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(
                f"{name} is neither a stock-module NoteLLM export ({RENDERING_FILE}) nor a NoteLLM model: {error}"
            ) from error
        return cls(tokenizer, prompt, readout)

    def settings(self) -> dict[str, Any]:
        """What ``notellm_rendering.json`` holds."""
        return {"prompt": self.prompt.to_dict(), "readout": self.readout}

    def render_note_text(self, note: Note | dict[str, Any] | str, note_id: str | None = None) -> str:
        """One note's embedding text (the category prompt up to and including the read-out token)."""
        note = Note.from_any(note, note_id=note_id)
        return self.prompt.embedding_text(self.tokenizer, note, keep_emb=self.readout == "emb")

    def __call__(self, notes: Iterable[Note | dict[str, Any] | str]) -> list[str]:
        return [self.render_note_text(note, note_id=f"#{i}") for i, note in enumerate(notes)]


def render_note_table(model: str | Path, notes: Any, out: str | Path) -> Path:
    """Writes ``{"note_id", "text"}`` per line (JSON Lines) for a note table: the texts a stock-module export
    of ``model`` (or ``model`` itself, a NoteLLM folder) embeds. Validated first; written whole or not at all."""
    renderer = NoteTextRenderer.from_pretrained(model)
    table = read_notes(notes)
    with atomic_path(out) as partial, open(partial, "w", encoding="utf-8") as handle:
        for note in table:
            record = {"note_id": note.note_id, "text": renderer.render_note_text(note)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return Path(out)
