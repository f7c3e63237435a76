import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer, TrainerCallback

from notellm_hf import ContrastiveSignalWarning, Note
from notellm_hf.training import note_key
from notellm_hf.training.head_init import pair_canonical_head, readout_states
from notellm_hf.training.recipe import parse_recipe_args, train, train_in_child_process

from conftest import REPO_ROOT as ROOT
from conftest import TOY_NOTES, TOY_PAIRS, tiny_overrides

CONFIGS = sorted(ROOT.glob("recipes/*/config_*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{c.parent.name}/{c.name}" for c in CONFIGS])
def test_every_config_parses_and_dry_runs_with_a_tiny_model(config, toy, tmp_path):
    # The tiny backbone has 2 layers: partial fine-tuning configs keep the top one trainable.
    partial = ["--trainable_layers", "1"] if "trainable_layers:" in config.read_text() else []
    # A pca head needs more training notes than dimensions: the toy set has 8.
    dim = 4 if "embedding_head_init: pca" in config.read_text() else 16
    argv = ["--config", str(config), *tiny_overrides(toy, tmp_path), *partial, "--embedding_dim", str(dim)]
    trainer = train(*parse_recipe_args(argv))
    assert trainer.state.global_step == 2
    assert (trainer.prefix_cache is not None) == bool(partial)
    model = AutoModel.from_pretrained(tmp_path / "model", trust_remote_code=True)
    assert model.config.embedding_dim == dim
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["world_size"] == 1 and any("eval_dev_avg" in entry for entry in info["log_history"])
    if partial:
        # Every row passes the frozen prefix once: 2 steps x 4 pairs x 2 notes, plus the 4 dev pairs per evaluation.
        evaluations = sum("eval_dev_avg" in entry for entry in info["log_history"])
        rows = 2 * 4 * 2 + evaluations * len(TOY_PAIRS) * 2
        assert info["prefix_cache"]["hits"] + info["prefix_cache"]["misses"] == rows
        assert info["prefix_cache"]["misses"] > 0 and info["prefix_cache"]["bytes"] > 0
    else:
        assert info["prefix_cache"] is None


def test_pairs_are_built_from_clicks_with_the_configured_thresholds(toy, tmp_path):
    train(*parse_recipe_args(tiny_overrides(toy, tmp_path, source="clicks") + ["--pairs_lower", "0.0"]))
    assert json.loads((tmp_path / "run_info.json").read_text())["train_pairs"] == 4


def test_length_grouped_batches_sort_pairs_by_their_longer_prompt(toy, tmp_path):
    overrides = ["--train_sampling_strategy", "group_by_length", "--hashtag_ratio", "0", "--eval_strategy", "no"]
    # 16 pairs in batches of 2: the sampler sorts megabatches of 4 pairs (2 batches) longest first.
    overrides += ["--per_device_train_batch_size", "2"]
    trainer = train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    longer = []
    for batch in trainer.get_train_dataloader():
        half = batch["attention_mask"].shape[0] // 2
        rows = batch["attention_mask"].sum(1)
        longer += torch.maximum(rows[:half], rows[half:]).tolist()
    assert len(longer) == 16 and len(set(longer)) > 1
    for start in range(0, 16, 4):
        assert longer[start : start + 4] == sorted(longer[start : start + 4], reverse=True)


def test_strong_pairs_first_opens_with_the_pairs_file_strongest_pairs(toy, tmp_path):
    # 16 rows (the toy pairs x 4); the guitar-piano rows score highest, so the first 2 steps of 2 pairs hold them.
    scored = pd.DataFrame(TOY_PAIRS * 4, columns=["note_id_a", "note_id_b"])
    scored["score"] = [3.0 if a == "guitar" else 1.0 for a in scored.note_id_a]
    scored.to_csv(tmp_path / "scored.csv", index=False)
    overrides = ["--pairs", str(tmp_path / "scored.csv"), "--strong_pairs_first_steps", "2", "--eval_strategy", "no"]
    overrides += ["--per_device_train_batch_size", "2"]
    trainer = train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    anchors = [batch["note_keys"][:2].tolist() for batch in trainer.get_train_dataloader()]
    assert anchors[:2] == [[note_key("guitar")] * 2] * 2
    assert note_key("guitar") not in sum(anchors[2:], [])


