"""Click logs -> related-note pairs by co-occurrence (NoteLLM Sec. 4.1), on DuckDB (one machine) or Spark.

s(A -> B) = sum over users i of 1 / N_i, N_i = number of distinct notes user i clicked in the window.
DuckDB is imported by the engine that runs on it, so that reading pairs (training, evaluation) does not need it.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from .clicks import CLICK_COLUMNS, CLICK_SUFFIXES, SCORE_DECIMALS, check_click_columns, check_click_counts
from .io import read_table, table_suffix, write_table

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)
PAIR_COLUMNS = ("note_id_a", "note_id_b", "score")
PAIR_SUFFIXES = (".parquet", ".csv", ".jsonl")


@dataclass
class CooccurrenceArguments:
    """How a click log becomes related pairs (the paper's Sec. 4.1 thresholds are the defaults).

    One set of fields serves the training recipe (YAML keys ``pairs_*``) and ``notellm pairs`` (flags without
    the prefix); [`build_cooccurrence_pairs`] takes the same defaults from here.
    """

    pairs_upper: float = field(default=30.0, metadata={"help": "Drop pairs scoring above this (paper: 30)."})
    pairs_lower: float = field(default=0.01, metadata={"help": "Drop pairs scoring below this (paper: 0.01)."})
    pairs_top_t: int = field(default=10, metadata={"help": "Related notes kept per note (paper: 10)."})
    pairs_ordered: bool = field(
        default=True, metadata={"help": "Count A -> B only when B was clicked after A (else both directions)."}
    )
    pairs_max_history: int | None = field(default=None, metadata={"help": "Keep each user's M most recent clicks."})
    pairs_engine: str = field(
        default="duckdb", metadata={"help": "duckdb (one machine) or spark (the active Spark session, else local)."}
    )

    def thresholds(self) -> dict[str, Any]:
        """The keyword arguments of [`build_cooccurrence_pairs`] these settings stand for (engine included)."""
        return {
            "upper": self.pairs_upper,
            "lower": self.pairs_lower,
            "top_t": self.pairs_top_t,
            "ordered": self.pairs_ordered,
            "max_history": self.pairs_max_history,
            "engine": self.pairs_engine,
        }


_PAPER = CooccurrenceArguments()


def _register_clicks(
    con: duckdb.DuckDBPyConnection, clicks: Any, known_note_ids: Iterable[str] | None, on_unknown: str
) -> int:
    """Validates a click log (DataFrame, Arrow table or Parquet/CSV/Arrow file) and registers it as view ``clicks``.

    Returns the number of clicks dropped for naming unknown notes (``on_unknown="drop"``).
    """
    if isinstance(clicks, (str, Path)):
        # DuckDB reads the file itself (streaming, multi-threaded): a click log can outgrow memory.
        path = Path(clicks)
        suffix = table_suffix(path, "click log", CLICK_SUFFIXES)
        if suffix == ".parquet":
            relation = con.read_parquet(str(path))
        elif suffix in (".csv", ".tsv"):
            relation = con.read_csv(str(path), sep="\t" if suffix == ".tsv" else ",")
        else:
            import pyarrow.feather as feather

            relation = con.from_arrow(feather.read_table(str(path)))
        source = str(path)
    elif isinstance(clicks, pd.DataFrame):
        relation, source = con.from_df(clicks), "the click DataFrame"
    elif isinstance(clicks, pa.Table):
        relation, source = con.from_arrow(clicks), "the click table"
    else:
        raise ValueError(f"clicks must be a DataFrame, an Arrow table or a file path, got {type(clicks).__name__}")
    check_click_columns(source, relation.columns)
    relation.select(*CLICK_COLUMNS).create_view("raw_clicks")
    con.sql("CREATE TEMP VIEW clicks AS SELECT * FROM raw_clicks").fetchall()
    nulls = con.sql(
        "SELECT count(*) FILTER (user_id IS NULL), count(*) FILTER (note_id IS NULL), "
        "count(*) FILTER (timestamp IS NULL), count(*) FROM clicks"
    ).fetchall()[0]
    check_click_counts(source, dict(zip(CLICK_COLUMNS, nulls[:3], strict=True)), nulls[3])
    if known_note_ids is None:
        return 0
    con.from_arrow(pa.table({"note_id": pa.array([str(i) for i in known_note_ids], pa.string())})).create_view(
        "known_notes"
    )
    unknown = "CAST(note_id AS VARCHAR) NOT IN (SELECT note_id FROM known_notes)"
    count, example = con.sql(f"SELECT count(*), any_value(note_id) FROM raw_clicks WHERE {unknown}").fetchall()[0]
    if count and on_unknown == "error":
        raise ValueError(
            f"{source}: {count} clicks name notes missing from the note table (e.g. {example!r}); "
            "pass on_unknown='drop' to drop them"
        )
    con.sql(f"CREATE OR REPLACE TEMP VIEW clicks AS SELECT * FROM raw_clicks WHERE NOT ({unknown})").fetchall()
    return int(count)


def build_cooccurrence_pairs(
    clicks: Any,
    *,
    upper: float = _PAPER.pairs_upper,
    lower: float = _PAPER.pairs_lower,
    top_t: int = _PAPER.pairs_top_t,
    ordered: bool = _PAPER.pairs_ordered,
    max_history: int | None = _PAPER.pairs_max_history,
    known_note_ids: Iterable[str] | None = None,
    on_unknown: str = "error",
    engine: str = _PAPER.pairs_engine,
    **engine_options: Any,
) -> pd.DataFrame:
    """Related-note pairs from a click log (columns ``user_id``, ``note_id``, ``timestamp``).

    - ``ordered=True``: a user adds ``1 / N_i`` to ``A -> B`` once when they clicked ``B`` after ``A``
      (their first click on ``A`` is strictly earlier than their last click on ``B``; equal times add
      nothing). ``ordered=False``: every two distinct notes of a user, both directions.
    - Users with a single distinct note add nothing. ``max_history`` keeps each user's ``M`` most recent
      clicks (ties by note id), bounding the per-user quadratic work.
    - Pairs scoring above ``upper`` or below ``lower`` are dropped; each note keeps its ``top_t`` best
      related notes (ties: smaller ``note_id_b`` first).

    ``known_note_ids``: clicks on other notes are an error, or with ``on_unknown="drop"`` are dropped and
    counted in ``result.attrs["dropped_clicks"]`` (also logged).
    ``engine`` (`PAIR_ENGINES`): ``"duckdb"`` (options ``threads``, ``memory_limit``, ``progress``,
    ``pairs_per_partition``: the (user, pair) events aggregated at once, and so peak memory) or ``"spark"``
    (option ``spark``: the session; default the active one, else ``local[*]``); both give the same pairs.

    Returns a pandas DataFrame with columns ``note_id_a``, ``note_id_b`` (note id type of the log) and
    ``score`` (float64, rounded to 12 decimals), sorted by ``note_id_a`` then descending score.
    """
    if upper < lower:
        raise ValueError(f"upper ({upper}) must be >= lower ({lower})")
    if lower < 0:
        raise ValueError(f"lower must be >= 0, got {lower}")
    if top_t < 1:
        raise ValueError(f"top_t must be >= 1, got {top_t}")
    if on_unknown not in ("error", "drop"):
        raise ValueError(f"on_unknown must be 'error' or 'drop', got {on_unknown!r}")
    if max_history is not None and max_history < 2:
        raise ValueError(f"max_history must be >= 2 (or None), got {max_history}")
    if engine not in PAIR_ENGINES:
        raise ValueError(f"unknown pair engine {engine!r}; choose from {sorted(PAIR_ENGINES)}")
    settings = {"upper": upper, "lower": lower, "top_t": top_t, "ordered": ordered, "max_history": max_history}
    return PAIR_ENGINES[engine](
        clicks, **settings, known_note_ids=known_note_ids, on_unknown=on_unknown, **engine_options
    )


def duckdb_pairs(
    clicks: Any,
    *,
    upper: float,
    lower: float,
    top_t: int,
    ordered: bool,
    max_history: int | None,
    known_note_ids: Iterable[str] | None,
    on_unknown: str,
    threads: int | None = None,
    memory_limit: str | None = None,
    progress: bool = False,
    pairs_per_partition: int = 10_000_000,
) -> pd.DataFrame:
    """`build_cooccurrence_pairs(..., engine="duckdb")`: DuckDB reads files itself (streaming, multi-threaded)."""
    import duckdb

    con = duckdb.connect()
    if progress:
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = true")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    try:
        dropped = _register_clicks(con, clicks, known_note_ids, on_unknown)
    except duckdb.Error as error:  # unreadable file: bad encoding, malformed rows
        origin = clicks if isinstance(clicks, (str, Path)) else "the click log"
        raise ValueError(f"{origin}: cannot be read as a click log: {str(error).splitlines()[0]}") from error
    if dropped:
        logger.warning("dropped %d clicks on notes missing from the note table", dropped)
    history = (
        f"QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY timestamp DESC, note_id DESC) <= {int(max_history)}"
        if max_history
        else ""
    )
    # Notes get dense integer codes in id order (cheap to hash, same tie order); users with one note drop out.
    con.sql(f"""
        CREATE TEMP TABLE user_notes AS
        SELECT user_id, note_id, min(timestamp) AS first_t, max(timestamp) AS last_t
        FROM (SELECT * FROM clicks {history}) GROUP BY user_id, note_id
    """).fetchall()
    con.sql("""
        CREATE TEMP TABLE codes AS
        SELECT note_id, (row_number() OVER (ORDER BY note_id) - 1)::BIGINT AS code
        FROM (SELECT DISTINCT note_id FROM user_notes)
    """).fetchall()
    con.sql("""
        CREATE TEMP TABLE weighted AS
        SELECT user_id, code, first_t, last_t, n, 1.0 / n AS w
        FROM (SELECT *, count(*) OVER (PARTITION BY user_id) AS n FROM user_notes) JOIN codes USING (note_id)
        WHERE n > 1
    """).fetchall()
    # The pair aggregate dominates time and memory: split it by query note so each part stays bounded
    # (top-t is per query note, so the parts are independent and their union is exact).
    events = con.sql("SELECT coalesce(sum(n - 1), 0) FROM weighted").fetchall()[0][0]
    parts = max(1, -(-int(events) // (2 * pairs_per_partition if ordered else pairs_per_partition)))
    order_condition = "AND a.first_t < b.last_t" if ordered else ""
    con.sql("CREATE TEMP TABLE kept (code_a BIGINT, code_b BIGINT, score DOUBLE)").fetchall()
    for part in range(parts):
        con.sql(f"""
            INSERT INTO kept
            SELECT code_a, code_b, score FROM (
                SELECT a.code AS code_a, b.code AS code_b, round(sum(a.w), {SCORE_DECIMALS}) AS score
                FROM (SELECT * FROM weighted WHERE code % {parts} = {part}) a JOIN weighted b
                  ON a.user_id = b.user_id AND a.code <> b.code {order_condition}
                GROUP BY a.code, b.code
            )
            WHERE score <= {float(upper)} AND score >= {float(lower)}
            QUALIFY row_number() OVER (PARTITION BY code_a ORDER BY score DESC, code_b) <= {int(top_t)}
        """).fetchall()
    pairs = con.sql("""
        SELECT ca.note_id AS note_id_a, cb.note_id AS note_id_b, kept.score
        FROM kept JOIN codes ca ON kept.code_a = ca.code JOIN codes cb ON kept.code_b = cb.code
        ORDER BY kept.code_a, kept.score DESC, kept.code_b
    """).df()
    con.close()
    pairs = pairs.astype({"score": "float64"})
    pairs.attrs["dropped_clicks"] = dropped
    return pairs


def _spark_pairs(clicks: Any, **options: Any) -> pd.DataFrame:
    from .pairs_spark import spark_pairs  # pyspark is optional: imported only when asked for

    return spark_pairs(clicks, **options)


PAIR_ENGINES = {"duckdb": duckdb_pairs, "spark": _spark_pairs}


def pairs_from_click_log(
    clicks: Any, output: str | Path, arguments: CooccurrenceArguments | None = None, progress: bool = False
) -> pd.DataFrame:
    """`notellm pairs`: builds the pairs of a click log with ``arguments`` (the paper's by default) and writes them."""
    pairs = build_cooccurrence_pairs(clicks, **(arguments or CooccurrenceArguments()).thresholds(), progress=progress)
    write_pairs(pairs, output)
    return pairs


def notes_in_pairs(pairs: pd.DataFrame) -> list[str]:
    """The distinct note ids on either side of ``pairs``, sorted (a stable order for seeded sampling)."""
    return sorted(set(pairs.note_id_a) | set(pairs.note_id_b))


def related_notes(pairs: pd.DataFrame) -> dict[str, set[str]]:
    """Each note's related notes in either direction of ``pairs`` (a note without pairs maps to an empty set):
    what hard negatives must avoid."""
    related: dict[str, set[str]] = defaultdict(set)
    for a, b in zip(pairs.note_id_a, pairs.note_id_b, strict=True):
        related[a].add(b)
        related[b].add(a)
    return related


def write_pairs(pairs: pd.DataFrame, path: str | Path) -> Path:
    """Writes pairs to .parquet, .csv or .jsonl through a temporary file, so a failure leaves nothing half-written."""
    return write_table(pairs, path, "pairs file", PAIR_SUFFIXES)


def load_pairs(source: Any, known_note_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Reads precomputed related pairs (``note_id_a``, ``note_id_b``[, ``score``]) and validates them.

    A missing ``score`` column reads as 1.0. Rows with a missing id, a note paired with itself, a negative
    or NaN score, or (given ``known_note_ids``) an unknown note are errors naming the row.
    """
    if isinstance(source, pd.DataFrame):
        frame, origin = source.copy(), "the pairs DataFrame"
    else:
        frame, origin = read_table(source, "pairs file", PAIR_SUFFIXES), str(source)
    missing = [c for c in PAIR_COLUMNS[:2] if c not in frame.columns]
    if missing:
        raise ValueError(f"{origin}: missing pair columns {missing} (has {list(frame.columns)})")
    if "score" not in frame.columns:
        frame["score"] = 1.0
    frame = frame[list(PAIR_COLUMNS)]
    known = None if known_note_ids is None else {str(i) for i in known_note_ids}
    for row, (a, b, score) in enumerate(frame.itertuples(index=False, name=None), start=1):
        if (
            a is None
            or b is None
            or (isinstance(a, float) and math.isnan(a))
            or (isinstance(b, float) and math.isnan(b))
        ):
            raise ValueError(f"{origin}: row {row}: missing note id")
        if str(a) == str(b):
            raise ValueError(f"{origin}: row {row}: note {str(a)!r} is paired with itself")
        if not isinstance(score, (int, float)) or math.isnan(score) or score < 0:
            raise ValueError(f"{origin}: row {row}: score must be a number >= 0, got {score!r}")
        if known is not None and (str(a) not in known or str(b) not in known):
            unknown = str(a) if str(a) not in known else str(b)
            raise ValueError(f"{origin}: row {row}: note {unknown!r} is not in the note table")
    return frame.astype({"note_id_a": str, "note_id_b": str, "score": "float64"}).reset_index(drop=True)
