import json
import textwrap
from pathlib import Path

import pytest
import torch
from huggingface_hub import CommitOperationAdd, HfApi

from notellm_hf import apply_lora
from notellm_hf.hub import export_model, push_to_hub
from notellm_hf.training import fit_lexical_block

from conftest import TOY_NOTES, make_model, run_script_offline, saved_model

FRESH = textwrap.dedent(
    """
    import json, sys
    sys.modules["notellm_hf"] = None  # the package must not be needed
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer
    folder, notes = sys.argv[1], json.loads(sys.argv[2])
    model = AutoModel.from_pretrained(folder, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    st = SentenceTransformer(folder, trust_remote_code=True, device="cpu")
    dicts = st.encode([{k: v for k, v in n.items() if k != "note_id"} for n in notes], batch_size=3)
    strings = st.encode(["Boil pasta"], normalize_embeddings=True)
    prompted = st.encode(["pasta"], prompt="Boil ")
    as_query = st.encode_query(["Boil pasta"])
    as_document = st.encode(["Boil pasta"], prompt_name="document")
    print(json.dumps({
        "auto": model.encode_notes(tokenizer, notes).tolist(),
        "auto_string": model.encode_notes(tokenizer, ["Boil pasta"]).tolist(),
        "st": dicts.tolist(), "st_string": strings.tolist(), "st_prompted": prompted.tolist(),
        "st_query": as_query.tolist(), "st_document": as_document.tolist(),
        "similarity": st.similarity(dicts[:2], dicts[:2]).tolist(),
        "dim": st.get_sentence_embedding_dimension(),
    }))
    """
)


def run_fresh(folder, notes) -> dict:
    return run_script_offline(FRESH, folder, notes)


@pytest.fixture
def trained(tmp_path):
    return saved_model(tmp_path / "trained", "qwen2")


def test_export_loads_as_automodel_and_sentence_transformer_without_the_package(tmp_path, trained):
    source, model, tokenizer = trained
    out = export_model(source, tmp_path / "export")
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "modules.json", "sentence_notellm.py", "modeling_notellm.py", "README.md"} <= names
    assert not any(n.endswith((".bin", ".pkl", ".pt", ".pth")) for n in names)
    notes = TOY_NOTES[:4]
    got = run_fresh(out, notes)
    expected = model.encode_notes(tokenizer, notes)
    torch.testing.assert_close(torch.tensor(got["st"]), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(got["auto"]), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.tensor(got["st_string"]), torch.tensor(got["auto_string"]), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(got["st_prompted"]), torch.tensor(got["auto_string"]), atol=1e-5, rtol=0)
    for name in ("st_query", "st_document"):
        torch.testing.assert_close(torch.tensor(got[name]), torch.tensor(got["auto_string"]), atol=1e-5, rtol=0)
    assert got["dim"] == 16 and got["similarity"][0][0] == pytest.approx(1.0, abs=1e-5)


def test_lora_adapter_exports_merged_and_adapter_only(tmp_path, trained):
    source, model, tokenizer = trained
    peft_model = apply_lora(model, r=4, lora_alpha=8)
    with torch.no_grad():  # make the adapter do something
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    expected = peft_model.encode_notes(tokenizer, TOY_NOTES)
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = export_model(tmp_path / "adapter", tmp_path / "merged", base_model=str(source))
    got = run_fresh(merged, TOY_NOTES)
    torch.testing.assert_close(torch.tensor(got["auto"]), expected, atol=1e-5, rtol=0)
    only = export_model(tmp_path / "adapter", tmp_path / "only", adapter_only=True, base_model="org/notellm-base")
    assert json.loads((only / "adapter_config.json").read_text())["base_model_name_or_path"] == "org/notellm-base"
    assert {p.name for p in only.iterdir()} == {"adapter_model.safetensors", "adapter_config.json"}


def test_card_carries_metadata_and_only_evaluated_figures(tmp_path, trained):
    source, _, _ = trained
    plain = export_model(source, tmp_path / "plain", model_id="org/notellm-tiny")
    card = (plain / "README.md").read_text()
    assert "not evaluated; no figures" in card and "model-index" not in card
    for tag in ("notellm", "sentence-transformers", "feature-extraction", "custom_code"):
        assert f"- {tag}" in card
    recall = {"R@0.039%": 11.0, "R@0.39%": 22.0, "R@3.9%": 33.0, "R@39%": 44.0}
    evaluation = {
        "meta": {"data": "/x/debian"},
        "results": {
            "NoteLLM": {
                "retrieval": {
                    "recall": recall,
                    "avg": 27.5,
                    "scaled_ks": {k: 1 for k in recall},
                    "pool_size": 10,
                    "pairs": 5,
                }
            }
        },
    }
    card = (
        export_model(source, tmp_path / "eval", evaluation=evaluation, training_config={"alpha": 0.01}) / "README.md"
    ).read_text()
    assert (
        "model-index" in card and "value: 27.5" in card and "| NoteLLM | 11.00 | 22.00 | 33.00 | 44.00 | 27.50" in card
    )
    assert '"alpha": 0.01' in card


