"""Click logs -> related-note pairs by co-occurrence (NoteLLM Sec. 4.1), on DuckDB.

s(A -> B) = sum over users i of 1 / N_i, N_i = number of distinct notes user i clicked in the window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

CLICK_COLUMNS = ("user_id", "note_id", "timestamp")
PAIR_COLUMNS = ("note_id_a", "note_id_b", "score")
# Scores are rounded so that sums that are equal in exact arithmetic tie exactly (top-t is then deterministic).
SCORE_DECIMALS = 12


def _register_clicks(con: duckdb.DuckDBPyConnection, clicks: Any) -> None:
    """Validates a click log (DataFrame, Arrow table or Parquet/CSV/Arrow file) and registers it as view ``clicks``."""
    if isinstance(clicks, (str, Path)):
        path = Path(clicks)
        if not path.exists():
            raise FileNotFoundError(f"click log {path} does not exist")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            relation = con.read_parquet(str(path))
        elif suffix in (".csv", ".tsv"):
            relation = con.read_csv(str(path), sep="\t" if suffix == ".tsv" else ",")
        elif suffix in (".arrow", ".feather"):
            import pyarrow.feather as feather

            relation = con.from_arrow(feather.read_table(str(path)))
        else:
            raise ValueError(f"click log {path}: unsupported file type {suffix!r} (use .parquet, .csv, .tsv or .arrow)")
        source = str(path)
    elif isinstance(clicks, pd.DataFrame):
        relation, source = con.from_df(clicks), "the click DataFrame"
    elif isinstance(clicks, pa.Table):
        relation, source = con.from_arrow(clicks), "the click table"
    else:
        raise ValueError(f"clicks must be a DataFrame, an Arrow table or a file path, got {type(clicks).__name__}")
    missing = [column for column in CLICK_COLUMNS if column not in relation.columns]
    if missing:
        raise ValueError(f"{source}: missing click columns {missing} (has {relation.columns})")
    relation.select(*CLICK_COLUMNS).create_view("clicks")
    nulls = con.sql(
        "SELECT count(*) FILTER (user_id IS NULL), count(*) FILTER (note_id IS NULL), "
        "count(*) FILTER (timestamp IS NULL), count(*) FROM clicks"
    ).fetchall()[0]
    for column, count in zip(CLICK_COLUMNS, nulls[:3], strict=True):
        if count:
            raise ValueError(f"{source}: {count} clicks have no {column}")
    if nulls[3] == 0:
        raise ValueError(f"{source}: the click log is empty")


def build_cooccurrence_pairs(
    clicks: Any,
    *,
    upper: float = 30.0,
    lower: float = 0.01,
    top_t: int = 10,
    ordered: bool = True,
    max_history: int | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Related-note pairs from a click log (columns ``user_id``, ``note_id``, ``timestamp``).

    - ``ordered=True``: a user adds ``1 / N_i`` to ``A -> B`` once when they clicked ``B`` after ``A``
      (their first click on ``A`` is strictly earlier than their last click on ``B``; equal times add
      nothing). ``ordered=False``: every two distinct notes of a user, both directions.
    - Users with a single distinct note add nothing. ``max_history`` keeps each user's ``M`` most recent
      clicks (ties by note id), bounding the per-user quadratic work.
    - Pairs scoring above ``upper`` or below ``lower`` are dropped; each note keeps its ``top_t`` best
      related notes (ties: smaller ``note_id_b`` first).

    Returns a pandas DataFrame with columns ``note_id_a``, ``note_id_b`` (note id type of the log) and
    ``score`` (float64, rounded to 12 decimals), sorted by ``note_id_a`` then descending score.
    """
    if upper < lower:
        raise ValueError(f"upper ({upper}) must be >= lower ({lower})")
    if lower < 0:
        raise ValueError(f"lower must be >= 0, got {lower}")
    if top_t < 1:
        raise ValueError(f"top_t must be >= 1, got {top_t}")
    if max_history is not None and max_history < 2:
        raise ValueError(f"max_history must be >= 2 (or None), got {max_history}")
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    _register_clicks(con, clicks)
    history = (
        f"QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY timestamp DESC, note_id DESC) <= {int(max_history)}"
        if max_history
        else ""
    )
    order_condition = "AND a.first_t < b.last_t" if ordered else ""
    query = f"""
        WITH recent AS (SELECT user_id, note_id, timestamp FROM clicks {history}),
        user_notes AS (
            SELECT user_id, note_id, min(timestamp) AS first_t, max(timestamp) AS last_t,
                   count(*) OVER (PARTITION BY user_id) AS n
            FROM recent GROUP BY user_id, note_id
        ),
        weighted AS (SELECT user_id, note_id, first_t, last_t, 1.0 / n AS w FROM user_notes WHERE n > 1),
        scored AS (
            SELECT a.note_id AS note_id_a, b.note_id AS note_id_b, round(sum(a.w), {SCORE_DECIMALS}) AS score
            FROM weighted a JOIN weighted b
              ON a.user_id = b.user_id AND a.note_id <> b.note_id {order_condition}
            GROUP BY a.note_id, b.note_id
        )
        SELECT note_id_a, note_id_b, score FROM scored
        WHERE score <= {float(upper)} AND score >= {float(lower)}
        QUALIFY row_number() OVER (PARTITION BY note_id_a ORDER BY score DESC, note_id_b) <= {int(top_t)}
        ORDER BY note_id_a, score DESC, note_id_b
    """
    pairs = con.sql(query).df()
    con.close()
    return pairs.astype({"score": "float64"})
