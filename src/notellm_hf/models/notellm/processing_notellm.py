"""Notes, the Note Compression Prompt (NoteLLM, arXiv 2403.01744, Sec. 4.1) and the batching of its token ids.

This file travels to the Hub with the model (it is imported relatively by ``modeling_notellm.py``), so it
depends on the standard library and torch only and takes the tokenizer as an argument.

The prompt, for the category task::

    [BOS]<Instruction> <Input Note> The compression word is:"[EMB]". <Output Guidance> <Output>[EOS]

Title, content and topics are cut to token budgets before rendering; the instruction, the ``"[EMB]"``
suffix and the output guidance are never cut, because truncation happens per field and the final
sequence is never truncated.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import torch

Task = Literal["category", "hashtag"]
# The note fields of the prompt's JSON, in the paper's order (Fig. 2); ``field_order`` may permute them.
NOTE_FIELDS = ("title", "topic", "content")
# Label of positions the generation loss skips (the prompt, padding): the value PyTorch's cross-entropy ignores.
IGNORE_INDEX = -100
# Characters of a field looked at before token truncation: bounds the tokenizer's work on huge fields.
_CHARS_PER_TOKEN_BOUND = 16
# Generated tags: where a sentence ends (ASCII and full-width), and what is trimmed from a tag's ends.
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|[。！？\n]")
_TAG_PUNCTUATION = " \"'“”‘’「」.,;:!?。，；：！？"
# "1. printing. 2. text" is a list too: a number with "." or ")" and a space (or the end) marks an item.
_LIST_MARKER = re.compile(r"(?:^|\s)\d+[.)](?=\s|$)")


def truncate_to_tokens(tokenizer: Any, text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` tokens of ``tokenizer`` (whole text when it fits)."""
    text = text[: budget * _CHARS_PER_TOKEN_BOUND]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= budget:
        return text
    # A cut inside a multi-byte character decodes to U+FFFD: drop that partial character.
    return tokenizer.decode(ids[:budget]).rstrip("\ufffd").strip()


