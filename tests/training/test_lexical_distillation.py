import math

import pytest
import torch

from notellm_hf.models.notellm.processing_notellm import Note
from notellm_hf.training.data_collator import note_key
from notellm_hf.training.lexical_distillation import LexicalTeacher


def notes():
    return [
        Note(note_id="a", title="libfoo", content="libfoo parser"),
        Note(note_id="b", title="foo-utils", content="libfoo tools"),
        Note(note_id="c", title="bar", content="graphics editor"),
    ]


def test_logits_are_the_scaled_tfidf_cosine_written_out():
    # note_text joins title, hashtags and content; words: a = {libfoo x2, parser}, b = {foo, utils, libfoo, tools},
    # c = {bar, graphics, editor}. Smoothed IDF ln((1 + 3) / (1 + df)) + 1, sublinear tf 1 + ln(count).
    idf = {word: math.log(4 / (1 + df)) + 1 for word, df in {"libfoo": 2, "parser": 1, "foo": 1}.items()}
    a = {"libfoo": (1 + math.log(2)) * idf["libfoo"], "parser": idf["parser"]}
    b = {"foo": idf["foo"], "utils": idf["foo"], "libfoo": idf["libfoo"], "tools": idf["foo"]}
    cosine = a["libfoo"] * b["libfoo"] / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    teacher = LexicalTeacher(notes(), scale=10.0)
    keys = torch.tensor([note_key("a"), note_key("b"), note_key("c")])
    logits = teacher(keys[:2], keys)
    assert logits.shape == (2, 3)
    assert logits[0, 1].item() == pytest.approx(10.0 * cosine, rel=1e-5)
    assert logits[1, 0].item() == pytest.approx(10.0 * cosine, rel=1e-5)
    assert logits[0, 0].item() == pytest.approx(10.0, rel=1e-5) and logits[0, 2].item() == 0.0


def test_a_note_the_teacher_was_not_fitted_on_is_named():
    teacher = LexicalTeacher(notes())
    with pytest.raises(ValueError, match="not fitted on"):
        teacher(torch.tensor([note_key("a")]), torch.tensor([note_key("a"), note_key("unknown")]))


def test_a_scale_that_is_not_positive_is_named():
    with pytest.raises(ValueError, match="scale must be > 0"):
        LexicalTeacher(notes(), scale=0.0)
