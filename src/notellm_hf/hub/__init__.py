"""Hub export (the NoteLLM folder with remote code, or stock sentence-transformers modules), the client-side
note renderer of a stock export, the model card, and publishing."""

from .export import export_model
from .model_card import model_card
from .note_text import NoteTextRenderer, render_note_table
from .onnx_export import OnnxNoteEncoder, add_onnx_files
from .push import push_to_hub
from .stock_export import export_sentence_transformers

EXPORT_FORMATS = {"notellm": export_model, "sentence-transformers": export_sentence_transformers}

__all__ = [
    "EXPORT_FORMATS",
    "NoteTextRenderer",
    "OnnxNoteEncoder",
    "add_onnx_files",
    "export_model",
    "export_sentence_transformers",
    "model_card",
    "push_to_hub",
    "render_note_table",
]
