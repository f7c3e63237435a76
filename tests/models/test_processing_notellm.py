import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notellm_hf import Note, NoteCompressionPrompt, PromptTemplate
from notellm_hf.models.notellm.processing_notellm import shared_prefix_length

from conftest import build_tokenizer

TOKENIZER = build_tokenizer()
TOKENIZER.add_special_tokens({"extra_special_tokens": ["[EMB]"]})
EMB_ID = TOKENIZER.convert_tokens_to_ids("[EMB]")
NOTE = Note("n1", title="Quick pasta", content="Boil pasta, add tomato.", hashtags=["food", "pasta"], category="Food")


def test_english_category_prompt_is_the_papers_template():
    text, output = NoteCompressionPrompt().render(TOKENIZER, NOTE, "category")
    assert text == (
        "Extract the note information in json format, compress it into one word for recommendation, and generate "
        'the category of the note. {"title": "Quick pasta", "topic": "food, pasta", "content": "Boil pasta, add '
        'tomato."} The compression word is:"[EMB]". The category is:'
    )
    assert output == "Food"


def test_english_hashtag_prompt_removes_hashtags_from_input():
    text, output = NoteCompressionPrompt().render(TOKENIZER, NOTE, "hashtag", hashtags=("pasta",))
    assert "generate 1 topics of the note." in text and text.endswith('"[EMB]". The 1 topics are:')
    assert '"topic"' not in text and output == "pasta"


def test_chinese_preset_mirrors_authors_code():
    note = Note("z", title="北京旅行", content="故宫和长城", hashtags=["旅行", "北京"], category="旅游")
    text, output = NoteCompressionPrompt("zh").render(TOKENIZER, note, "category")
    expected_note = '{"标题": "北京旅行", "话题": "旅行，北京", "内容": "故宫和长城"}'
    assert text == f"笔记：{expected_note}，压缩为一个词：“[EMB]”。生成笔记类目："
    assert output == "旅游"
    text, output = NoteCompressionPrompt("zh").render(TOKENIZER, note, "hashtag", hashtags=("北京",))
    assert text.endswith("生成笔记1个话题：") and '"话题": "旅行"' in text and output == "北京"


def test_custom_template_round_trips_through_dict():
    template = PromptTemplate(
        category_template="Note {note} -> {emb}. Category:",
        hashtag_template="Note {note} -> {emb}. {j} tags:",
        title_key="t",
        topic_key="h",
        content_key="c",
        topic_separator="; ",
        output_separator=" ",
    )
    prompt = NoteCompressionPrompt(template, title_max_tokens=5)
    restored = NoteCompressionPrompt.from_dict(json.loads(json.dumps(prompt.to_dict())))
    assert restored == prompt
    assert restored.render(TOKENIZER, NOTE)[0].startswith('Note {"t": "Quick pasta", "h": "food; pasta"')
    assert NoteCompressionPrompt.from_dict(NoteCompressionPrompt("zh").to_dict()).to_dict()["template"] == "zh"


def test_field_order_moves_the_title_next_to_the_read_out():
    prompt = NoteCompressionPrompt(field_order=("topic", "content", "title"))
    text, _ = prompt.render(TOKENIZER, NOTE, "category")
    assert text.endswith(
        '{"topic": "food, pasta", "content": "Boil pasta, add tomato.", "title": "Quick pasta"} The compression word '
        'is:"[EMB]". The category is:'
    )
    text, _ = prompt.render(TOKENIZER, NOTE, "hashtag", hashtags=("pasta",))
    assert '{"content": "Boil pasta, add tomato.", "title": "Quick pasta"} The compression' in text
    # Stored in the model config as JSON (a list) and restored as the same prompt; a config from before the setting
    # renders the paper's order.
    restored = NoteCompressionPrompt.from_dict(json.loads(json.dumps(prompt.to_dict())))
    assert restored == prompt and restored.field_order == ("topic", "content", "title")
    older = {key: value for key, value in NoteCompressionPrompt().to_dict().items() if key != "field_order"}
    assert (
        NoteCompressionPrompt.from_dict(older).render(TOKENIZER, NOTE)[0]
        == NoteCompressionPrompt().render(TOKENIZER, NOTE)[0]
    )


