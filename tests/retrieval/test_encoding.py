import numpy as np
import pytest

from notellm_hf import Note, encode_to_shards, iter_shards

from conftest import TOY_NOTES, make_model, read_shards

NOTES = [Note.from_any(n) for n in TOY_NOTES]


def test_shards_hold_the_table_in_order_and_a_rerun_fills_only_missing_ones(tmp_path):
    model, tokenizer = make_model("llama")
    expected = model.encode_notes(tokenizer, NOTES).numpy()
    written = encode_to_shards(model, tokenizer, NOTES, tmp_path, shard_size=3, batch_size=2)
    assert [p.name for p in written] == ["shard-00000.npy", "shard-00001.npy", "shard-00002.npy"]
    embeddings, ids = read_shards(tmp_path)
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)
    assert ids == [n.note_id for n in NOTES]
    # An interrupted run: shard 1 never finished. The rerun writes only that one.
    (tmp_path / "shard-00001.npy").unlink()
    kept = {name: (tmp_path / name).stat().st_mtime_ns for name in ("shard-00000.npy", "shard-00002.npy")}
    assert encode_to_shards(model, tokenizer, NOTES, tmp_path, shard_size=3) == [tmp_path / "shard-00001.npy"]
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in kept} == kept
    np.testing.assert_allclose(read_shards(tmp_path)[0], expected, atol=1e-6)
    assert not list(tmp_path.glob("*.partial"))


def test_processes_take_every_nth_shard(tmp_path):
    model, tokenizer = make_model("llama")
    second = encode_to_shards(model, tokenizer, NOTES, tmp_path, shard_size=2, process_index=1, num_processes=3)
    assert [p.name for p in second] == ["shard-00001.npy"]
    with pytest.raises(ValueError, match="process_index 3"):
        encode_to_shards(model, tokenizer, NOTES, tmp_path, process_index=3, num_processes=3)
    with pytest.raises(FileNotFoundError, match="no embedding shards"):
        next(iter_shards(tmp_path / "empty"))
