"""Stock-module export: a folder made only of sentence-transformers' own modules, served without remote code.

``Transformer`` (the backbone as a plain transformers model, LoRA merged, ``[EMB]`` kept in the tokenizer) ->
``Pooling("lasttoken")`` (``Pooling("mean")`` for ``readout="mean"``) -> ``Dense`` (the embedding head: no bias,
identity activation) -> ``Normalize``. Clients send notes rendered by [`NoteTextRenderer`] (``notellm render``):
the text ends at the read-out token (before ``[EMB]`` for the mean read-out), so the pooling reads out what
``encode_notes`` reads out. Any engine that loads a sentence-transformers
folder or a plain decoder with that pooling (last-token, or mean for the mean read-out; vLLM's pooling runner, TEI
for the architectures it supports; ONNX Runtime through [`OnnxNoteEncoder`] on the files ``add_onnx_files`` writes)
can then serve it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.io import atomic_path
from ..data.notes import read_notes
from ..models.notellm.modeling_notellm import NoteLike
from ..models.notellm.processing_notellm import Note
from .export import export_inputs, load_for_export
from .model_card import model_card, stock_pooling_mode
from .note_text import RENDERING_FILE, NoteTextRenderer
from .onnx_export import add_onnx_files

# Notes whose ids the export checks: the engine's tokenization of the rendered text must end at the read-out.
_PROBE_NOTES = (
    Note(note_id="probe-short", title="Quick pasta", content="Boil pasta, add tomato.", hashtags=("food",)),
    Note(note_id="probe-long", title="A long note " * 20, content="Many words in the content. " * 80),
)


def stock_sentence_transformer(model: Any, tokenizer: Any, staging: Path) -> Any:
    """The in-memory SentenceTransformer of stock modules equivalent to ``model``'s embedding path.

    ``staging`` receives the plain backbone (the Transformer module loads from a folder). The tokenizer's chat
    template is dropped there: an engine must never wrap a rendered note in chat turns.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer

    if model.config.lexical_block_weight > 0:
        raise ValueError(
            f"this model has a lexical block (lexical_block_weight {model.config.lexical_block_weight:g}), which "
            "stock modules cannot compute (Pooling has no IDF-weighted mean of token embeddings): export it with "
            "--format notellm, whose SentenceTransformer runs NoteLLM's own remote code"
        )
    decoder = model.language_model.get_decoder()
    decoder.save_pretrained(staging, safe_serialization=True)
    tokenizer = _copy_tokenizer(tokenizer)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(staging)
    hidden, dim = model.config.text_config.hidden_size, model.config.embedding_dim
    transformer = Transformer(
        str(staging),
        modality_config={"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
        module_output_name="token_embeddings",
        # The renderer bounds every field, so the engine must never cut the text (that would drop the read-out).
        max_seq_length=model.config.text_config.max_position_embeddings,
    )
    # A centred model subtracts its running mean head output before normalising: the Dense layer's bias.
    centred = model.config.center_embeddings
    head = Dense(hidden, dim, bias=centred, activation_function=nn.Identity())
    with torch.no_grad():
        head.linear.weight.copy_(model.embedding_head.weight.float())
        if centred:
            head.linear.bias.copy_(-model.embedding_center.float())
    modules = [transformer, Pooling(hidden, pooling_mode=stock_pooling_mode(model.config.readout)), head]
    if model.config.normalize_embeddings:
        modules.append(Normalize())
    return SentenceTransformer(modules=modules, device="cpu", similarity_fn_name="cosine")


def _copy_tokenizer(tokenizer: Any) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        return type(tokenizer).from_pretrained(folder)


def check_readout_tokens(st_model: Any, model: Any, tokenizer: Any, renderer: NoteTextRenderer) -> None:
    """Refuses an export whose engine-side tokens would not end at the read-out token (e.g. a tokenizer that
    appends EOS): last-token pooling would then embed the wrong state, silently."""
    for note in _PROBE_NOTES:
        expected = model.note_prompt.embedding_input_ids(tokenizer, note)
        if renderer.readout != "emb":
            expected = expected[:-1]
        features = st_model.preprocess([renderer.render_note_text(note)])
        got = features["input_ids"][0][features["attention_mask"][0].bool()].tolist()
        if got != expected:
            raise ValueError(
                f"stock export refused: the tokenizer turns the rendered note {note.note_id!r} into ids that do not "
                f"end at the read-out token (last ids {got[-3:]}, expected {expected[-3:]}); serve this model with "
                "the NoteLLM export (`notellm export`, remote code) instead"
            )


def export_sentence_transformers(
    source: str | Path,
    out_dir: str | Path,
    *,
    base_model: str | None = None,
    model_id: str | None = None,
    training_config: dict[str, Any] | str | Path | None = None,
    evaluation: dict[str, Any] | str | Path | None = None,
    datasets: list[str] | None = None,
    onnx: bool = False,
    calibration_notes: Sequence[NoteLike] | str | Path | None = None,
) -> Path:
    """Writes the stock-module folder of a trained NoteLLM folder or LoRA adapter (merged), plus
    ``notellm_rendering.json`` (what `NoteTextRenderer.from_pretrained` reads) and a model card; with ``onnx``
    also the Transformer module as ``onnx/model.onnx`` and its int8 copy (`add_onnx_files`), calibrated on
    ``calibration_notes``: notes, or a note table file (`read_notes`), required then.

    Written to a temporary folder and renamed, so a refused or failed export writes nothing.
    """
    if isinstance(calibration_notes, str | Path):
        calibration_notes = read_notes(calibration_notes)  # validated before the model loads
    if onnx and not calibration_notes:
        raise ValueError("the int8 ONNX file needs calibration notes (a few dozen of the notes it will embed)")
    source, card_facts = export_inputs(source, model_id, training_config, evaluation, datasets)
    model, tokenizer, base = load_for_export(source, base_model)
    model.eval()
    renderer = NoteTextRenderer.from_model(model, tokenizer)
    with atomic_path(out_dir) as partial, tempfile.TemporaryDirectory() as staging:
        st_model = stock_sentence_transformer(model, tokenizer, Path(staging))
        check_readout_tokens(st_model, model, tokenizer, renderer)
        st_model.save(str(partial))
        (partial / RENDERING_FILE).write_text(json.dumps(renderer.settings(), indent=2) + "\n")
        card = model_card(model.config, base_model=base_model or base, stock_modules=True, **card_facts)
        card.save(partial / "README.md")
        if onnx:
            add_onnx_files(partial, calibration_notes)
    return Path(out_dir)
