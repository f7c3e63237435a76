import json

import numpy as np
import pytest
import torch

from notellm_hf.cli import main
from notellm_hf.hub import NoteTextRenderer, OnnxNoteEncoder, add_onnx_files, export_sentence_transformers

from conftest import TOY_NOTES, make_model, saved_model

LONG_NOTE = {"note_id": "long", "title": "Mountain pasta " * 40, "content": "A long trail, pasta, chords. " * 80}
NOTES = [*TOY_NOTES, LONG_NOTE]


# The mean read-out pools all states before [EMB]: the encoder must pool as the export's Pooling module says.
@pytest.mark.parametrize("centred, readout", [(False, "before_emb"), (True, "before_emb"), (False, "mean")])
def test_onnx_files_embed_like_encode_notes_and_int8_stays_close(tmp_path, centred, readout):
    model, tokenizer = make_model("qwen2", center_embeddings=centred, readout=readout)
    if centred:  # the Dense layer's bias carries the running mean
        model.embedding_center.copy_(torch.linspace(-0.5, 0.5, 16))
    model.eval().save_pretrained(tmp_path / "trained")
    tokenizer.save_pretrained(tmp_path / "trained")
    out = tmp_path / "stock"
    calibration = tmp_path / "notes.jsonl"
    calibration.write_text("".join(json.dumps(note) + "\n" for note in TOY_NOTES))
    argv = ["export", str(tmp_path / "trained"), str(out), "--format", "sentence-transformers", "--onnx"]
    assert main([*argv, "--calibration-notes", str(calibration)]) == 0
    texts = NoteTextRenderer.from_pretrained(out)(NOTES)
    expected = model.encode_notes(tokenizer, NOTES).numpy()
    # Batches of 3 mix the long note with short ones: left padding inside the graph is exercised.
    fp32 = OnnxNoteEncoder(out, "fp32").encode(texts, batch_size=3)
    np.testing.assert_allclose(fp32, expected, atol=1e-5, rtol=0)
    int8 = OnnxNoteEncoder(out, "int8").encode(texts, batch_size=3)
    cosine = (int8 * expected).sum(axis=1)
    assert cosine.min() >= 0.99 and not np.allclose(int8, expected, atol=1e-6)  # quantized, yet close
    assert json.loads((out / "modules.json").read_text())[0]["type"].endswith("Transformer")


def test_onnx_needs_a_stock_export_and_calibration_notes(tmp_path, capsys):
    with pytest.raises(ValueError, match="is not a stock-module export"):
        add_onnx_files(tmp_path, TOY_NOTES)
    assert main(["export", str(tmp_path), str(tmp_path / "x"), "--onnx"]) == 2
    assert "--format sentence-transformers" in capsys.readouterr().err
    folder, _, _ = saved_model(tmp_path / "trained")
    argv = ["export", str(folder), str(tmp_path / "x"), "--format", "sentence-transformers"]
    assert main([*argv, "--onnx"]) == 2
    assert "--calibration-notes" in capsys.readouterr().err
    assert main([*argv, "--calibration-notes", str(tmp_path / "notes.jsonl")]) == 2
    assert "go together" in capsys.readouterr().err
    with pytest.raises(ValueError, match="needs calibration notes"):
        export_sentence_transformers(folder, tmp_path / "x", onnx=True)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="has no onnx/model_qint8.onnx"):
        OnnxNoteEncoder(tmp_path)


def test_onnx_encoder_names_a_pooling_it_does_not_compute(tmp_path):
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "model_qint8.onnx").write_bytes(b"")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "max"}))
    modules = [{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="pooling 'max' is not one a NoteLLM export writes"):
        OnnxNoteEncoder(tmp_path)
