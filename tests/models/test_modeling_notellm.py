import json
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoModel

from notellm_hf import Note, NoteLLMConfig, NoteLLMForEmbeddingAndGeneration
from notellm_hf.models.notellm.processing_notellm import shared_prefix_length

from conftest import TOY_NOTES, build_tokenizer, make_model, tiny_backbone


def category_ids(model, tokenizer, note):
    return model.note_prompt.tokenize(tokenizer, Note.from_any(note), "category", with_output=False).input_ids


def test_from_backbone_keeps_pretrained_weights_and_adds_emb():
    tokenizer = build_tokenizer()
    backbone = tiny_backbone("llama", len(tokenizer))
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    model, tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(backbone, tokenizer=tokenizer, embedding_dim=8)
    emb_id = tokenizer.convert_tokens_to_ids("[EMB]")
    assert "[EMB]" in tokenizer.all_special_tokens and emb_id == len(tokenizer) - 1
    assert model.config.emb_token_id == emb_id and model.config.text_config.vocab_size == len(tokenizer)
    after = model.language_model.state_dict()
    for name, value in before.items():
        if "embed_tokens" in name or "lm_head" in name:
            assert torch.equal(after[name][:emb_id], value)
        else:
            assert torch.equal(after[name], value), name
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    assert model.logit_scale().item() == pytest.approx(torch.tensor(3.0).exp().item())


@pytest.mark.parametrize("readout, shift", [("before_emb", 1), ("emb", 0)])
def test_readout_is_the_hidden_state_before_emb(readout, shift):
    model, tokenizer = make_model("llama", readout=readout, normalize_embeddings=False)
    ids = category_ids(model, tokenizer, TOY_NOTES[0])
    emb_at = ids.index(tokenizer.convert_tokens_to_ids("[EMB]"))
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        hidden = model.language_model(input_ids, output_hidden_states=True).hidden_states[-1]
        expected = model.embedding_head(hidden[0, emb_at - shift])
        got = model(input_ids=input_ids).embeddings[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # Tokens after the read-out position cannot change it; the read-out token itself does.
    with torch.no_grad():
        changed_after = input_ids.clone()
        changed_after[0, emb_at + 1 :] = 5
        changed_at = input_ids.clone()
        changed_at[0, emb_at - shift] = 7 if changed_at[0, emb_at - shift] != 7 else 8
        if readout == "emb":  # changing [EMB] itself would break the lookup: change the token before instead
            changed_at = input_ids.clone()
            changed_at[0, emb_at - 1] = 7 if changed_at[0, emb_at - 1] != 7 else 8
        assert torch.allclose(model(input_ids=changed_after).embeddings[0], got, atol=1e-6)
        assert not torch.allclose(model(input_ids=changed_at).embeddings[0], got, atol=1e-4)


def test_mean_readout_averages_the_states_before_emb():
    model, tokenizer = make_model("llama", readout="mean", normalize_embeddings=False)
    ids = category_ids(model, tokenizer, TOY_NOTES[0])
    emb_at = ids.index(tokenizer.convert_tokens_to_ids("[EMB]"))
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        hidden = model.language_model(input_ids, output_hidden_states=True).hidden_states[-1]
        expected = model.embedding_head(torch.stack([hidden[0, t] for t in range(emb_at)]).mean(dim=0))
        got = model(input_ids=input_ids).embeddings[0]
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        # [EMB] and what follows it (the generation prompt) do not enter; every token before it does.
        changed_after = input_ids.clone()
        changed_after[0, emb_at + 1 :] = 5
        assert torch.allclose(model(input_ids=changed_after).embeddings[0], got, atol=1e-6)
        changed_first = input_ids.clone()
        changed_first[0, 0] = 7 if changed_first[0, 0] != 7 else 8
        assert not torch.allclose(model(input_ids=changed_first).embeddings[0], got, atol=1e-4)


def test_mean_readout_is_padding_batch_and_prefix_cache_invariant():
    model, tokenizer = make_model("llama", readout="mean")
    one_by_one = torch.cat([model.encode_notes(tokenizer, [note], reuse_prefix=False) for note in TOY_NOTES])
    cached = model.encode_notes(tokenizer, TOY_NOTES, batch_size=3)  # left-padded suffixes after a shared prefix
    torch.testing.assert_close(cached, one_by_one, atol=1e-5, rtol=1e-4)
    model.config.readout = "before_emb"  # the same weights read out at one position embed differently
    assert not torch.allclose(cached, model.encode_notes(tokenizer, TOY_NOTES), atol=1e-3)


def test_rows_without_exactly_one_emb_are_rejected(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="row 0 holds 0"):
        model(input_ids=torch.tensor([[3, 4, 5]]))


def test_encode_notes_is_batch_and_padding_invariant(tiny):
    model, tokenizer = tiny
    one_by_one = torch.cat([model.encode_notes(tokenizer, [note]) for note in TOY_NOTES])
    batched = model.encode_notes(tokenizer, TOY_NOTES, batch_size=3)
    assert batched.shape == (len(TOY_NOTES), 16)
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=1e-4)
    assert torch.allclose(batched.norm(dim=1), torch.ones(len(TOY_NOTES)), atol=1e-5)
    # Left padding (as a user batching with the tokenizer would) gives the same embeddings.
    seqs = [
        category_ids(model, tokenizer, n)[: category_ids(model, tokenizer, n).index(model.config.emb_token_id) + 1]
        for n in TOY_NOTES[:3]
    ]
    width = max(map(len, seqs))
    ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(s)) + s for s in seqs])
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
    with torch.no_grad():
        torch.testing.assert_close(
            model(input_ids=ids, attention_mask=mask).embeddings, batched[:3], atol=1e-5, rtol=1e-4
        )
    assert model.training  # encode_notes restores the training mode it found