def test_bad_exports_fail_before_writing(tmp_path, trained):
    source, _, _ = trained
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ValueError, match="not a NoteLLM model folder"):
        export_model(tmp_path / "other", tmp_path / "out1")
    no_tokenizer = tmp_path / "no_tok"
    no_tokenizer.mkdir()
    for f in source.iterdir():
        if "token" not in f.name:
            (no_tokenizer / f.name).write_bytes(f.read_bytes())
    with pytest.raises(ValueError, match="no tokenizer"):
        export_model(no_tokenizer, tmp_path / "out2")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path / "gone")}))
    with pytest.raises(ValueError, match="base model .* cannot be loaded"):
        export_model(adapter, tmp_path / "out3")
    assert not any((tmp_path / f"out{i}").exists() for i in (1, 2, 3))
    with pytest.raises(ValueError, match="invalid repo id"):
        push_to_hub(source, "bad repo id!")
    with pytest.raises(ValueError, match="not a NoteLLM export"):
        push_to_hub(source, "org/name")


class LocalHub(HfApi):
    """HfApi with only its network boundary replaced: commits land in a local folder per repo."""

    def __init__(self, root: Path) -> None:
        super().__init__(token="hf_test")
        self.root, self.commits = root, []

    def whoami(self, *args, **kwargs):
        return {"name": "tester"}

    def _validate_yaml(self, content, **kwargs):
        assert content.startswith("---\n")  # the card's metadata block is what the Hub would validate

    def create_repo(self, repo_id, **kwargs):
        (self.root / repo_id).mkdir(parents=True, exist_ok=True)
        return f"https://huggingface.co/{repo_id}"

    def create_commit(self, repo_id, operations, commit_message=None, revision=None, **kwargs):
        for op in operations:
            assert isinstance(op, CommitOperationAdd)
            target = self.root / repo_id / op.path_in_repo
            target.parent.mkdir(parents=True, exist_ok=True)
            with op.as_file() as handle:
                target.write_bytes(handle.read())
        self.commits.append([op.path_in_repo for op in operations])
        return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/{len(self.commits)}"})()


def test_push_uploads_card_first_and_reloads_from_the_hub_copy(tmp_path, trained, monkeypatch):
    # Xet uploads go through their own transfer service: the single-commit path is the one the local hub serves.
    monkeypatch.setattr("huggingface_hub.hf_api.is_xet_available", lambda: False)
    source, model, tokenizer = trained
    out = export_model(source, tmp_path / "export", model_id="org/notellm-tiny")
    hub = LocalHub(tmp_path / "hub")
    push_to_hub(out, "org/notellm-tiny", api=hub)
    push_to_hub(out, "org/notellm-tiny", api=hub)  # idempotent re-push
    assert hub.commits[0] == ["README.md"] and "model.safetensors" in hub.commits[1]
    copy = tmp_path / "hub" / "org" / "notellm-tiny"
    assert (copy / "README.md").read_text() == (out / "README.md").read_text()
    got = run_fresh(copy, TOY_NOTES[:3])
    torch.testing.assert_close(torch.tensor(got["st"]), model.encode_notes(tokenizer, TOY_NOTES[:3]), atol=1e-5, rtol=0)


def test_a_model_with_a_lexical_block_exports_and_serves_its_whole_embedding(tmp_path):
    model, tokenizer = make_model("qwen2", lexical_block_weight=0.2)
    fit_lexical_block(model, tokenizer, TOY_NOTES)
    model.save_pretrained(tmp_path / "trained")
    tokenizer.save_pretrained(tmp_path / "trained")
    out = export_model(tmp_path / "trained", tmp_path / "export")
    notes = TOY_NOTES[:4]
    got = run_fresh(out, notes)
    expected = model.encode_notes(tokenizer, notes)
    assert got["dim"] == 16 + 32
    torch.testing.assert_close(torch.tensor(got["st"]), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(got["auto"]), expected, atol=1e-6, rtol=0)
    card = " ".join((out / "README.md").read_text().split())
    assert "cosine is 0.8 x the head's cosine + 0.2 x the lexical cosine: 48 dimensions in all" in card


def test_an_unfitted_lexical_block_is_refused_before_anything_is_written(tmp_path):
    base, tokenizer = make_model("qwen2", lexical_block_weight=0.2)  # never fitted: its buffers are zeros
    base.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    apply_lora(base, r=4, lora_alpha=8).save_pretrained(tmp_path / "adapter")
    for source, remedy in (("base", "fit it first"), ("adapter", "merged model folder")):
        with pytest.raises(ValueError, match=f"lexical block is not fitted.*{remedy}"):
            export_model(tmp_path / source, tmp_path / f"out_{source}", base_model=str(tmp_path / "base"))
        assert not (tmp_path / f"out_{source}").exists()
    fitted, tokenizer = make_model("qwen2", lexical_block_weight=0.2)  # the same kind of model, fitted, exports
    fit_lexical_block(fitted, tokenizer, TOY_NOTES)
    fitted.save_pretrained(tmp_path / "fitted")
    tokenizer.save_pretrained(tmp_path / "fitted")
    assert (export_model(tmp_path / "fitted", tmp_path / "out_fitted") / "model.safetensors").exists()