def test_unknown_or_mistyped_keys_fail_before_any_model_loads(toy, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model_name_or_path: /nonexistent\nlearning_rat: 0.1\n")
    with pytest.raises(ValueError, match="learning_rat"):
        parse_recipe_args(["--config", str(config)])
    with pytest.raises(SystemExit):
        parse_recipe_args(["--model_name_or_path", "/nonexistent", "--max_steps", "many"])
    assert "max_steps" in capsys.readouterr().err
    with pytest.raises(ValueError, match="exactly one of clicks or pairs"):
        train(
            *parse_recipe_args(
                ["--model_name_or_path", "/nonexistent", "--notes", "n.jsonl", "--output_dir", str(tmp_path)]
            )
        )
    both = ["--model_name_or_path", "/nonexistent", "--use_peft", "--trainable_layers", "4"]
    with pytest.raises(ValueError, match="pick one"):  # a missing model would fail later, not here
        train(*parse_recipe_args(both + ["--benchmark", str(tmp_path), "--output_dir", str(tmp_path)]))


class StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def test_resumed_training_reaches_the_same_weights(toy, tmp_path):
    common = tiny_overrides(toy, tmp_path / "x") + [
        "--eval_strategy",
        "no",
        "--max_steps",
        "6",
        "--hashtag_ratio",
        "0.5",
    ]
    straight = parse_recipe_args(common[:] + ["--output_dir", str(tmp_path / "straight")])
    train(*straight)
    interrupted = parse_recipe_args(
        common + ["--output_dir", str(tmp_path / "resumed"), "--save_strategy", "steps", "--save_steps", "3"]
    )
    train(*interrupted, callbacks=[StopAt(3)])  # killed right after the step-3 checkpoint
    resumed = parse_recipe_args(
        common
        + [
            "--output_dir",
            str(tmp_path / "resumed"),
            "--resume_from_checkpoint",
            str(tmp_path / "resumed" / "checkpoint-3"),
        ]
    )
    train(*resumed)
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0)


def test_a_run_without_a_hold_starts_over_from_the_initial_model_with_the_next_data_order(toy, tmp_path):
    # A margin no loss can meet: the check at step 2 stops the first try, the second (the last, max_restarts 1)
    # trains to the end. It must equal a plain run with data_seed + 1: same initial model, that order.
    common = tiny_overrides(toy, tmp_path / "x") + ["--eval_strategy", "no", "--max_steps", "4", "--seed", "7"]
    common += ["--per_device_train_batch_size", "2"]
    restarted = ["--hold_check_steps", "2", "--hold_margin", "100", "--max_restarts", "1"]
    with pytest.warns(ContrastiveSignalWarning):  # the tiny model's loss stays at its random level
        trainer = train(*parse_recipe_args(common + restarted + ["--output_dir", str(tmp_path / "restarted")]))
    assert trainer.state.global_step == 4 and trainer.hold_check.held is False
    info = json.loads((tmp_path / "restarted" / "run_info.json").read_text())
    assert info["data_seed"] == 8 and [(r["data_seed"], r["steps"]) for r in info["restarts"]] == [(7, 2)]
    with pytest.warns(ContrastiveSignalWarning):
        train(*parse_recipe_args(common + ["--data_seed", "8", "--output_dir", str(tmp_path / "plain")]))
    a = load_file(tmp_path / "restarted" / "model" / "model.safetensors")
    b = load_file(tmp_path / "plain" / "model" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0)


def test_two_cpu_processes_train_data_parallel(toy, tmp_path):
    argv = tiny_overrides(toy, tmp_path) + ["--eval_strategy", "no", "--per_device_train_batch_size", "2"]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ROOT / "recipes/accelerate_configs/ddp.yaml"),
        "--num_processes",
        "2",
        "--mixed_precision",
        "no",
        str(ROOT / "recipes/train.py"),
        *argv,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["world_size"] == 2  # a silent single-process fallback fails here
    steps = [entry for entry in info["log_history"] if "contrastive_candidates" in entry]
    # 2 pairs per process = 4 notes each: every query is scored against both processes' 8 notes.
    assert steps and all(entry["contrastive_candidates"] == 8 for entry in steps)


