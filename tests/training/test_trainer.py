import math
import warnings

import numpy as np
import pytest
import torch

from notellm_hf import ContrastiveSignalWarning, NoteLLMTrainer

from conftest import (
    TOY_NOTES,
    TOY_PAIRS,
    brute_force_avg,
    free_port,
    make_model,
    pair_dataset,
    tiny_trainer,
    tiny_training_args,
)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_thirty_steps_lower_both_loss_components(tmp_path, arch):
    model, tokenizer = make_model(arch)
    trainer = NoteLLMTrainer(
        model=model,
        args=tiny_training_args(tmp_path, alpha=1.0),
        train_dataset=pair_dataset(),
        processing_class=tokenizer,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    assert not [w for w in caught if issubclass(w.category, ContrastiveSignalWarning)]  # it learned: no warning
    logs = [entry for entry in trainer.state.log_history if "loss_contrastive" in entry]
    assert len(logs) == 30
    first, last = logs[:5], logs[-5:]

    def mean(key, rows):
        return sum(r[key] for r in rows) / len(rows)

    # 4 pairs = 8 notes: a random embedding scores about ln(7) per note.
    assert mean("loss_contrastive", first) > 0.5 * math.log(7)
    assert mean("loss_contrastive", last) < 0.5 * mean("loss_contrastive", first)
    assert mean("loss_generation", last) < 0.7 * mean("loss_generation", first)
    assert mean("retrieval_accuracy", last) > mean("retrieval_accuracy", first)
    assert all("logit_scale" in r for r in logs)
    # The joint loss the Trainer logs is (L_cl + alpha L_gen) / (1 + alpha) with alpha = 1.
    r = logs[-1]
    assert r["loss"] == pytest.approx((r["loss_contrastive"] + r["loss_generation"]) / 2, rel=1e-3)


def test_temperature_is_trained_without_weight_decay(tmp_path):
    model, tokenizer = make_model("llama")
    trainer = NoteLLMTrainer(
        model=model,
        args=tiny_training_args(tmp_path, weight_decay=0.1, max_steps=1),
        train_dataset=pair_dataset(),
        processing_class=tokenizer,
    )
    decayed = trainer.get_decay_parameter_names(model)
    assert "logit_scale.tau" not in decayed and "embedding_head.weight" in decayed
    before = model.logit_scale.tau.item()
    trainer.train()
    assert model.logit_scale.tau.item() != before


def test_arguments_are_validated(tmp_path):
    with pytest.raises(ValueError, match="alpha"):
        tiny_training_args(tmp_path, alpha=-1)
    with pytest.raises(ValueError, match="hashtag_ratio"):
        tiny_training_args(tmp_path, hashtag_ratio=2)
    with pytest.raises(ValueError, match="remove_unused_columns"):
        tiny_training_args(tmp_path, remove_unused_columns=True)
    with pytest.raises(ValueError, match="length_sorted_chunk_size must be >= 1"):
        tiny_training_args(tmp_path, length_sorted_chunk_size=0)
    with pytest.raises(ValueError, match="alternatives"):
        tiny_training_args(tmp_path, length_sorted_chunk_size=4, mini_batch_size=4)
    with pytest.raises(ValueError, match="embedding_center_momentum"):
        tiny_training_args(tmp_path, embedding_center_momentum=0)
    with pytest.raises(ValueError, match="lexical_distillation_weight must be in"):
        tiny_training_args(tmp_path, lexical_distillation_weight=-0.5)
    with pytest.raises(ValueError, match="lexical_distillation_scale must be > 0"):
        tiny_training_args(tmp_path, lexical_distillation_scale=0)
    model, tokenizer = make_model("llama")
    with pytest.raises(ValueError, match="processing_class"):
        NoteLLMTrainer(model=model, args=tiny_training_args(tmp_path), train_dataset=pair_dataset())
    with pytest.raises(ValueError, match="needs a teacher"):
        NoteLLMTrainer(
            model=model,
            args=tiny_training_args(tmp_path, lexical_distillation_weight=0.5),
            train_dataset=pair_dataset(),
            processing_class=tokenizer,
        )


def test_recall_evaluator_is_logged_with_evaluation_metrics(tmp_path):
    import pandas as pd

    from notellm_hf.evaluation import RecallEvaluator

    model, tokenizer = make_model("llama")
    dev_pairs = pd.DataFrame({"note_id_a": [a for a, _ in TOY_PAIRS], "note_id_b": [b for _, b in TOY_PAIRS]})
    trainer = NoteLLMTrainer(
        model=model,
        args=tiny_training_args(
            tmp_path, max_steps=2, eval_strategy="steps", eval_steps=2, per_device_eval_batch_size=4
        ),
        train_dataset=pair_dataset(),
        eval_dataset=pair_dataset(1),
        processing_class=tokenizer,
        evaluator=RecallEvaluator(TOY_NOTES, dev_pairs),
    )
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "eval_dev_avg" in entry]
    embeddings = model.encode_notes(tokenizer, TOY_NOTES).numpy()  # the model at step 2, as evaluated
    expected = brute_force_avg(embeddings @ embeddings.T, [n["note_id"] for n in TOY_NOTES], dev_pairs)
    assert len(logged) == 1 and logged[0]["eval_dev_avg"] == pytest.approx(expected)
    assert "eval_loss_contrastive" in logged[0] and "eval_loss" in logged[0], sorted(logged[0])


