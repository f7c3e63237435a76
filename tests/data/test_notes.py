import json

import datasets
import pandas as pd
import pytest

from notellm_hf import Note
from notellm_hf.data.notes import NOTE_FEATURES, load_notes, note_text, notes_by_id

from conftest import TOY_NOTES


def test_every_format_loads_to_the_same_validated_table(tmp_path):
    jsonl = tmp_path / "notes.jsonl"
    jsonl.write_text("".join(json.dumps(n, ensure_ascii=False) + "\n" for n in TOY_NOTES), encoding="utf-8")
    frame = pd.DataFrame(TOY_NOTES)
    frame.to_parquet(tmp_path / "notes.parquet")
    frame.assign(hashtags=frame.hashtags.map(json.dumps)).to_csv(tmp_path / "notes.csv", index=False)
    expected = load_notes(jsonl)
    assert expected.features == NOTE_FEATURES and len(expected) == len(TOY_NOTES)
    assert expected[0]["hashtags"] == ["food", "recipe", "pasta"] and expected[0]["exposure"] is None
    for source in (tmp_path / "notes.parquet", tmp_path / "notes.csv", frame, datasets.Dataset.from_list(TOY_NOTES)):
        assert load_notes(source).to_list() == expected.to_list()
    assert list(notes_by_id(expected)) == [n["note_id"] for n in TOY_NOTES]


def test_exposure_and_cjk_text_are_kept(tmp_path):
    rows = [{"note_id": "z", "title": "北京 🍜", "exposure": 12}, {"note_id": "y", "content": "c", "exposure": None}]
    table = load_notes(pd.DataFrame(rows))
    assert table["exposure"] == [12.0, None] and table[0]["title"] == "北京 🍜"


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"note_id": "a", "title": "x"}, {"note_id": "a", "title": "y"}], "row 2: note 'a' repeats row 1"),
        ([{"note_id": "a", "title": "x", "exposure": -1}], "row 1: note 'a': field 'exposure' must be >= 0"),
        ([{"note_id": "a", "title": "x", "exposure": "many"}], "field 'exposure' must be a number"),
        ([{"note_id": "a", "title": "x"}, {"note_id": "b", "hashtags": "tag"}], "row 2: note 'b': field 'hashtags'"),
        ([{"title": "x"}], "missing column 'note_id'"),
        ([], "no notes"),
    ],
)
def test_bad_tables_name_row_and_field(rows, message):
    with pytest.raises(ValueError, match=message):
        load_notes(pd.DataFrame(rows))


def test_bad_files_fail_clearly(tmp_path):
    latin = tmp_path / "notes.csv"
    latin.write_bytes("note_id,title\na,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_notes(latin)
    xml = tmp_path / "notes.xml"
    xml.write_text("<notes/>")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_notes(xml)
    with pytest.raises(FileNotFoundError):
        load_notes(tmp_path / "missing.jsonl")


def test_note_text_holds_title_hashtags_and_content():
    note = Note.from_any(TOY_NOTES[0])
    assert note_text(note) == "Quick pasta recipe. food, recipe, pasta. Boil pasta, add tomato."