def test_the_shared_prefix_cache_gives_the_embeddings_of_whole_rows(tiny):
    model, tokenizer = tiny
    sequences = [model.note_prompt.embedding_input_ids(tokenizer, Note.from_any(note)) for note in TOY_NOTES]
    assert shared_prefix_length(sequences) >= 20  # the instruction: the cached path really runs
    whole_rows = model.encode_notes(tokenizer, TOY_NOTES, batch_size=3, reuse_prefix=False)
    torch.testing.assert_close(model.encode_notes(tokenizer, TOY_NOTES, batch_size=3), whole_rows, atol=1e-5, rtol=0)


def test_strings_are_notes_content(tiny):
    model, tokenizer = tiny
    torch.testing.assert_close(
        model.encode_notes(tokenizer, ["Boil pasta"]),
        model.encode_notes(tokenizer, [{"note_id": "x", "content": "Boil pasta"}]),
    )


def test_lm_head_runs_only_on_labelled_positions(tiny):
    model, tokenizer = tiny
    rows = []
    model.language_model.get_output_embeddings().register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0]))
    ids = category_ids(model, tokenizer, TOY_NOTES[0]) + [11, 12, tokenizer.eos_token_id]
    labels = [-100] * (len(ids) - 3) + [11, 12, tokenizer.eos_token_id]
    out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
    assert rows == [3]
    # Independent check of the value: full-sequence logits from the backbone, shifted CE on the 3 targets.
    with torch.no_grad():
        logits = model.language_model(torch.tensor([ids])).logits[0, -4:-1]
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([11, 12, tokenizer.eos_token_id]))
    torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=1e-5)
    rows.clear()
    assert model(input_ids=torch.tensor([ids])).loss is None and rows == []


def test_constrained_category_generation_only_emits_list_members(tiny):
    model, tokenizer = tiny
    categories = ["Food", "Travel", "Music", "Sports Science"]
    got = model.generate_category(tokenizer, TOY_NOTES, categories=categories, batch_size=3)
    assert len(got) == len(TOY_NOTES) and set(got) <= set(categories)


def greedy_hashtags(model, tokenizer, note, num_hashtags, max_new_tokens):
    """One note at a time, no padding: argmax of the backbone's next-token logits among the tokens that do not
    repeat a bigram of the output so far, stopped at EOS, decoded, then cleaned by ``distinct_hashtags`` (tested
    on its own in test_processing_notellm)."""
    ids = model.note_prompt.tokenize(tokenizer, note, "hashtag", num_hashtags=num_hashtags, with_output=False).input_ids
    new = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model.language_model(torch.tensor([ids + new])).logits[0, -1]
            for i in range(len(new) - 1):
                if new[i] == new[-1]:
                    logits[new[i + 1]] = -float("inf")
            token = int(logits.argmax())
            if token == tokenizer.eos_token_id:
                break
            new.append(token)
    text = tokenizer.decode(new, skip_special_tokens=True).strip()
    return model.note_prompt.distinct_hashtags(text, note, num_hashtags)