def test_without_contrastive_loss_only_generation_trains(tmp_path):
    trainer = tiny_trainer(tmp_path, max_steps=3, use_contrastive_loss=False)
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss_contrastive" in entry]
    assert all(r["loss"] == pytest.approx(r["loss_generation"], rel=1e-4) for r in logs)


def test_recall_evaluator_as_a_plain_trainer_callback(tmp_path):
    import pandas as pd
    from transformers import Trainer

    from notellm_hf.evaluation import RecallEvaluator

    model, tokenizer = make_model("llama")
    dev_pairs = pd.DataFrame({"note_id_a": [a for a, _ in TOY_PAIRS], "note_id_b": [b for _, b in TOY_PAIRS]})
    trainer = NoteLLMTrainer(
        model=model,
        args=tiny_training_args(tmp_path, max_steps=1, per_device_eval_batch_size=4),
        eval_dataset=pair_dataset(1),
        processing_class=tokenizer,
        callbacks=[RecallEvaluator(TOY_NOTES, dev_pairs)],
    )
    metrics = Trainer.evaluate(trainer)
    embeddings = model.encode_notes(tokenizer, TOY_NOTES).numpy()
    expected = brute_force_avg(embeddings @ embeddings.T, [n["note_id"] for n in TOY_NOTES], dev_pairs)
    assert metrics["eval_dev_avg"] == pytest.approx(expected)
    assert any("eval_dev_avg" in entry for entry in trainer.state.log_history)


def test_centring_trains_on_the_batch_mean_removed_and_moves_the_running_mean(tmp_path):
    """With center_embeddings the loss is the paper's formula (written out in test_losses) on each batch's head
    outputs minus their own mean, and the serving mean moves by the momentum towards that mean (not in evaluation)."""
    from test_losses import reference_loss

    from notellm_hf import NoteLLMCollator

    model, tokenizer = make_model("llama", center_embeddings=True)
    args = tiny_training_args(tmp_path, alpha=0.0, embedding_center_momentum=0.25)  # alpha 0: the loss is L_cl
    trainer = NoteLLMTrainer(model=model, args=args, processing_class=tokenizer)
    batch = NoteLLMCollator(tokenizer, hashtag_ratio=0.5, seed=3)(list(pair_dataset(1)))
    with torch.no_grad():
        raw = (
            model.train()(**{k: v for k, v in batch.items() if k not in ("note_keys", "query_rows")})
            .embeddings.double()
            .numpy()
        )
    keys, scale = batch["note_keys"].tolist(), model.logit_scale().item()
    loss = trainer.compute_loss(model, dict(batch)).item()
    assert loss == pytest.approx(reference_loss(raw - raw.mean(axis=0), keys, scale), rel=1e-5)
    assert abs(loss - reference_loss(raw, keys, scale)) > 0.05  # centring changes what the loss sees
    expected_center = 0.25 * torch.tensor(raw.mean(axis=0), dtype=torch.float32)
    torch.testing.assert_close(model.embedding_center, expected_center)
    trainer.compute_loss(model.eval(), dict(batch))
    torch.testing.assert_close(model.embedding_center, expected_center)


