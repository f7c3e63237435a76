import json

import numpy as np
import pytest

from notellm_hf.cli import main

from conftest import (
    REPO_ROOT,
    TOY_NOTES,
    build_tokenizer,
    free_port,
    read_shards,
    saved_model,
    tiny_backbone,
    toy_benchmark_set,
    user_notes,
)


@pytest.fixture
def model_dir(tmp_path):
    return saved_model(tmp_path / "model")


def write_notes(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def encode_argv(folder, notes, out, *extra):
    # fp32: the tests compare with fp32 encodings (bf16 where native is the default: tests/test_precision.py).
    return [
        "encode",
        "--model",
        str(folder),
        "--notes",
        str(notes),
        "--output",
        str(out),
        "--precision",
        "fp32",
        *extra,
    ]


def test_two_processes_split_the_shards_and_the_index_builds_from_them(tmp_path, model_dir):
    import os
    import subprocess
    import sys

    from notellm_hf import NoteIndex

    folder, model, tokenizer = model_dir
    notes = write_notes(tmp_path / "notes.jsonl", TOY_NOTES)
    out = tmp_path / "emb"
    config = REPO_ROOT / "recipes" / "accelerate_configs" / "ddp.yaml"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), "--num_processes", "2"]
    launch += ["-m", "notellm_hf.cli", *encode_argv(folder, notes, out, "--shard-size", "2")]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(launch, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    # Four shards of two notes: process 0 takes 0 and 2, process 1 takes 1 and 3 (a 1-process run would not).
    assert "process 0/2 wrote ['shard-00000.npy', 'shard-00002.npy']" in result.stdout
    assert "process 1/2 wrote ['shard-00001.npy', 'shard-00003.npy']" in result.stdout
    embeddings, ids = read_shards(out)
    np.testing.assert_allclose(embeddings, model.encode_notes(tokenizer, TOY_NOTES).numpy(), atol=1e-6)
    assert main(["index", str(out), str(tmp_path / "index")]) == 0
    index = NoteIndex.load(tmp_path / "index")
    scores, hits = index.search(embeddings[:1], 3)
    brute = np.argsort(-(embeddings @ embeddings[0]))[:3]
    assert hits[0] == [ids[i] for i in brute]


def test_generate_category_respects_the_closed_list(tmp_path, model_dir, capsys):
    folder, _, _ = model_dir
    notes = write_notes(tmp_path / "notes.jsonl", TOY_NOTES[:3])
    assert main(["generate", "--model", str(folder), "--notes", str(notes), "--categories", "Food,Travel"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["note_id"] for r in rows] == ["pasta", "pizza", "hike"]
    assert {r["category"] for r in rows} <= {"Food", "Travel"}


def test_generate_hashtags_within_a_vocabulary_file(tmp_path, model_dir, capsys):
    folder, _, _ = model_dir
    notes = write_notes(tmp_path / "notes.jsonl", TOY_NOTES[:3])
    (tmp_path / "tags.txt").write_text("pasta\n\ntravel tips\nmusic\n")
    command = ["generate", "--model", str(folder), "--notes", str(notes), "--task", "hashtags", "--num-hashtags", "2"]
    assert main([*command, "--hashtag-vocabulary", str(tmp_path / "tags.txt")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(len(set(r["hashtags"])) == 2 and set(r["hashtags"]) <= {"pasta", "travel tips", "music"} for r in rows)
    (tmp_path / "empty.txt").write_text("\n")
    assert main([*command, "--hashtag-vocabulary", str(tmp_path / "empty.txt")]) == 2
    assert "empty.txt holds no tags" in capsys.readouterr().err


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


@pytest.mark.parametrize("command", ["generate", "encode", "evaluate"])
def test_a_folder_that_is_not_a_notellm_model_exits_2_with_a_named_error(tmp_path, capsys, command):
    tokenizer = build_tokenizer()
    tiny_backbone("llama", len(tokenizer)).save_pretrained(tmp_path / "plain")
    tokenizer.save_pretrained(tmp_path / "plain")
    notes = write_notes(tmp_path / "notes.jsonl", TOY_NOTES[:2])
    argv = {
        "generate": ["generate", "--model", str(tmp_path / "plain"), "--notes", str(notes)],
        "encode": encode_argv(tmp_path / "plain", notes, tmp_path / "emb"),
        "evaluate": [
            "evaluate",
            "--model",
            str(tmp_path / "plain"),
            "--data",
            str(toy_benchmark_set(tmp_path / "set")),
        ],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is not a NoteLLM model: its model_type is 'llama'" in err and "Traceback" not in err
    assert not (tmp_path / "emb").exists() or not list((tmp_path / "emb").iterdir())


def test_your_own_data_from_a_click_log_to_recommendations(tmp_path, capsys):
    """The README's "Your own data" sequence: prepare custom -> train -> evaluate -> encode/index -> recommend."""
    notes, clicks = user_notes()
    notes.to_json(tmp_path / "notes.jsonl", orient="records", lines=True)
    clicks.to_csv(tmp_path / "clicks.csv", index=False)
    data = tmp_path / "set"
    prepare = ["data", "prepare", "custom", "--notes", str(tmp_path / "notes.jsonl"), "--clicks"]
    assert main([*prepare, str(tmp_path / "clicks.csv"), "--out", str(data), "--lower", "0"]) == 0
    assert "time split" in capsys.readouterr().out
    tokenizer = build_tokenizer()
    tiny_backbone("llama", len(tokenizer)).save_pretrained(tmp_path / "backbone")
    tokenizer.save_pretrained(tmp_path / "backbone")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"model_name_or_path: {tmp_path / 'backbone'}\nbenchmark: {data}\noutput_dir: {tmp_path / 'run'}\n"
        "dtype: float32\nembedding_dim: 8\nmax_steps: 2\nper_device_train_batch_size: 4\nuse_cpu: true\n"
        "report_to: none\nsave_strategy: 'no'\neval_strategy: 'no'\n"
    )
    assert main(["train", "--config", str(config), "--learning_rate", "1e-3"]) == 0
    model = tmp_path / "run" / "model"
    report = tmp_path / "evaluation"
    evaluate = ["evaluate", "--model", str(model), "--data", str(data), "--baselines", "popularity,minilm"]
    assert main([*evaluate, "--out", str(report), "--generation-notes", "2", "--resamples", "50"]) == 0
    rows = set(json.loads((report / "results.json").read_text())["results"])
    assert rows == {"NoteLLM", "popularity", "minilm"}
    assert (
        main(
            ["encode", "--model", str(model), "--notes", str(data / "notes.parquet"), "--output", str(tmp_path / "emb")]
        )
        == 0
    )
    assert main(["index", str(tmp_path / "emb"), str(tmp_path / "index")]) == 0
    capsys.readouterr()
    recommend = ["recommend", "--index", str(tmp_path / "index"), "--note-id", "n05", "--catalog", str(data)]
    assert main([*recommend, "--model", str(model), "-k", "3", "--generate", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (
        record["note_id"] == "n05"
        and len(record["related"]) == 3
        and "n05" not in {h["note_id"] for h in record["related"]}
    )
    assert record["related"][0]["title"].startswith("note ") and "category" in record
    assert main([*recommend, "-k", "3", "--json", "--lexical-weight", "0.4"]) == 0  # hybrid ranking
    hybrid = json.loads(capsys.readouterr().out)
    assert len(hybrid["related"]) == 3 and "n05" not in {h["note_id"] for h in hybrid["related"]}
    assert main(["recommend", "--index", str(tmp_path / "index"), "--note-id", "missing"]) == 2
    assert "note 'missing' is not in the index" in capsys.readouterr().err


def test_explore_serves_the_page_until_stopped(tmp_path, model_dir):
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    folder = model_dir[0]
    data = toy_benchmark_set(tmp_path / "set")
    port = free_port()
    command = [sys.executable, "-m", "notellm_hf.cli", "explore", "--model", str(folder), "--data", str(data)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([*command, "--port", str(port), "-k", "2"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline, page = time.time() + 120, None
        while page is None and time.time() < deadline and server.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                time.sleep(1)
        assert page is not None, server.stderr.read() if server.poll() is not None else "no answer in 120 s"
        assert '"title":"NoteLLM explorer"' in page
    finally:
        server.terminate()
        server.wait(timeout=30)