@dataclass(frozen=True)
class Note:
    """One note: the unit NoteLLM embeds, recommends and describes.

    ``None`` text fields are read as empty; surrounding whitespace is stripped; empty hashtags are
    dropped. A note needs an id and at least one of title, content or hashtags.
    """

    note_id: str
    title: str = ""
    content: str = ""
    hashtags: tuple[str, ...] = ()
    category: str = ""

    def __post_init__(self) -> None:
        note_id = self.note_id
        if isinstance(note_id, int) and not isinstance(note_id, bool):
            note_id = str(note_id)
        if not isinstance(note_id, str) or not note_id.strip():
            raise ValueError(f"note_id must be a non-empty string, got {self.note_id!r}")
        object.__setattr__(self, "note_id", note_id.strip())
        for name in ("title", "content", "category"):
            value = getattr(self, name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise ValueError(f"note {self.note_id!r}: field {name!r} must be a string, got {type(value).__name__}")
            object.__setattr__(self, name, value.strip())
        hashtags = self.hashtags
        if hashtags is None:
            hashtags = ()
        if isinstance(hashtags, str) or not isinstance(hashtags, (list, tuple)):
            raise ValueError(
                f"note {self.note_id!r}: field 'hashtags' must be a list of strings, got {type(hashtags).__name__}"
            )
        for tag in hashtags:
            if not isinstance(tag, str):
                raise ValueError(f"note {self.note_id!r}: field 'hashtags' must hold strings, got {type(tag).__name__}")
        object.__setattr__(self, "hashtags", tuple(tag.strip() for tag in hashtags if tag.strip()))
        if not (self.title or self.content or self.hashtags):
            raise ValueError(f"note {self.note_id!r}: title, content and hashtags are all empty")

    @classmethod
    def from_any(cls, note: Note | dict[str, Any] | str, note_id: str | None = None) -> Note:
        """Accepts a Note, a dict with the Note's fields (extra keys ignored) or a plain string (content)."""
        if isinstance(note, Note):
            return note
        if isinstance(note, str):
            return cls(note_id=note_id or "<text>", content=note)
        if isinstance(note, dict):
            if "note_id" not in note and note_id is None:
                raise ValueError(f"note has no 'note_id' field: keys are {sorted(note)}")
            kwargs = {f.name: note[f.name] for f in fields(cls) if f.name in note}
            kwargs.setdefault("note_id", note_id)
            return cls(**kwargs)
        raise ValueError(f"a note must be a Note, a dict or a string, got {type(note).__name__}")


@dataclass(frozen=True)
class PromptTemplate:
    """The wording of both prompt variants. ``{note}``, ``{emb}`` and ``{j}`` are filled at render time."""

    category_template: str
    hashtag_template: str
    title_key: str
    topic_key: str
    content_key: str
    topic_separator: str
    output_separator: str
    # Authors' code keeps the hashtags that are not asked for in the hashtag prompt's input.
    hashtag_input_keeps_unsampled: bool = False


PRESETS: dict[str, PromptTemplate] = {
    # The paper's English template (Fig. 2).
    "en": PromptTemplate(
        category_template=(
            "Extract the note information in json format, compress it into one word for recommendation, "
            'and generate the category of the note. {note} The compression word is:"{emb}". The category is:'
        ),
        hashtag_template=(
            "Extract the note information in json format, compress it into one word for recommendation, "
            'and generate {j} topics of the note. {note} The compression word is:"{emb}". The {j} topics are:'
        ),
        title_key="title",
        topic_key="topic",
        content_key="content",
        topic_separator=", ",
        output_separator=" ",
    ),
    # Mirrors the authors' released Chinese prompt: no instruction sentence, guidance after [EMB].
    "zh": PromptTemplate(
        category_template="笔记：{note}，压缩为一个词：“{emb}”。生成笔记类目：",
        hashtag_template="笔记：{note}，压缩为一个词：“{emb}”。生成笔记{j}个话题：",
        title_key="标题",
        topic_key="话题",
        content_key="内容",
        topic_separator="，",
        output_separator="",
        hashtag_input_keeps_unsampled=True,
    ),
}


@dataclass
class PromptExample:
    """Token ids of one rendered note; ``labels`` is IGNORE_INDEX outside the output (+EOS)."""

    input_ids: list[int]
    labels: list[int]
    task: Task


@dataclass
class NoteCompressionPrompt:
    """Renders notes into the two prompt variants and tokenizes them with token-budget truncation.

    ``max_hashtags``: the hashtag task asks for ``j`` topics, ``j`` drawn uniformly from
    ``1..min(max_hashtags, len(note.hashtags))``, sampled from the note's hashtags.

    ``field_order``: the order of the note's fields in the JSON (default the paper's: title, topic, content). A
    causal LM reads the embedding out at the end of the prompt, after the whole content; a field placed last sits
    next to the read-out instead of ~100 tokens before it.
    """

    template: PromptTemplate | str = "en"
    emb_token: str = "[EMB]"
    title_max_tokens: int = 20
    content_max_tokens: int = 80
    topic_max_tokens: int = 40
    output_max_tokens: int = 32
    max_hashtags: int = 3
    field_order: tuple[str, ...] = NOTE_FIELDS

    def __post_init__(self) -> None:
        if isinstance(self.template, str):
            if self.template not in PRESETS:
                raise ValueError(f"unknown prompt preset {self.template!r}; choose from {sorted(PRESETS)}")
            self.template = PRESETS[self.template]
        elif isinstance(self.template, dict):
            self.template = PromptTemplate(**self.template)
        for name in ("title_max_tokens", "content_max_tokens", "topic_max_tokens", "output_max_tokens", "max_hashtags"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"prompt setting {name!r} must be a positive integer, got {value!r}")
        for name in ("category_template", "hashtag_template"):
            text = getattr(self.template, name)
            if text.count("{emb}") != 1 or text.count("{note}") != 1:
                raise ValueError(f"prompt template {name!r} must contain '{{note}}' and '{{emb}}' exactly once")
        if "{j}" not in self.template.hashtag_template:
            raise ValueError("prompt template 'hashtag_template' must contain '{j}'")
        order = self.field_order
        if (
            not isinstance(order, (list, tuple))
            or not all(isinstance(name, str) for name in order)
            or sorted(order) != sorted(NOTE_FIELDS)
        ):
            raise ValueError(f"prompt setting 'field_order' must name each of {list(NOTE_FIELDS)} once, got {order!r}")
        self.field_order = tuple(order)  # a JSON config gives a list

    # ---- serialisation (stored in NoteLLMConfig.prompt) ----
    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        preset = next((name for name, tpl in PRESETS.items() if tpl == self.template), None)
        data["template"] = preset or asdict(self.template)
        data["field_order"] = list(self.field_order)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> NoteCompressionPrompt:
        return cls(**(data or {}))

    # ---- rendering ----
    def _check_no_special_text(self, note: Note) -> None:
        fields = {
            "title": [note.title],
            "content": [note.content],
            "category": [note.category],
            "hashtags": note.hashtags,
        }
        for name, values in fields.items():
            if any(self.emb_token in value for value in values):
                raise ValueError(
                    f"note {note.note_id!r}: field {name!r} contains the reserved token {self.emb_token!r}"
                )

    def _note_json(self, values: dict[str, str]) -> str:
        """The note's JSON: the given fields (named as in ``NOTE_FIELDS``) under the template's keys, in
        ``field_order``."""
        keys = {
            "title": self.template.title_key,
            "topic": self.template.topic_key,
            "content": self.template.content_key,
        }
        ordered = {keys[name]: values[name] for name in self.field_order if name in values}
        return json.dumps(ordered, ensure_ascii=False)

    def render(
        self,
        tokenizer: Any,
        note: Note,
        task: Task = "category",
        hashtags: tuple[str, ...] = (),
        num_hashtags: int | None = None,
    ) -> tuple[str, str]:
        """Returns (prompt text ending with the output guidance, output text).

        For ``task="hashtag"``, ``hashtags`` are the topics the output holds (training) and ``num_hashtags``
        the number asked for (default ``len(hashtags)``; set it alone to prompt for generation).
        """
        self._check_no_special_text(note)
        tpl = self.template
        sep = tpl.topic_separator
        title = truncate_to_tokens(tokenizer, note.title, self.title_max_tokens)
        content = truncate_to_tokens(tokenizer, note.content, self.content_max_tokens)
        if task == "category":
            topics = truncate_to_tokens(tokenizer, sep.join(note.hashtags), self.topic_max_tokens)
            note_json = self._note_json({"title": title, "topic": topics, "content": content})
            text = tpl.category_template.format(note=note_json, emb=self.emb_token)
            output = note.category
        elif task == "hashtag":
            j = num_hashtags or len(hashtags)
            if j < 1:
                raise ValueError(f"note {note.note_id!r}: the hashtag prompt must ask for at least one hashtag")
            values = {"title": title, "content": content}
            if tpl.hashtag_input_keeps_unsampled:
                rest = [tag for tag in note.hashtags if tag not in hashtags]
                values["topic"] = truncate_to_tokens(tokenizer, sep.join(rest), self.topic_max_tokens)
            text = tpl.hashtag_template.format(note=self._note_json(values), emb=self.emb_token, j=j)
            output = sep.join(hashtags)
        else:
            raise ValueError(f"unknown prompt task {task!r}; use 'category' or 'hashtag'")
        return text, output

    def output_ids(self, tokenizer: Any, output: str) -> list[int]:
        """Token ids of an output (category or topics) followed by EOS, as the model learns to generate it."""
        ids = tokenizer(self.template.output_separator + output, add_special_tokens=False)["input_ids"]
        return ids[: self.output_max_tokens] + [tokenizer.eos_token_id]

    def sample_hashtags(self, note: Note, rng: random.Random) -> tuple[str, ...]:
        j = rng.randint(1, min(self.max_hashtags, len(note.hashtags)))
        return tuple(rng.sample(note.hashtags, j))

    def tokenize(
        self,
        tokenizer: Any,
        note: Note,
        task: Task = "category",
        hashtags: tuple[str, ...] = (),
        num_hashtags: int | None = None,
        with_output: bool = True,
    ) -> PromptExample:
        """Token ids of the rendered prompt; with ``with_output`` the output (+EOS) is appended and labelled.

        A category prompt for a note without a category carries no labels.
        """
        text, output = self.render(tokenizer, note, task, hashtags, num_hashtags)
        input_ids = list(tokenizer(text)["input_ids"])
        labels = [IGNORE_INDEX] * len(input_ids)
        if with_output and output:
            out = self.output_ids(tokenizer, output)
            input_ids += out
            labels += out
        return PromptExample(input_ids=input_ids, labels=labels, task=task)

    def embedding_text(self, tokenizer: Any, note: Note, keep_emb: bool = True) -> str:
        """The category prompt's text cut right after ``[EMB]`` (``keep_emb``) or right before it.

        Nothing after the read-out can change it (causal LM). Without ``[EMB]`` the text ends at the token the
        paper reads out (``readout="before_emb"``): what a stock last-token-pooling model is sent. ``[EMB]`` is a
        special token, so the text before it tokenizes to the same ids with or without it.
        """
        text = self.render(tokenizer, note, "category")[0]
        return text[: text.index(self.emb_token) + (len(self.emb_token) if keep_emb else 0)]

    def embedding_input_ids(self, tokenizer: Any, note: Note) -> list[int]:
        """Token ids of ``embedding_text`` up to ``[EMB]`` (a tokenizer that appends EOS gets it cut off)."""
        ids = list(tokenizer(self.embedding_text(tokenizer, note))["input_ids"])
        emb_id = tokenizer.convert_tokens_to_ids(self.emb_token)
        return ids[: ids.index(emb_id) + 1]

    def split_hashtags(self, text: str) -> list[str]:
        """Parses generated topics back into a list (ASCII and full-width commas, or numbered list items)."""
        parts = _LIST_MARKER.sub(",", text).replace("，", ",").split(",")
        return [part.strip() for part in parts if part.strip()]

    def distinct_hashtags(self, text: str, note: Note, limit: int) -> list[str]:
        """The generated topics a user should see, at most ``limit``: each cut at a sentence end (a tag is not a
        sentence: a small model runs on into "... The 3 topics are:"), stripped of quotes and end punctuation, in
        order, each once (ignoring case, spacing and punctuation), none holding a copy of the note's title; a word
        repeated back to back inside a tag ("HTTP HTTP") is kept once; a tag without a letter ("2.3.10") is dropped."""

        def key(value: str) -> str:
            return " ".join(value.lower().strip(_TAG_PUNCTUATION).split())

        title = key(note.title)
        seen, tags = set(), []
        for part in self.split_hashtags(text):
            words = _SENTENCE_END.split(part, maxsplit=1)[0].split()
            words = [w for i, w in enumerate(words) if i == 0 or w.lower() != words[i - 1].lower()]
            tag = " ".join(words).strip(_TAG_PUNCTUATION).strip()
            wordy = any(character.isalpha() for character in tag)
            if wordy and key(tag) not in seen and not (title and title in key(tag)):
                seen.add(key(tag))
                tags.append(tag)
        return tags[:limit]


# ---- batching token ids ----
def pad_sequences(sequences: Sequence[Sequence[int]], pad_value: int, side: str = "right") -> torch.Tensor:
    """Rows of unequal length padded with ``pad_value`` on ``side`` into one (n, longest) long tensor."""
    width = max(len(seq) for seq in sequences)
    rows = []
    for seq in sequences:
        padding = [pad_value] * (width - len(seq))
        rows.append(list(seq) + padding if side == "right" else padding + list(seq))
    return torch.tensor(rows, dtype=torch.long)


def padded_batch(sequences: Sequence[Sequence[int]], pad_token_id: int, side: str = "right") -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` of token-id rows padded on ``side``."""
    return {
        "input_ids": pad_sequences(sequences, pad_token_id, side),
        "attention_mask": pad_sequences([[1] * len(seq) for seq in sequences], 0, side),
    }


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that count real tokens only, so a row gets the same positions under left or right padding."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def shared_prefix_length(sequences: Sequence[Sequence[int]], min_length: int = 8) -> int:
    """Length of the token prefix all ``sequences`` share, leaving each at least 2 tokens of its own (the
    read-out and ``[EMB]``); 0 when fewer than ``min_length`` tokens are shared (not worth a cache)."""
    # The lexicographically first and last rows share exactly the prefix all rows share.
    first, last = min(sequences, key=list), max(sequences, key=list)
    pairs = enumerate(zip(first, last, strict=False))  # rows of unequal length: compare what both have
    shared = next((i for i, (a, b) in pairs if a != b), min(len(first), len(last)))
    length = min(shared, min(len(seq) for seq in sequences) - 2)
    return length if length >= min_length else 0


def length_sorted_batches(sequences: Sequence[Sequence[int]], batch_size: int) -> Iterator[list[int]]:
    """Indices of ``sequences`` in batches of ``batch_size``, longest first: each batch pads to similar lengths."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]), reverse=True)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