def test_batched_hashtag_generation_equals_greedy_decoding_note_by_note(tiny):
    model, tokenizer = tiny
    notes = [Note.from_any(n) for n in TOY_NOTES[:3]]  # different prompt lengths: left padding in one batch
    # 12 new tokens: long enough for the random model to loop, so the bigram ban decides some tokens.
    got = model.generate_hashtags(tokenizer, notes, num_hashtags=2, max_new_tokens=12, batch_size=3)
    assert got == [greedy_hashtags(model, tokenizer, note, 2, 12) for note in notes]


def test_vocabulary_hashtags_are_the_likeliest_list_members_by_brute_force(tiny):
    model, tokenizer = tiny
    vocabulary = ["pasta", "travel tips", "music", "sports science", "food"]
    notes = [Note.from_any(n) for n in TOY_NOTES[:3]]
    # 8 beams over 5 short members keep every hypothesis: the search is exact, so it must return the 3 members of
    # highest summed log-probability (tokens + EOS, as a whole-sequence score), scored here one member at a time.
    got = model.generate_hashtags(tokenizer, notes, num_hashtags=3, vocabulary=vocabulary, vocabulary_beams=8)
    prompt = model.note_prompt
    for note, tags in zip(notes, got, strict=True):
        ids = prompt.tokenize(tokenizer, note, "hashtag", num_hashtags=3, with_output=False).input_ids
        scores = {}
        with torch.no_grad():
            for member in vocabulary:
                output = prompt.output_ids(tokenizer, member)
                logits = model.language_model(torch.tensor([ids + output])).logits[0, len(ids) - 1 : -1]
                scores[member] = float(torch.log_softmax(logits.float(), -1).gather(1, torch.tensor([output]).T).sum())
        assert tags == sorted(vocabulary, key=scores.get, reverse=True)[:3]
    assert model.generate_hashtags(tokenizer, notes[:1], num_hashtags=3, vocabulary=["food"]) == [["food"]]
    with pytest.raises(ValueError, match="the hashtag vocabulary is empty"):
        model.generate_hashtags(tokenizer, notes, vocabulary=[" "])