def test_hard_negatives_are_mined_and_reach_the_batches(toy, tmp_path):
    overrides = ["--hard_negatives", "1", "--hard_negative_margin", "0.0", "--eval_strategy", "no"]
    trainer = train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    negatives = trainer.train_dataset["negatives"]
    pairs = zip(trainer.train_dataset["anchor"], trainer.train_dataset["positive"], strict=True)
    related = {frozenset(pair) for pair in TOY_PAIRS}
    assert all(len(n) == 1 and frozenset((a, n[0])) not in related for (a, _), n in zip(pairs, negatives, strict=True))
    batch = next(iter(trainer.get_train_dataloader()))
    assert int(batch["query_rows"]) == 8 and batch["input_ids"].shape[0] == 12  # 4 pairs + 4 negatives
    with pytest.raises(ValueError, match="hard_negatives and hard_negative_margin must be >= 0"):
        train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + ["--hard_negatives", "-1"]))


def test_a_hard_negatives_file_reaches_the_batches_and_bad_ones_fail_before_training(toy, tmp_path):
    # Every toy pair gets the first note of the next pair as its negative (never related to it).
    rows = [(a, b, TOY_PAIRS[(i + 1) % len(TOY_PAIRS)][0]) for i, (a, b) in enumerate(TOY_PAIRS)]
    path = tmp_path / "negatives.jsonl"
    pd.DataFrame(rows, columns=["note_id_a", "note_id_b", "negative"]).to_json(path, orient="records", lines=True)
    overrides = tiny_overrides(toy, tmp_path) + ["--hard_negatives_file", str(path), "--eval_strategy", "no"]
    trainer = train(*parse_recipe_args(overrides))
    expected = {(a, b): [n] for a, b, n in rows}
    dataset = trainer.train_dataset
    assert [expected[a, b] for a, b in zip(dataset["anchor"], dataset["positive"], strict=True)] == dataset["negatives"]
    batch = next(iter(trainer.get_train_dataloader()))
    assert int(batch["query_rows"]) == 8 and batch["input_ids"].shape[0] == 12  # 4 pairs + 4 negatives
    pd.DataFrame([("pasta", "pizza", "nowhere")], columns=["note_id_a", "note_id_b", "negative"]).to_csv(
        tmp_path / "bad.csv", index=False
    )
    started = []

    class Started(TrainerCallback):
        def on_train_begin(self, *args, **kwargs):
            started.append(True)

    bad = tiny_overrides(toy, tmp_path / "bad") + ["--hard_negatives_file", str(tmp_path / "bad.csv")]
    with pytest.raises(ValueError, match="row 1, negative: note 'nowhere' is not in the note table"):
        train(*parse_recipe_args(bad), callbacks=[Started()])
    assert not started and not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="hard_negatives .* or hard_negatives_file, not both"):
        train(*parse_recipe_args(overrides + ["--hard_negatives", "1"]))


def test_the_recipe_starts_the_head_from_the_principal_directions(toy, tmp_path):
    overrides = ["--embedding_head_init", "pca", "--embedding_dim", "3", "--max_steps", "1", "--learning_rate", "0"]
    trainer = train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides + ["--eval_strategy", "no"]))
    weight = trainer.model.embedding_head.weight.detach().double()
    # Refit by hand (lr 0 leaves the model as initialised): the training pairs hold all 8 toy notes.
    states = readout_states(trainer.model, trainer.processing_class, TOY_NOTES).double()
    mean = states.mean(0)
    top = torch.linalg.svd(states - mean, full_matrices=False).Vh[:3]
    unit = mean / mean.norm()
    expected = top - (top @ unit)[:, None] * unit[None, :]
    torch.testing.assert_close(weight.abs(), expected.abs(), atol=1e-4, rtol=1e-3)


def test_the_recipe_starts_the_pair_head_from_the_training_pairs(toy, tmp_path):
    overrides = ["--embedding_head_init", "pair_cca", "--embedding_dim", "3", "--max_steps", "1"]
    overrides += ["--learning_rate", "0", "--eval_strategy", "no"]
    trainer = train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    weight = trainer.model.embedding_head.weight.detach().double()
    # Refit by hand (lr 0 leaves the model as initialised): the default 512 notes cover every training pair, and the
    # fit's sums do not depend on the pairs' order.
    pairs = trainer.train_dataset
    by_id = {note["note_id"]: note for note in TOY_NOTES}
    anchors, positives = (
        readout_states(trainer.model, trainer.processing_class, [by_id[i] for i in pairs[side]])
        for side in ("anchor", "positive")
    )
    expected = pair_canonical_head(anchors, positives, 3)
    torch.testing.assert_close(weight.abs(), expected.abs(), atol=1e-4, rtol=1e-3)


