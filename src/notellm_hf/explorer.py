"""`notellm explore`: a local Gradio page to look at what a trained NoteLLM does on a set.

- pick a note of the set: its top-k related notes with scores (the set's known related notes marked), its true
  hashtags/category and the generated ones;
- paste a new note: its related notes from the index and its generated hashtags/category (cold start);
- optionally the same lists from a baseline encoder (all-MiniLM-L6-v2 zero-shot) side by side.

The page logic is [`Explorer`] (plain methods returning markdown, testable without a browser); [`Explorer.app`]
only lays it out.
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data.benchmark_set import BenchmarkSet, load_benchmark_set
from .models.notellm.processing_notellm import Note
from .retrieval.recommend import Recommender, Related, pool_index

BASELINE_ENCODERS = {"minilm": "all-MiniLM-L6-v2 zero-shot"}
MAX_CHOICES = 5_000  # notes listed in the picker; larger pools are searched by typing an id


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class Explorer:
    """Args:
    notellm: the NoteLLM [`Recommender`] over the pool.
    data: the set the pool comes from (titles, true hashtags/categories, known related pairs).
    baseline: an optional second [`Recommender`] over the same notes, shown beside NoteLLM's lists.
    """

    def __init__(
        self, notellm: Recommender, data: BenchmarkSet, baseline: Recommender | None = None, k: int = 10
    ) -> None:
        self.notellm, self.baseline, self.k = notellm, baseline, k
        self.known: dict[str, set[str]] = defaultdict(set)
        for pairs in (data.train_pairs, data.test_pairs):
            for a, b in zip(pairs.note_id_a, pairs.note_id_b, strict=True):
                self.known[a].add(b)

    @property
    def _recommenders(self) -> tuple[Recommender, Recommender | None]:
        """NoteLLM's recommender and the baseline's (None without one), in the page's column order."""
        return self.notellm, self.baseline

    def choices(self) -> list[tuple[str, str]]:
        """(label, note id) of the indexed notes, for the picker."""
        ids = self.notellm.index.note_ids[:MAX_CHOICES]
        catalog = self.notellm.catalog
        return [(f"{catalog[i].title} ({i})" if i in catalog else i, i) for i in ids]

    def _table(self, recommender: Recommender, hits: Sequence[Related], query_id: str | None) -> str:
        """A markdown table of ``hits``; for a note of the set, its known related notes are marked."""
        known = self.known.get(query_id, set()) if query_id is not None else None
        header = "| # | note | score |" + (" known related |" if known is not None else "")
        rows = [f"**{recommender.name}**", "", header, "|" + "---|" * (header.count("|") - 1)]
        for rank, hit in enumerate(hits, start=1):
            row = f"| {rank} | {_cell(hit.title or hit.note_id)} (`{hit.note_id}`) | {hit.score:.3f} |"
            rows.append(row + ((" yes |" if hit.note_id in known else " |") if known is not None else ""))
        return "\n".join(rows)

    def _describe(self, note: Note, true_fields: bool, related: Sequence[Related]) -> str:
        """The note's generated fields and the tags its ``related`` notes (NoteLLM's) lend."""
        generated = self.notellm.describe([note])[0]
        lines = [f"### {_cell(note.title) or note.note_id}"]
        if true_fields:
            lines.append(f"- true category: `{note.category or '-'}`; hashtags: {', '.join(note.hashtags) or '-'}")
        tags = ", ".join(generated["hashtags"]) or "-"
        lines.append(f"- generated category: `{generated['category'] or '-'}`; hashtags: {tags}")
        lent = ", ".join(self.notellm.lent_hashtags(related)) or "-"
        lines.append(f"- hashtags its {len(related)} related notes carry: {lent}")
        return "\n".join(lines)

    def show_note(self, note_id: str) -> tuple[str, str, str]:
        """(description, NoteLLM's related notes, the baseline's) for a note of the set."""
        if not note_id:
            return "Pick a note.", "", ""
        note = self.notellm.note(note_id)
        hits = [recommender.related(note_id, self.k) if recommender else [] for recommender in self._recommenders]
        tables = [self._table(r, h, note_id) if r else "" for r, h in zip(self._recommenders, hits, strict=True)]
        return self._describe(note, True, hits[0]), *tables

    def show_new(self, title: str, content: str, hashtags: str) -> tuple[str, str, str]:
        """(generated fields, NoteLLM's related notes, the baseline's) for a pasted note (cold start)."""
        tags = [tag.strip().lstrip("#") for tag in hashtags.split(",") if tag.strip()]
        try:
            note = Note("new note", title=title, content=content, hashtags=tags)
        except ValueError:
            return "Give the new note a title, content or hashtags.", "", ""
        hits = [
            recommender.related_to_new([note], self.k)[0] if recommender else [] for recommender in self._recommenders
        ]
        tables = [self._table(r, h, None) if r else "" for r, h in zip(self._recommenders, hits, strict=True)]
        return self._describe(note, False, hits[0]), *tables

    def app(self) -> Any:
        """The Gradio page (a ``gr.Blocks``); ``launch()`` it."""
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        import gradio as gr

        with gr.Blocks(title="NoteLLM explorer") as page:
            gr.Markdown(f"# NoteLLM explorer\n{len(self.notellm.index):,} indexed notes; top {self.k} related notes.")
            with gr.Tab("A note of the set"):
                choices = self.choices()
                picked = gr.Dropdown(
                    choices=choices,
                    value=choices[0][1],
                    label="note (type to search)",
                    filterable=True,
                    elem_id="pick-note",
                )
                description = gr.Markdown(elem_id="pick-description")
                with gr.Row():
                    related = gr.Markdown(elem_id="pick-related")
                    baseline = gr.Markdown(elem_id="pick-baseline", visible=bool(self.baseline))
                picked.change(self.show_note, picked, [description, related, baseline])
                page.load(self.show_note, picked, [description, related, baseline])
            with gr.Tab("A new note"):
                title = gr.Textbox(label="Title", elem_id="new-title")
                content = gr.Textbox(label="Content", lines=4, elem_id="new-content")
                hashtags = gr.Textbox(label="Hashtags (comma-separated, optional)", elem_id="new-hashtags")
                run = gr.Button("Find related notes", elem_id="new-run")
                new_description = gr.Markdown(elem_id="new-description")
                with gr.Row():
                    new_related = gr.Markdown(elem_id="new-related")
                    new_baseline = gr.Markdown(elem_id="new-baseline", visible=bool(self.baseline))
                run.click(self.show_new, [title, content, hashtags], [new_description, new_related, new_baseline])
        return page


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise ValueError(f"port {port} on {host} is in use: pass --port with a free one") from None