def test_save_and_reload_with_the_package(tmp_path, tiny):
    model, tokenizer = tiny
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert {"configuration_notellm.py", "modeling_notellm.py", "processing_notellm.py"} <= {
        p.name for p in tmp_path.iterdir()
    }
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_notellm.NoteLLMForEmbeddingAndGeneration"
    assert isinstance(AutoConfig.from_pretrained(tmp_path), NoteLLMConfig)
    reloaded = AutoModel.from_pretrained(tmp_path)
    assert type(reloaded) is NoteLLMForEmbeddingAndGeneration
    torch.testing.assert_close(
        reloaded.encode_notes(tokenizer, TOY_NOTES), model.encode_notes(tokenizer, TOY_NOTES), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(reloaded.logit_scale.tau, model.logit_scale.tau)


REMOTE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.modules["notellm_hf"] = None  # the package must not be needed
    import torch
    from transformers import AutoModel, AutoTokenizer
    folder, notes = sys.argv[1], json.loads(sys.argv[2])
    model = AutoModel.from_pretrained(folder, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    emb = model.encode_notes(tokenizer, notes)
    cats = model.generate_category(tokenizer, notes, categories=["Food", "Travel"])
    tags = model.generate_hashtags(tokenizer, notes[:1], num_hashtags=1, max_new_tokens=3)
    print(json.dumps({"emb": emb.tolist(), "cats": cats, "tags": tags, "padding_side": tokenizer.padding_side}))
    """
)


def run_remote_script(folder, notes) -> dict:
    """REMOTE_SCRIPT's output for a saved model folder, run offline in a process without the package."""
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, str(folder), json.dumps(notes)],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HF_HOME": str(folder / "hf")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_remote_code_loads_without_the_package(tmp_path, tiny):
    model, tokenizer = tiny
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    notes = TOY_NOTES[:4]
    out = run_remote_script(tmp_path, notes)
    torch.testing.assert_close(torch.tensor(out["emb"]), model.encode_notes(tokenizer, notes), atol=1e-6, rtol=0)
    assert set(out["cats"]) <= {"Food", "Travel"} and out["padding_side"] == "left"


def test_a_centred_model_trains_on_raw_head_outputs_and_serves_them_minus_its_running_mean(tmp_path):
    """center_embeddings: the training-mode forward hands the trainer the head outputs as they are (it removes the
    batch's mean); serving subtracts the saved running mean, then normalises, in the package and in remote code."""
    model, tokenizer = make_model("llama", center_embeddings=True)
    assert "embedding_center" not in dict(make_model("llama")[0].named_buffers())  # the paper's model: unchanged
    center = torch.linspace(-0.5, 0.5, 16)
    model.embedding_center.copy_(center)
    head_outputs = []
    model.embedding_head.register_forward_hook(lambda _, __, out: head_outputs.append(out.detach().float()))
    batch = model.tokenize_notes(tokenizer, TOY_NOTES[:4])
    torch.testing.assert_close(model.train()(**batch).embeddings.detach(), head_outputs[-1])
    served = model.eval()(**batch).embeddings
    shifted = head_outputs[-1] - center
    torch.testing.assert_close(served, shifted / shifted.norm(dim=1, keepdim=True))
    plain = head_outputs[-1] / head_outputs[-1].norm(dim=1, keepdim=True)
    assert (served * plain).sum(dim=1).max() < 0.99  # the mean removed changes the embedding
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    remote = torch.tensor(run_remote_script(tmp_path, TOY_NOTES[:4])["emb"])
    torch.testing.assert_close(remote, model.encode_notes(tokenizer, TOY_NOTES[:4]), atol=1e-6, rtol=0)


def test_from_backbone_loads_a_local_folder(tmp_path):
    tokenizer = build_tokenizer()
    backbone = tiny_backbone("qwen2", len(tokenizer))
    backbone.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, loaded_tokenizer = NoteLLMForEmbeddingAndGeneration.from_backbone(str(tmp_path), embedding_dim=8)
    assert model.config.text_config.model_type == "qwen2"
    assert model.encode_notes(loaded_tokenizer, TOY_NOTES[:2]).shape == (2, 8)


def test_odd_notes_encode_within_budget(tiny):
    model, tokenizer = tiny
    odd = [
        {"note_id": "huge", "title": "t", "content": "pasta tomato " * 10_000},
        {"note_id": "emoji", "title": "🍜🎸🏔️", "content": "😀" * 500},
        {"note_id": "cjk", "title": "北京旅行", "content": "故宫和长城" * 1000, "hashtags": ["旅行"]},
    ]
    embeddings = model.encode_notes(tokenizer, odd)
    assert torch.isfinite(embeddings).all()
    for note in odd:
        assert len(category_ids(model, tokenizer, note)) < 250  # 20 + 80 + 40 token budgets plus the template


def test_rows_without_labels_give_a_zero_not_nan_generation_loss(tiny):
    model, tokenizer = tiny
    ids = torch.tensor([category_ids(model, tokenizer, TOY_NOTES[0])])
    loss = model(input_ids=ids, labels=torch.full_like(ids, -100)).loss
    assert loss.item() == 0.0 and loss.requires_grad


def test_embedding_only_loading_skips_the_lm_head(tmp_path):
    model, tokenizer = make_model("qwen2")  # untied: the LM head has weights of its own
    model.save_pretrained(tmp_path)
    serving = NoteLLMForEmbeddingAndGeneration.from_pretrained(tmp_path, embedding_only=True)
    head = model.language_model.lm_head.weight.numel()
    assert sum(p.numel() for p in serving.parameters()) == sum(p.numel() for p in model.parameters()) - head
    torch.testing.assert_close(serving.encode_notes(tokenizer, TOY_NOTES), model.encode_notes(tokenizer, TOY_NOTES))
    with pytest.raises(ValueError, match="embedding_only=True"):
        serving.generate_category(tokenizer, TOY_NOTES[:1], categories=["Food"])