def test_the_field_order_flag_reaches_the_saved_models_prompt(toy, tmp_path):
    overrides = ["--field_order", "topic", "content", "title", "--max_steps", "1", "--eval_strategy", "no"]
    train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    model = AutoModel.from_pretrained(tmp_path / "model", trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    text = model.note_prompt.embedding_text(tokenizer, Note("n", title="T", content="C", hashtags=["h"]))
    assert text.endswith('{"topic": "h", "content": "C", "title": "T"} The compression word is:"[EMB]')


def test_training_in_a_child_process_logs_every_step_and_saves_the_model(toy, tmp_path):
    # A data-loader worker too: the child must be allowed children of its own (a Pool's daemonic worker is not).
    overrides = ["--dataloader_num_workers", "1"]
    log = train_in_child_process(parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    assert [row["step"] for row in log if "loss_contrastive" in row and "eval_loss" not in row] == [1, 2]
    assert log[-1]["step"] == 2 and "train_runtime" in log[-1]
    assert (tmp_path / "model" / "model.safetensors").exists() and (tmp_path / "run_info.json").exists()


ORPHANED_WORKER = """
import os
import time
from notellm_hf.training.recipe import training_executor

executor = training_executor()
print(executor.submit(os.getpid).result(), flush=True)
executor.submit(time.sleep, 120)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    """False once ``pid`` has exited, reaped or not (a zombie waits for a reaper that may be slow)."""
    if Path("/proc").is_dir():
        try:
            return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_training_child_exits_when_its_parent_is_killed():
    # The parent is killed with SIGKILL while its worker runs a two-minute task: the worker must not outlive it.
    parent = subprocess.Popen([sys.executable, "-c", ORPHANED_WORKER], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert _running(worker)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = _running(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)
    assert not alive, "the training child kept running after its parent was killed"


def test_the_recipe_fits_the_lexical_block_on_the_training_notes_before_training(toy, tmp_path):
    overrides = ["--lexical_block_weight", "0.3", "--max_steps", "1", "--learning_rate", "0", "--eval_strategy", "no"]
    trainer = train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    model = AutoModel.from_pretrained(tmp_path / "model", trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert model.config.lexical_block_weight == 0.3
    # The training pairs hold all 8 toy notes: a token in 2 of them weighs log(8 / 2).
    prompt = model.note_prompt
    documents = [set(prompt.embedding_input_ids(tokenizer, Note.from_any(note))) for note in TOY_NOTES]
    counts = {token: sum(token in d for d in documents) for token in set().union(*documents)}
    token = next(t for t, count in sorted(counts.items()) if count == 2)
    assert model.token_idf[token].item() == pytest.approx(torch.log(torch.tensor(4.0)).item(), abs=1e-6)
    embeddings = model.encode_notes(tokenizer, TOY_NOTES)
    assert embeddings.shape[1] == model.config.embedding_dim + model.config.text_config.hidden_size
    assert trainer.state.global_step == 1


def test_lexical_distillation_fits_its_teacher_on_the_training_notes_and_logs_both_losses(toy, tmp_path):
    # The tiny recipe evaluates at step 2: evaluation batches score the paper's loss (the teacher knows training notes).
    overrides = ["--lexical_distillation_weight", "0.5", "--max_steps", "2", "--logging_steps", "1"]
    trainer = train(*parse_recipe_args(tiny_overrides(toy, tmp_path) + overrides))
    teacher = trainer.contrastive_loss.teacher
    assert trainer.contrastive_loss.teacher_weight == 0.5
    assert sorted(teacher.index.note_ids) == sorted({note for pair in TOY_PAIRS for note in pair})
    logged = [row for row in trainer.state.log_history if "loss_contrastive" in row]
    assert len(logged) == 2 and all(row["loss_lexical_distillation"] > 0 for row in logged)
    evaluated = [row for row in trainer.state.log_history if "eval_loss_contrastive" in row]
    assert len(evaluated) == 1 and "eval_loss_lexical_distillation" not in evaluated[0]
