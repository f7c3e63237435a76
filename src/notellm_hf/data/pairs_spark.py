"""The co-occurrence pair builder on Spark DataFrames: the DuckDB engine's pairs, for click logs that outgrow one
machine.

The same plan as the DuckDB engine, in DataFrame operations only (no Python UDF on the hot path): per user and note
the first and last click, ``w = 1 / N_i`` per user, a self-join on the user (ordered: first click on A before the
last click on B), a sum per (A, B) rounded to ``SCORE_DECIMALS``, the thresholds, and the top-t per query note by a
window partitioned by A. On a cluster the join and the window shuffle by user and by query note, as the DuckDB
engine splits its aggregate by query note; only the kept pairs are collected to the driver.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from .clicks import CLICK_COLUMNS, CLICK_SUFFIXES, SCORE_DECIMALS, check_click_columns, check_click_counts
from .io import table_suffix

logger = logging.getLogger(__name__)


def require_spark() -> None:
    """Named errors for what a Spark run needs: the pyspark package and a Java runtime (17 or newer)."""
    if importlib.util.find_spec("pyspark") is None:
        raise RuntimeError("engine='spark' needs PySpark: pip install 'notellm-hf[spark]' (or pip install pyspark)")
    if shutil.which("java") is None and not _java_home_has_java():
        raise RuntimeError(
            "engine='spark' needs a Java runtime (17 or newer) on PATH or in JAVA_HOME, "
            "e.g. apt-get install openjdk-17-jre-headless"
        )


def _java_home_has_java() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(home) and (Path(home) / "bin" / "java").exists()


def local_spark_session(master: str = "local[*]", progress: bool = False) -> Any:
    """The active Spark session, or a local one (Arrow transfers on, quiet logs, the console progress bar with
    ``progress``) when none is running."""
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    session = (
        SparkSession.builder.master(master)
        .appName("notellm-pairs")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", str(progress).lower())
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _click_frame(spark: Any, clicks: Any) -> tuple[Any, str]:
    """A validated Spark DataFrame of a click log given as a Spark DataFrame, a pandas DataFrame, an Arrow table
    or a file (files are read by Spark itself, so a log can be larger than the driver's memory)."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    if isinstance(clicks, pa.Table):
        clicks = clicks.to_pandas()
    if isinstance(clicks, pd.DataFrame):
        # Checked in pandas: Spark cannot even infer a schema for an empty or all-null column.
        source = "the click DataFrame"
        check_click_columns(source, clicks.columns)
        nulls = {column: int(clicks[column].isna().sum()) for column in CLICK_COLUMNS}
        check_click_counts(source, nulls, len(clicks))
        return spark.createDataFrame(clicks[list(CLICK_COLUMNS)]), source
    if isinstance(clicks, (str, Path)):
        path = Path(clicks)
        suffix = table_suffix(path, "click log", CLICK_SUFFIXES)
        if suffix == ".parquet":
            frame = spark.read.parquet(str(path))
        elif suffix in (".csv", ".tsv"):
            frame = spark.read.csv(str(path), header=True, inferSchema=True, sep="\t" if suffix == ".tsv" else ",")
        else:
            import pyarrow.feather as feather

            return _click_frame(spark, feather.read_table(str(path)))
        source = str(path)
    elif isinstance(clicks, DataFrame):
        frame, source = clicks, "the click DataFrame"
    else:
        raise ValueError(f"clicks must be a DataFrame, an Arrow table or a file path, got {type(clicks).__name__}")
    check_click_columns(source, frame.columns)
    # Integer columns as 64-bit (Spark infers 32-bit from CSV where DuckDB reads BIGINT): the same result dtypes.
    frame = frame.select(
        *[
            F.col(name).cast("long") if kind in ("tinyint", "smallint", "int") else F.col(name)
            for name, kind in frame.select(*CLICK_COLUMNS).dtypes
        ]
    )
    counts = frame.agg(
        *[F.sum(F.col(column).isNull().cast("long")).alias(column) for column in CLICK_COLUMNS],
        F.count(F.lit(1)).alias("total"),
    ).first()
    check_click_counts(source, {column: counts[column] or 0 for column in CLICK_COLUMNS}, counts["total"])
    return frame, source


def spark_pairs(
    clicks: Any,
    *,
    upper: float,
    lower: float,
    top_t: int,
    ordered: bool,
    max_history: int | None,
    known_note_ids: Iterable[str] | None,
    on_unknown: str,
    spark: Any = None,
    progress: bool = False,
) -> pd.DataFrame:
    """`build_cooccurrence_pairs(..., engine="spark")`: the arguments' meaning is that function's; ``spark`` is the
    session to run on (default: the active one, else a ``local[*]`` one, with Spark's progress bar if ``progress``)."""
    spark = spark or local_spark_session(progress=progress)
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame, source = _click_frame(spark, clicks)
    dropped = 0
    if known_note_ids is not None:
        known = spark.createDataFrame(pd.DataFrame({"known_id": [str(i) for i in known_note_ids]}))
        unknown = frame.join(known, frame.note_id.cast("string") == known.known_id, "left_anti")
        dropped = unknown.count()
        if dropped and on_unknown == "error":
            example = unknown.first()["note_id"]
            raise ValueError(
                f"{source}: {dropped} clicks name notes missing from the note table (e.g. {example!r}); "
                "pass on_unknown='drop' to drop them"
            )
        frame = frame.join(known, frame.note_id.cast("string") == known.known_id, "left_semi")
        if dropped:
            logger.warning("dropped %d clicks on notes missing from the note table", dropped)
    if max_history:
        recent = Window.partitionBy("user_id").orderBy(F.desc("timestamp"), F.desc("note_id"))
        frame = frame.withColumn("recency", F.row_number().over(recent)).where(F.col("recency") <= int(max_history))
    user_notes = frame.groupBy("user_id", "note_id").agg(
        F.min("timestamp").alias("first_t"), F.max("timestamp").alias("last_t")
    )
    weighted = (
        user_notes.withColumn("n", F.count(F.lit(1)).over(Window.partitionBy("user_id")))
        .where(F.col("n") > 1)
        .withColumn("w", 1.0 / F.col("n"))
    )
    a, b = weighted.alias("a"), weighted.alias("b")
    condition = (F.col("a.user_id") == F.col("b.user_id")) & (F.col("a.note_id") != F.col("b.note_id"))
    if ordered:
        condition &= F.col("a.first_t") < F.col("b.last_t")
    scored = (
        a.join(b, condition)
        .groupBy(F.col("a.note_id").alias("note_id_a"), F.col("b.note_id").alias("note_id_b"))
        .agg(F.round(F.sum("a.w"), SCORE_DECIMALS).alias("score"))
        .where((F.col("score") <= float(upper)) & (F.col("score") >= float(lower)))
    )
    best = Window.partitionBy("note_id_a").orderBy(F.desc("score"), F.asc("note_id_b"))
    kept = scored.withColumn("rank", F.row_number().over(best)).where(F.col("rank") <= int(top_t)).drop("rank")
    pairs = kept.toPandas()
    pairs = pairs.sort_values(["note_id_a", "score", "note_id_b"], ascending=[True, False, True], kind="stable")
    pairs = pairs.reset_index(drop=True).astype({"score": "float64"})
    pairs.attrs["dropped_clicks"] = int(dropped)
    return pairs
