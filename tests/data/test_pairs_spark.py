"""The Spark engine gives the DuckDB engine's pairs (checked against DuckDB and the exact-fraction reference), on a
local Spark session."""

import importlib.util
import random

import pandas as pd
import pytest

from notellm_hf.cli import main
from notellm_hf.data import pairs_spark
from notellm_hf.data.pairs import build_cooccurrence_pairs

from conftest import reference_pairs

COLUMNS = ["user_id", "note_id", "timestamp"]


@pytest.fixture(scope="module")
def spark():
    session = pairs_spark.local_spark_session("local[2]")
    yield session
    session.stop()


def random_log(seed, users=40, notes=20, clicks=300):
    """Timestamps from a small range (ties), plus users with a single click or one note clicked twice."""
    rng = random.Random(seed)
    log = [(rng.randrange(users), f"n{rng.randrange(notes):02d}", rng.randrange(30)) for _ in range(clicks)]
    return log + [(1000, "n00", 5), (1001, "n03", 1), (1001, "n03", 9)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "options",
    [dict(), dict(ordered=False), dict(max_history=4), dict(top_t=2, lower=0.05, upper=0.6), dict(lower=0.0)],
)
def test_spark_gives_the_duckdb_pairs(spark, seed, options):
    log = random_log(seed)
    frame = pd.DataFrame(log, columns=COLUMNS)
    got = build_cooccurrence_pairs(frame, engine="spark", spark=spark, **options)
    pd.testing.assert_frame_equal(got, build_cooccurrence_pairs(frame, **options))
    assert list(got.itertuples(index=False, name=None)) == reference_pairs(log, **options)


def test_files_integer_ids_and_unknown_notes(spark, tmp_path):
    frame = pd.DataFrame(random_log(5), columns=COLUMNS)
    frame["note_id"] = frame.note_id.str[1:].astype("int64")  # integer ids keep their type and order
    frame.to_parquet(tmp_path / "clicks.parquet")
    frame.to_csv(tmp_path / "clicks.csv", index=False)
    expected = build_cooccurrence_pairs(frame)
    for source in (tmp_path / "clicks.parquet", tmp_path / "clicks.csv"):
        pd.testing.assert_frame_equal(build_cooccurrence_pairs(source, engine="spark", spark=spark), expected)
    known = sorted(set(frame.note_id) - {0})
    with pytest.raises(ValueError, match=r"clicks name notes missing from the note table \(e.g. 0\)"):
        build_cooccurrence_pairs(frame, engine="spark", spark=spark, known_note_ids=known)
    dropped = build_cooccurrence_pairs(frame, engine="spark", spark=spark, known_note_ids=known, on_unknown="drop")
    pd.testing.assert_frame_equal(dropped, build_cooccurrence_pairs(frame[frame.note_id != 0]))
    assert dropped.attrs["dropped_clicks"] == int((frame.note_id == 0).sum())


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"user_id": [1], "note_id": ["a"]}), r"missing click columns \['timestamp'\]"),
        (
            pd.DataFrame({"user_id": [1, 1], "note_id": ["a", "b"], "timestamp": [1, None]}),
            "1 clicks have no timestamp",
        ),
        (pd.DataFrame({"user_id": [], "note_id": [], "timestamp": []}), "empty"),
    ],
)
def test_bad_logs_fail_as_on_duckdb(spark, frame, message):
    with pytest.raises(ValueError, match=message):
        build_cooccurrence_pairs(frame, engine="spark", spark=spark)


def test_missing_spark_or_java_is_named(monkeypatch):
    frame = pd.DataFrame(random_log(0), columns=COLUMNS)
    with pytest.raises(ValueError, match="unknown pair engine 'flink'"):
        build_cooccurrence_pairs(frame, engine="flink")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "pyspark" else real_find_spec(name))
    with pytest.raises(RuntimeError, match="pip install 'notellm-hf\\[spark\\]'"):
        build_cooccurrence_pairs(frame, engine="spark")
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    monkeypatch.setattr(pairs_spark.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError, match="needs a Java runtime"):
        pairs_spark.require_spark()


def test_cli_pairs_on_spark_writes_the_duckdb_file(spark, tmp_path):
    pd.DataFrame(random_log(2), columns=COLUMNS).to_parquet(tmp_path / "clicks.parquet")
    outputs = {engine: tmp_path / f"pairs-{engine}.jsonl" for engine in ("duckdb", "spark")}
    for engine, out in outputs.items():
        assert main(["pairs", str(tmp_path / "clicks.parquet"), str(out), "--engine", engine]) == 0
    assert outputs["spark"].read_text() == outputs["duckdb"].read_text()
    assert len(outputs["spark"].read_text().splitlines()) > 50