@pytest.mark.parametrize(
    "order", [("title", "content"), ("title", "title", "content"), ("title", "topic", "body"), "title", None, (1, 2, 3)]
)
def test_bad_field_order_is_a_named_error(order):
    with pytest.raises(ValueError, match="'field_order' must name each of"):
        NoteCompressionPrompt(field_order=order)


@pytest.mark.parametrize(
    "template",
    [
        dict(category_template="no placeholders", hashtag_template="{note}{emb}{j}"),
        dict(category_template="{note}{emb}", hashtag_template="{note}{emb} without j"),
    ],
)
def test_template_without_placeholders_is_rejected(template):
    keys = dict(title_key="t", topic_key="h", content_key="c", topic_separator=",", output_separator=" ")
    with pytest.raises(ValueError, match="template"):
        NoteCompressionPrompt(PromptTemplate(**template, **keys))


def test_fields_are_cut_to_their_token_budgets():
    long_title = " ".join(["mountain"] * 200)
    note = Note("long", title=long_title, content="pasta " * 1000)
    text, _ = NoteCompressionPrompt(title_max_tokens=7, content_max_tokens=11).render(TOKENIZER, note)
    fields = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert len(TOKENIZER(fields["title"], add_special_tokens=False)["input_ids"]) <= 7
    assert len(TOKENIZER(fields["content"], add_special_tokens=False)["input_ids"]) <= 11
    assert fields["title"].startswith("mountain mountain")


def test_labels_cover_exactly_the_output_and_eos():
    example = NoteCompressionPrompt().tokenize(TOKENIZER, NOTE, "category")
    output_ids = TOKENIZER(" Food", add_special_tokens=False)["input_ids"] + [TOKENIZER.eos_token_id]
    n = len(output_ids)
    assert example.input_ids[-n:] == output_ids
    assert example.labels[-n:] == output_ids
    assert set(example.labels[:-n]) == {-100}
    assert TOKENIZER.decode(example.input_ids[:-n]).endswith("The category is:")


def test_note_without_category_carries_no_labels():
    example = NoteCompressionPrompt().tokenize(TOKENIZER, Note("x", title="t"), "category")
    assert set(example.labels) == {-100}


def test_hashtag_sampling_draws_from_the_notes_hashtags():
    note = Note("x", title="t", hashtags=["a", "b", "c", "d", "e"])
    rng = random.Random(0)
    draws = [NoteCompressionPrompt(max_hashtags=3).sample_hashtags(note, rng) for _ in range(300)]
    assert {len(d) for d in draws} == {1, 2, 3}
    assert all(set(d) <= set(note.hashtags) and len(set(d)) == len(d) for d in draws)


@pytest.mark.parametrize(
    "record, match",
    [
        ({"note_id": "a", "title": 5}, "'title' must be a string"),
        ({"note_id": "a", "title": "t", "hashtags": "food"}, "'hashtags' must be a list"),
        ({"note_id": "a", "title": "t", "hashtags": ["ok", 3]}, "'hashtags' must hold strings"),
        ({"note_id": "a", "title": "  ", "content": None}, "all empty"),
        ({"note_id": "", "title": "t"}, "note_id"),
        ({"title": "t"}, "no 'note_id'"),
    ],
)
def test_bad_notes_name_the_note_and_field(record, match):
    with pytest.raises(ValueError, match=match):
        Note.from_any(record)


def test_none_fields_read_as_empty_and_int_ids_as_strings():
    note = Note.from_any({"note_id": 7, "title": None, "content": "c", "hashtags": None, "category": None, "x": 1})
    assert note == Note("7", content="c")


def test_note_text_holding_the_emb_token_is_rejected():
    with pytest.raises(ValueError, match="'content' contains the reserved token"):
        NoteCompressionPrompt().render(TOKENIZER, Note("bad", content="a [EMB] b"))


