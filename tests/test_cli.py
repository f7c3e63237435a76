import json

import numpy as np
import pytest

from notellm_hf.cli import main

from conftest import TOY_NOTES, saved_model


@pytest.fixture
def model_dir(tmp_path):
    return saved_model(tmp_path / "model")


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
            "row 2: note 'a' repeats row 1",
        ),
        (['{"note_id": "a", "title": 1}'], "notes.jsonl: row 1: note 'a': field 'title' must be a string"),
        (["{not json"], "notes.jsonl: row 1: not valid JSON"),
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


def test_pairs_command_writes_the_builders_pairs(tmp_path, capsys):
    import pandas as pd

    from notellm_hf.data.pairs import build_cooccurrence_pairs

    log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "note_id": ["a", "b", "c", "a", "b"], "timestamp": [1, 2, 3, 5, 4]})
    log.to_csv(tmp_path / "clicks.csv", index=False)
    out = tmp_path / "pairs.parquet"
    assert main(["pairs", str(tmp_path / "clicks.csv"), str(out), "--top-t", "1", "--lower", "0.1"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), build_cooccurrence_pairs(log, top_t=1, lower=0.1))
    assert "wrote 2 pairs over 2 notes" in capsys.readouterr().out
    assert main(["pairs", str(tmp_path / "clicks.csv"), str(tmp_path / "pairs.txt")]) == 2
    assert not (tmp_path / "pairs.txt").exists()