def test_length_sorted_chunks_sort_rows_and_drop_all_padding_columns():
    from notellm_hf.training.trainer import length_sorted_chunks

    lengths = [5, 2, 7, 3, 2]  # right-padded to 7 columns
    mask = torch.tensor([[1] * n + [0] * (7 - n) for n in lengths])
    ids = torch.arange(35).reshape(5, 7) * mask
    chunks = length_sorted_chunks({"input_ids": ids, "attention_mask": mask, "note_keys": torch.arange(5)}, 2)
    # Lengths 2, 2 | 3, 5 | 7: rows 1, 4 | 3, 0 | 2, each chunk as wide as its longest row.
    assert [rows.tolist() for rows, _ in chunks] == [[1, 4], [3, 0], [2]]
    assert [chunk["input_ids"].shape[1] for _, chunk in chunks] == [2, 5, 7]
    for rows, chunk in chunks:
        assert chunk["note_keys"].tolist() == rows.tolist()
        for row, chunk_row in zip(rows.tolist(), range(len(rows)), strict=True):
            assert chunk["input_ids"][chunk_row, : lengths[row]].tolist() == ids[row, : lengths[row]].tolist()
            assert chunk["attention_mask"][chunk_row].sum().item() == lengths[row]


@pytest.mark.parametrize("chunking", ["mini_batch_size", "length_sorted_chunk_size"])
@pytest.mark.parametrize("variant", ["full", "lora", "top_layer", "negatives", "centred"])
def test_chunked_steps_give_the_full_batch_gradients(tmp_path, variant, chunking):
    """GradCache and the length-sorted forward both equal one step over the padded batch (with centring too: the
    chunks must be centred on the whole batch's mean, not their own)."""
    import copy

    from notellm_hf import NoteLLMCollator, apply_lora
    from notellm_hf.training.partial_finetuning import freeze_bottom_layers

    model, tokenizer = make_model("qwen2", center_embeddings=variant == "centred")
    if variant == "lora":
        model = apply_lora(model, r=4, lora_alpha=8)
        with torch.no_grad():  # non-zero adapters, so their gradients are not trivially equal
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.05)
    features = list(pair_dataset(1))
    if variant == "negatives":  # one hard negative per pair: 8 query rows + 4 candidate-only rows
        for feature in features:
            note = feature["positive"]
            feature["negatives"] = [{**note, "note_id": note["note_id"] + "-neg", "title": note["content"]}]
    batch = NoteLLMCollator(tokenizer, hashtag_ratio=0.5, seed=3)(features)
    lengths = batch["attention_mask"].sum(dim=1)
    assert lengths.min() < lengths.max()  # so the chunks drop padding columns
    grads = []
    twin_settings = {chunking: 3}  # 8 notes in chunks of 3, 3, 2 (12 with negatives)
    if variant == "top_layer":  # the reference runs the frozen layer each time; the twin replays it from the cache
        freeze_bottom_layers(model, 1)
        twin_settings["trainable_layers"] = 1
    twin = copy.deepcopy(model)
    for net, settings in ((model, {}), (twin, twin_settings)):
        trainer = NoteLLMTrainer(
            model=net, args=tiny_training_args(tmp_path, alpha=0.5, **settings), processing_class=tokenizer
        )
        trainer.current_gradient_accumulation_steps = 1
        loss = trainer.training_step(net, dict(batch))
        grads.append(({n: p.grad.clone() for n, p in net.named_parameters() if p.requires_grad}, loss.item()))
    if variant == "top_layer":  # GradCache's pass 1 ran the frozen layer once per note, its pass 2 replayed it
        hits = 8 if chunking == "mini_batch_size" else 0
        assert (trainer.prefix_cache.misses, trainer.prefix_cache.hits) == (8, hits)
    (full, full_loss), (cached, cached_loss) = grads
    if variant == "centred":
        torch.testing.assert_close(twin.embedding_center, model.embedding_center)
        assert model.embedding_center.abs().sum() > 0  # the batch mean moved the running mean
    assert cached_loss == pytest.approx(full_loss, rel=1e-5)
    assert full.keys() == cached.keys() and any("logit_scale" in n for n in full)
    # Centring the tiny model's nearly equal outputs divides by their small spread (gradients up to ~50), which
    # scales float32 rounding as well: agreement is judged relative to the largest gradient.
    atol = 1e-5 * max(1.0, max(grad.abs().max().item() for grad in full.values()))
    for name in full:
        torch.testing.assert_close(cached[name], full[name], atol=atol, rtol=1e-4, msg=lambda m, n=name: f"{n}: {m}")


