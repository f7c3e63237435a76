import json
import textwrap

import pytest
import torch
from tokenizers import processors

from notellm_hf.cli import main
from notellm_hf.hub import NoteTextRenderer, export_sentence_transformers
from notellm_hf.training import fit_lexical_block

from conftest import TOY_NOTES, make_model, run_script_offline

# A note long enough that the renderer cuts its title and content to their token budgets.
LONG_NOTE = {
    "note_id": "long",
    "title": "Mountain pasta guitar " * 30,
    "content": "A long trail to the top, then pasta and three chords. " * 60,
    "hashtags": ["travel", "food", "music"],
    "category": "Travel",
}
NOTES = [*TOY_NOTES[:5], LONG_NOTE]

# The export is served by a process that has neither this package nor remote code.
FRESH = textwrap.dedent(
    """
    import json, sys
    sys.modules["notellm_hf"] = None
    from sentence_transformers import SentenceTransformer
    folder, texts = sys.argv[1], json.loads(sys.argv[2])
    model = SentenceTransformer(folder, device="cpu")  # no trust_remote_code
    print(json.dumps({
        "embeddings": model.encode(texts, batch_size=4).tolist(),
        "modules": [type(module).__name__ for module in model],
        "dim": model.get_sentence_embedding_dimension(),
    }))
    """
)


def encode_fresh(folder, texts) -> dict:
    return run_script_offline(FRESH, folder, texts)


def saved(tmp_path, arch="llama", **config):
    model, tokenizer = make_model(arch, **config)
    folder = tmp_path / f"trained-{arch}"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model.eval(), tokenizer


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_stock_export_embeds_rendered_notes_as_encode_notes_without_remote_code(tmp_path, arch):
    source, model, tokenizer = saved(tmp_path, arch)
    out = export_sentence_transformers(source, tmp_path / "stock")
    assert not list(out.glob("*.py")), "a stock export carries no code"
    texts = NoteTextRenderer.from_pretrained(out)(NOTES)
    assert all(text.endswith('is:"') for text in texts)  # the paper's read-out: the token before [EMB]
    got = encode_fresh(out, texts)
    assert got["modules"] == ["Transformer", "Pooling", "Dense", "Normalize"] and got["dim"] == 16
    # Batches of 4 mix lengths (the long note pads the others), so padding is exercised too.
    torch.testing.assert_close(torch.tensor(got["embeddings"]), model.encode_notes(tokenizer, NOTES), atol=1e-5, rtol=0)
    card = (out / "README.md").read_text()
    assert "library_name: sentence-transformers" in card and "custom_code" not in card
    # ONNX goes through OnnxNoteEncoder: sentence-transformers' backend="onnx" does not import under transformers 5
    assert "OnnxNoteEncoder(folder" in card and 'SentenceTransformer("' in card and 'backend="onnx")' not in card


@pytest.mark.parametrize(
    "readout, text_end, pooling_mode, tei_pooling",
    # [EMB]'s own state; the mean of the states before [EMB]
    [("emb", 'is:"[EMB]', "lasttoken", "last-token"), ("mean", 'is:"', "mean", "mean")],
)
def test_other_readouts_render_and_pool_as_encode_notes(tmp_path, readout, text_end, pooling_mode, tei_pooling):
    source, model, tokenizer = saved(tmp_path, readout=readout)
    out = export_sentence_transformers(source, tmp_path / "stock")
    texts = NoteTextRenderer.from_pretrained(out)(NOTES)
    assert all(text.endswith(text_end) for text in texts)
    assert json.loads((out / "1_Pooling" / "config.json").read_text())["pooling_mode"] == pooling_mode
    assert f"--pooling {tei_pooling}`" in (out / "README.md").read_text()  # the card's serving command agrees
    got = encode_fresh(out, texts)
    torch.testing.assert_close(torch.tensor(got["embeddings"]), model.encode_notes(tokenizer, NOTES), atol=1e-5, rtol=0)


def test_a_centred_model_exports_its_running_mean_as_the_dense_bias(tmp_path):
    model, tokenizer = make_model("llama", center_embeddings=True)
    model.embedding_center.copy_(torch.linspace(-0.5, 0.5, 16))
    model.save_pretrained(tmp_path / "trained")
    tokenizer.save_pretrained(tmp_path / "trained")
    out = export_sentence_transformers(tmp_path / "trained", tmp_path / "stock")
    got = encode_fresh(out, NoteTextRenderer.from_pretrained(out)(NOTES))
    torch.testing.assert_close(torch.tensor(got["embeddings"]), model.encode_notes(tokenizer, NOTES), atol=1e-5, rtol=0)


def test_renderer_reads_a_notellm_folder_like_its_stock_export(tmp_path):
    source, _, _ = saved(tmp_path)
    out = export_sentence_transformers(source, tmp_path / "stock")
    assert NoteTextRenderer.from_pretrained(source)(NOTES) == NoteTextRenderer.from_pretrained(out)(NOTES)


def test_export_refuses_a_tokenizer_whose_ids_do_not_end_at_the_read_out(tmp_path):
    model, tokenizer = make_model("llama")
    # A tokenizer that appends EOS: last-token pooling would read EOS's state, not the read-out's.
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tokenizer.eos_token_id)]
    )
    source = tmp_path / "trained"
    model.save_pretrained(source)
    tokenizer.save_pretrained(source)
    with pytest.raises(ValueError, match="do not end at the read-out token"):
        export_sentence_transformers(source, tmp_path / "stock")
    assert not (tmp_path / "stock").exists()


def test_renderer_names_a_folder_that_is_no_notellm(tmp_path):
    folder = tmp_path / "llama"
    make_model("llama")[0].language_model.save_pretrained(folder)
    with pytest.raises(ValueError, match="nor a NoteLLM model"):
        NoteTextRenderer.from_pretrained(folder)


def test_cli_exports_stock_modules_and_renders_a_note_table(tmp_path, capsys):
    source, model, tokenizer = saved(tmp_path)
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps(note) + "\n" for note in NOTES))
    out, rendered = tmp_path / "stock", tmp_path / "rendered.jsonl"
    assert main(["export", str(source), str(out), "--format", "sentence-transformers"]) == 0
    assert main(["render", str(out), "--notes", str(notes), "--out", str(rendered)]) == 0
    records = [json.loads(line) for line in rendered.read_text().splitlines()]
    assert [r["note_id"] for r in records] == [n["note_id"] for n in NOTES]
    got = encode_fresh(out, [r["text"] for r in records])
    torch.testing.assert_close(torch.tensor(got["embeddings"]), model.encode_notes(tokenizer, NOTES), atol=1e-5, rtol=0)
    refused = ["export", str(source), str(tmp_path / "x"), "--format", "sentence-transformers", "--adapter-only"]
    assert main(refused) == 2
    assert "--adapter-only" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_export_refuses_a_model_whose_lexical_block_stock_modules_cannot_compute(tmp_path):
    model, tokenizer = make_model("llama", lexical_block_weight=0.2)
    fit_lexical_block(model, tokenizer, TOY_NOTES)
    model.save_pretrained(tmp_path / "trained")
    tokenizer.save_pretrained(tmp_path / "trained")
    with pytest.raises(ValueError, match="lexical block .* export it with --format notellm"):
        export_sentence_transformers(tmp_path / "trained", tmp_path / "stock")
    assert not (tmp_path / "stock").exists()
