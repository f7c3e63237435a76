import json

import numpy as np
import pytest
from conftest import TOY_NOTES, make_model

from notellm_hf.cli import main


@pytest.fixture
def model_dir(tmp_path):
    model, tokenizer = make_model("llama")
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return tmp_path / "model", model, tokenizer


def write_notes(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_encode_writes_embeddings_in_note_order(tmp_path, model_dir):
    folder, model, tokenizer = model_dir
    notes = write_notes(tmp_path / "notes.jsonl", TOY_NOTES)
    out = tmp_path / "emb.npy"
    assert (
        main(["encode", "--model", str(folder), "--notes", str(notes), "--output", str(out), "--batch-size", "3"]) == 0
    )
    np.testing.assert_allclose(np.load(out), model.encode_notes(tokenizer, TOY_NOTES).numpy(), atol=1e-6)
    assert (tmp_path / "emb.npy.ids.txt").read_text().split() == [n["note_id"] for n in TOY_NOTES]


def test_generate_category_respects_the_closed_list(tmp_path, model_dir, capsys):
    folder, _, _ = model_dir
    notes = write_notes(tmp_path / "notes.jsonl", TOY_NOTES[:3])
    assert main(["generate", "--model", str(folder), "--notes", str(notes), "--categories", "Food,Travel"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["note_id"] for r in rows] == ["pasta", "pizza", "hike"]
    assert {r["category"] for r in rows} <= {"Food", "Travel"}


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            ['{"note_id": "a", "title": "x"}', '{"note_id": "a", "title": "y"}'],
            "notes.jsonl:2: note 'a' repeats line 1",
        ),
        (['{"note_id": "a", "title": 1}'], "notes.jsonl:1: note 'a': field 'title' must be a string"),
        (["{not json"], "notes.jsonl:1:"),
        ([""], "no notes"),
    ],
)
def test_bad_note_files_fail_with_the_line_named(tmp_path, model_dir, capsys, lines, message):
    folder, _, _ = model_dir
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "emb.npy"
    assert main(["encode", "--model", str(folder), "--notes", str(path), "--output", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