def _chunked_step_rank(rank: int, port: int, queue) -> None:
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2"
    )
    os.environ.update(LOCAL_WORLD_SIZE="2", ACCELERATE_USE_CPU="true")
    import tempfile

    from notellm_hf import NoteLLMCollator

    grads = {}
    for chunking in (None, "mini_batch_size", "length_sorted_chunk_size"):
        model, tokenizer = make_model("qwen2")  # seeded: identical on both ranks
        settings = {} if chunking is None else {chunking: 3}
        args = tiny_training_args(tempfile.mkdtemp(), alpha=0.5, **settings)
        trainer = NoteLLMTrainer(model=model, args=args, processing_class=tokenizer)
        wrapped = trainer.accelerator.prepare_model(model)
        trainer.current_gradient_accumulation_steps = 1
        pairs = list(pair_dataset(1))[2 * rank : 2 * rank + 2]  # each rank holds 2 of the 4 pairs
        batch = NoteLLMCollator(tokenizer, hashtag_ratio=0.5, seed=3)(pairs)
        trainer.training_step(wrapped, dict(batch))
        grads[chunking] = {n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.requires_grad}
    queue.put((rank, args.world_size, grads))


def test_chunked_steps_across_two_processes_equal_the_plain_data_parallel_step():
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    port = free_port()
    workers = [context.Process(target=_chunked_step_rank, args=(rank, port, queue)) for rank in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(r[1] for r in results) == [2, 2], "expected world_size == 2"
    for _, _, grads in results:
        plain = grads[None]
        for chunking in ("mini_batch_size", "length_sorted_chunk_size"):
            chunked = grads[chunking]
            assert plain.keys() == chunked.keys()
            for name in plain:  # DDP-averaged gradients, negatives gathered from both ranks in every step
                np.testing.assert_allclose(
                    chunked[name], plain[name], atol=1e-5, rtol=1e-4, err_msg=f"{chunking} {name}"
                )
            # Both ranks step with the same averaged gradient.
            weights = [r[2][chunking]["embedding_head.weight"] for r in results]
            np.testing.assert_allclose(weights[0], weights[1])


def test_tau_and_head_take_their_own_learning_rates(tmp_path):
    trainer = tiny_trainer(tmp_path, max_steps=1, learning_rate=1e-3, tau_lr_multiplier=100, head_lr_multiplier=10)
    model = trainer.model
    tau, head = model.logit_scale.tau.item(), model.embedding_head.weight.detach().clone()
    trainer.train()
    # Adam's first step moves each parameter by lr * sign(gradient) (no weight decay on tau): 1e-3 * 100 and 1e-3 * 10.
    assert abs(model.logit_scale.tau.item() - tau) == pytest.approx(0.1, rel=1e-3)
    moved = (model.embedding_head.weight.detach() - head).abs()
    assert moved.max().item() == pytest.approx(1e-2, rel=1e-3)
    with pytest.raises(ValueError, match="tau_lr_multiplier must be > 0"):
        tiny_training_args(tmp_path, tau_lr_multiplier=0)


def test_a_fixed_tau_does_not_move(tmp_path):
    trainer = tiny_trainer(tmp_path, max_steps=3, fix_tau=True)
    trainer.train()
    assert trainer.model.logit_scale.tau.item() == pytest.approx(trainer.model.config.initial_tau)


@pytest.mark.parametrize("native", [True, False])
def test_auto_bf16_follows_the_cpu(tmp_path, monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    assert tiny_training_args(tmp_path, auto_bf16=True).bf16 is native
    assert tiny_training_args(tmp_path, auto_bf16=False).bf16 is False


@pytest.mark.parametrize(("budget", "steps"), [(0.0, 1), (3600.0, 4)])
def test_a_wall_time_budget_stops_training_after_the_step_that_spends_it(tmp_path, budget, steps):
    trainer = tiny_trainer(tmp_path, max_steps=4, max_train_seconds=budget)
    trainer.train()
    assert trainer.state.global_step == steps


def test_a_negative_time_budget_is_a_named_error(tmp_path):
    with pytest.raises(ValueError, match="max_train_seconds must be >= 0"):
        tiny_training_args(tmp_path, max_train_seconds=-1)
