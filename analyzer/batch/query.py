"""SQL over a dataset with DuckDB (embedded): each table is a view over its Parquet files."""

from __future__ import annotations

import glob
import os
from typing import Any

from analyzer.batch.dataset import META, PREFIX, Dataset
from analyzer.batch.schema import TABLE_NAMES

__all__ = ["QueryError", "connect", "run_query"]


class QueryError(Exception):
    """One sentence: the dataset cannot be read, or DuckDB rejected the SQL."""


def connect(root: str) -> Any:
    """A DuckDB connection with one view per table (`captures`, `connections`, ...), read-only."""
    import duckdb

    if not os.path.isfile(os.path.join(root, META)):
        raise QueryError(f"{root} is not a socketscope dataset (no {META})")
    try:
        Dataset(root).check()
    except Exception as exc:
        raise QueryError(str(exc)) from None
    con = duckdb.connect(":memory:")
    base = glob.escape(os.path.abspath(root))
    for table in TABLE_NAMES:
        pattern = os.path.join(base, PREFIX + "*", table, "*.parquet")
        if glob.glob(pattern):
            sql_path = pattern.replace("'", "''")
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{sql_path}', "
                "hive_partitioning = false, union_by_name = true)"
            )
        else:  # an empty dataset: the view has the columns and no row
            from analyzer.batch.schema import TABLES

            cols = ", ".join(f'CAST(NULL AS {_duck_type(f.type)}) AS "{f.name}"' for f in TABLES[table])
            con.execute(f"CREATE VIEW {table} AS SELECT {cols} WHERE false")
    return con


def _duck_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_binary(t):
        return "BLOB"
    if pa.types.is_list(t):
        return _duck_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in t) + ")"
    return "VARCHAR"


def run_query(root: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` over the dataset."""
    import duckdb

    con = connect(root)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description or ()]
        return names, cur.fetchall()
    except duckdb.Error as exc:
        raise QueryError(" ".join(str(exc).split())) from None
    finally:
        con.close()
