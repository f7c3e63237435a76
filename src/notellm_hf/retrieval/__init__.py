"""Retrieval: embedding note tables into resumable shards, and the faiss index that serves recommendations."""

from .encoding import EncodingRun, encode_note_table, encode_to_shards, iter_shards
from .index import NoteIndex

__all__ = ["EncodingRun", "NoteIndex", "encode_note_table", "encode_to_shards", "iter_shards"]
