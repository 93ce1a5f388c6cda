"""Read Delta tables with the engines analysts use, outside Spark; write what each read.

Run by tests/spark/test_readers.py with the readers' own interpreter:

    read_gold.py OUT TABLE_PATH...

For each table and reader, OUT/<reader>/<table>.parquet holds the rows exactly as the reader
returned them, as Arrow (Parquet keeps Arrow's types, so Spark can compare rows and types);
OUT/deltalake-cdf/<table>.parquet holds the table's change feed from version 0 by delta-rs.
A reader that fails writes OUT/<reader>/<table>.error with its message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import deltalake
import duckdb
import duckdb_extension_delta
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    """DuckDB with its Delta extension loaded from the installed package's file."""
    package = Path(duckdb_extension_delta.__file__).parent
    (extension,) = package.rglob("delta.duckdb_extension")
    connection = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    connection.load_extension(str(extension))
    return connection


def readers(connection: duckdb.DuckDBPyConnection) -> dict[str, Callable[[str], pa.Table]]:
    return {
        "deltalake": lambda path: deltalake.DeltaTable(path).to_pyarrow_table(),
        "polars": lambda path: pl.read_delta(path).to_arrow(),
        "pandas": lambda path: pa.Table.from_pandas(
            deltalake.DeltaTable(path).to_pandas(types_mapper=pd.ArrowDtype),
            preserve_index=False,
        ),
        "duckdb": lambda path: connection.execute(
            "SELECT * FROM delta_scan(?)", [path]
        ).to_arrow_table(),
        "deltalake-cdf": lambda path: pa.table(
            deltalake.DeltaTable(path).load_cdf(starting_version=0).read_all()
        ),
    }


def main(out: Path, paths: list[str]) -> None:
    connection = duckdb_connection()
    for reader, read in readers(connection).items():
        folder = out / reader
        folder.mkdir(parents=True, exist_ok=True)
        for path in paths:
            name = Path(path).name
            try:
                pq.write_table(read(path), folder / f"{name}.parquet")
            except Exception as exc:  # reported to the test, which names reader and table
                (folder / f"{name}.error").write_text(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