def build_explorer(
    model: str | Path,
    data: str | Path,
    index: str | Path | None = None,
    baseline: str | None = None,
    k: int = 10,
    precision: str = "auto",
) -> Explorer:
    """An [`Explorer`] for a NoteLLM on a prepared set. Without ``index`` the set's test pool is embedded now (a
    progress bar shows it); ``baseline="minilm"`` adds all-MiniLM-L6-v2 over the same notes. NoteLLM encodes in
    ``precision`` (`notellm_hf.precision.PRECISIONS`)."""
    if baseline is not None and baseline not in BASELINE_ENCODERS:
        raise ValueError(f"unknown baseline {baseline!r}: choose from {sorted(BASELINE_ENCODERS)}")
    benchmark = load_benchmark_set(data)
    catalog = [Note.from_any(row) for row in benchmark.notes]
    pool = [Note.from_any(row) for row in benchmark.split_notes("test")]
    notellm = Recommender.from_notellm(model, catalog, index, pool, precision=precision)
    other = None
    if baseline == "minilm":
        other = _minilm_recommender(catalog, [notellm.note(i) for i in notellm.index.note_ids])
    return Explorer(notellm, benchmark, other, k)


def _minilm_recommender(catalog: Sequence[Note], pool: Sequence[Note]) -> Recommender:
    """all-MiniLM-L6-v2 zero-shot (the evaluation's baseline, same 128-token cap) over the NoteLLM pool's notes."""
    from sentence_transformers.sentence_transformer.model import SentenceTransformer

    from .evaluation.baselines import minilm_path, sentence_transformer_embeddings

    encoder = SentenceTransformer(minilm_path(), device="cpu")
    encoder.max_seq_length = min(128, encoder.max_seq_length)

    def encode(notes: Sequence[Note]) -> Any:
        return sentence_transformer_embeddings(encoder, notes)

    name = BASELINE_ENCODERS["minilm"]
    return Recommender(pool_index(encode, pool, name), encode, catalog, name=name)


def explore(
    model: str | Path,
    data: str | Path,
    index: str | Path | None = None,
    baseline: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    k: int = 10,
    block: bool = True,
    precision: str = "auto",
) -> Any:
    """`notellm explore`: checks the port, builds the [`Explorer`] and serves its page at http://host:port."""
    check_port_free(host, port)
    page = build_explorer(model, data, index, baseline, k, precision).app()
    page.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=False)
    return page