note_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=note_text,
    content=note_text,
    hashtags=st.lists(st.text(min_size=1, max_size=40), max_size=30),
    category=st.text(max_size=50),
    task=st.sampled_from(["category", "hashtag"]),
    preset=st.sampled_from(["en", "zh"]),
)
def test_no_note_loses_the_emb_suffix(title, content, hashtags, category, task, preset):
    try:
        note = Note("p", title=title, content=content, hashtags=hashtags, category=category)
    except ValueError:
        return  # all-empty notes are rejected, tested above
    if "[EMB]" in title + content + category + "".join(hashtags):
        return
    if task == "hashtag" and not note.hashtags:
        task = "category"
    prompt = NoteCompressionPrompt(preset)
    hashtags_out = note.hashtags[:1] if task == "hashtag" else ()
    example = prompt.tokenize(TOKENIZER, note, task, hashtags=hashtags_out)
    assert example.input_ids.count(EMB_ID) == 1
    guidance = "The category is:" if preset == "en" and task == "category" else None
    prompt_part = TOKENIZER.decode(
        [t for t, label in zip(example.input_ids, example.labels, strict=True) if label == -100]
    )
    if guidance:
        assert prompt_part.endswith('"[EMB]". ' + guidance)
    ids = prompt.embedding_input_ids(TOKENIZER, note)
    assert ids[-1] == EMB_ID and ids.count(EMB_ID) == 1


def test_generated_hashtags_are_distinct_and_never_the_title():
    prompt = NoteCompressionPrompt()
    note = Note(note_id="a2ps", title="GNU a2ps - printing", content="Any to PostScript filter.")
    text = "GNU a2ps - printing, printing,  Printing , gnu  A2PS - Printing, text, postscript, text"
    assert prompt.distinct_hashtags(text, note, limit=3) == ["printing", "text", "postscript"]
    assert prompt.distinct_hashtags("GNU a2ps - printing, GNU a2ps - printing", note, limit=3) == []
    # Seen in the demo: quoted near-duplicates, and a tag that runs on into the prompt's own words.
    assert prompt.distinct_hashtags('"print", "print".', note, limit=3) == ["print"]
    ran_on = "lightweight_drm_server_1. The 3 topics are: lightweight_drm_server_2. The 3 topics are:"
    assert prompt.distinct_hashtags(ran_on, note, limit=3) == ["lightweight_drm_server_1"]
    assert prompt.distinct_hashtags("devel::library, role::program", note, limit=3) == [
        "devel::library",
        "role::program",
    ]
    assert prompt.distinct_hashtags("旅行。今天很好，美食", note, limit=3) == ["旅行", "美食"]
    seen_in_demo = 'GNU a2ps - printing" and "GNU a2ps - printing, printer'
    assert prompt.distinct_hashtags(seen_in_demo, note, limit=3) == ["printer"]
    # Seen on a set of Python projects: one word looping inside a tag.
    assert prompt.distinct_hashtags("HTTP HTTP http HTTP, web client client", note, limit=3) == ["HTTP", "web client"]
    # Seen in the demo of 2026-11-30: numbered lists, empty items, version numbers.
    assert prompt.distinct_hashtags("1. printing. 2. text to Postscript.", note, limit=3) == [
        "printing",
        "text to Postscript",
    ]
    assert prompt.distinct_hashtags("1. 2.", note, limit=3) == []
    assert prompt.distinct_hashtags("1. 2.3.10.", note, limit=3) == []
    assert prompt.distinct_hashtags("1. 2D graphical game, 3. engine", note, limit=3) == ["2D graphical game", "engine"]


@pytest.mark.parametrize(
    "sequences, expected",
    [
        ([list(range(12)) + [50, 51, 52], list(range(12)) + [60, 61]], 12),  # rows part after 12 shared ids
        ([list(range(12)) + [50, 51], list(range(12)) + [50, 51]], 12),  # identical rows keep 2 ids of their own
        ([list(range(7)) + [50, 51, 52], list(range(7)) + [60, 61]], 0),  # 7 shared ids: below the minimum
        ([[1, 2, 3]], 0),  # one short row
    ],
)
def test_shared_prefix_length(sequences, expected):
    assert shared_prefix_length(sequences) == expected
