"""Delta reads and writes shared by the layers: the I/O edge, so transforms stay pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from functools import reduce
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T


def read(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    """The table as of its latest version, or as of `version` (pinned for a consistent view)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def hadoop_file_system(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """The Hadoop file system holding `path`, and the path as Hadoop's: one file-system call
    where a Delta snapshot would cost a Spark job. Raises where the JVM is out of reach
    (Spark Connect); callers fall back to the public API."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    return hadoop_path.getFileSystem(conf), hadoop_path


def write_text_file(spark: SparkSession, path: str, text: str) -> None:
    """A small file written whole (overwriting), on any file system Spark reaches."""
    fs, hadoop_path = hadoop_file_system(spark, path)
    stream = fs.create(hadoop_path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def first_line(spark: SparkSession, path: str) -> str | None:
    """The first line of a file (None when it is empty), read as UTF-8 through Hadoop."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    fs, hadoop_path = hadoop_file_system(spark, path)
    stream = fs.open(hadoop_path)
    try:
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        line = reader.readLine()
    finally:
        stream.close()
    return None if line is None else str(line)


def list_file_paths(spark: SparkSession, folder: str) -> list[str]:
    """The files directly in `folder` (none when it does not exist)."""
    fs, hadoop_folder = hadoop_file_system(spark, folder)
    if not fs.exists(hadoop_folder):
        return []
    return sorted(
        s.getPath().toString() for s in fs.listStatus(hadoop_folder) if not s.isDirectory()
    )


def delete_files(spark: SparkSession, paths: Iterable[str]) -> None:
    for path in paths:
        fs, hadoop_path = hadoop_file_system(spark, path)
        fs.delete(hadoop_path, False)


_COMMIT_FILE = re.compile(r"^\d{20}\.json$")


def latest_version(spark: SparkSession, path: str) -> int:
    """The table's newest committed version.

    Listing `_delta_log` costs one file-system call; Delta's `history(1)` costs a snapshot
    read (about 0.2 s here), and the run asks this several times per source. Where the JVM is
    out of reach (Spark Connect) the public API answers instead.
    """
    try:
        fs, log_dir = hadoop_file_system(spark, f"{path}/_delta_log")
        names = [status.getPath().getName() for status in fs.listStatus(log_dir)]
    except Exception:
        row = DeltaTable.forPath(spark, path).history(1).select("version").first()
        return int(row[0]) if row is not None else -1
    versions = [int(n[:20]) for n in names if _COMMIT_FILE.match(n)]
    return max(versions) if versions else -1


def add_missing_columns(spark: SparkSession, path: str, schema: T.StructType) -> list[str]:
    """Evolve the table to hold every column of `schema` (a metadata-only commit)."""
    current = read(spark, path).schema
    missing = [f for f in schema.fields if f.name not in current.fieldNames()]
    if missing:
        empty = spark.createDataFrame([], T.StructType(current.fields + missing))
        empty.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
    return [f.name for f in missing]


def _all_equal(columns: Iterable[str], new: str, old: str) -> Column:
    checks = [F.col(f"{new}.`{c}`").eqNullSafe(F.col(f"{old}.`{c}`")) for c in columns]
    return reduce(lambda a, b: a & b, checks)


def key_condition(key: Sequence[str], new: str = "s", old: str = "t") -> Column:
    return _all_equal(key, new, old)


def key_range_filter(column: str, bounds: tuple[int, int] | None) -> Callable[[str | None], Column]:
    """A predicate on an integer key column (of the frame aliased by the argument, or
    unqualified for None) that holds for the day's keys: `min <= key <= max`. Rows outside can
    never match the day's keys, so adding it to a MERGE's condition or a target read changes
    nothing but what Delta's data skipping leaves out: files whose key range (from their
    statistics) lies elsewhere. Keys arrive roughly in the order they were created, so a day's
    new and recent keys sit in few files. No bounds (no valid row): always true."""

    def on(alias: str | None) -> Column:
        if bounds is None:
            return F.lit(True)
        name = f"{alias}.`{column}`" if alias else f"`{column}`"
        return F.col(name).between(F.lit(bounds[0]), F.lit(bounds[1]))

    return on


def merge_by_key(
    spark: SparkSession,
    path: str,
    source: DataFrame,
    key: Sequence[str],
    *,
    update_when: Column | None = None,
    delete_when: Column | None = None,
    target_filter: Column | None = None,
    control_columns: Sequence[str] = (),
) -> dict[str, int]:
    """MERGE one row per key into the table, setting every target column.

    Rows are updated only where `update_when` holds (default: where any value differs), so a
    rerun changes nothing; a target column the source lacks is set to null rather than kept.
    `delete_when` removes matched rows and keeps unmatched ones out. `control_columns` steer
    the MERGE (a deletion flag, say) and are not written. Returns Delta's row counts.
    """
    data_fields = [f for f in source.schema.fields if f.name not in control_columns]
    add_missing_columns(spark, path, T.StructType(data_fields))
    target_cols = read(spark, path).columns
    values: dict[str, str | Column] = {
        f"`{c}`": (F.col(f"s.`{c}`") if c in source.columns else F.lit(None)) for c in target_cols
    }
    differs = ~_all_equal([c for c in target_cols if c in source.columns], "s", "t")
    condition = key_condition(key)
    if target_filter is not None:
        condition = condition & target_filter
    merge = DeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), condition)
    if delete_when is not None:
        merge = merge.whenMatchedDelete(condition=delete_when)
    merge = merge.whenMatchedUpdate(
        condition=update_when if update_when is not None else differs, set=values
    )
    if delete_when is not None:
        merge = merge.whenNotMatchedInsert(condition=~delete_when, values=values)
    else:
        merge = merge.whenNotMatchedInsert(values=values)
    row = merge.execute().first()
    metrics = row.asDict() if row is not None else {}
    return {
        "inserted": int(metrics.get("num_inserted_rows") or 0),
        "updated": int(metrics.get("num_updated_rows") or 0),
        "deleted": int(metrics.get("num_deleted_rows") or 0),
    }


def insert_new(spark: SparkSession, path: str, source: DataFrame, already_there: Column) -> int:
    """Insert the rows of `source` for which no target row satisfies `already_there`.

    An insert-only MERGE rather than an append: it reads the target, so two runs inserting the
    same rows at once conflict (one retries and finds them there) instead of both appending.
    """
    add_missing_columns(spark, path, source.schema)
    values: dict[str, str | Column] = {
        f"`{c}`": (F.col(f"s.`{c}`") if c in source.columns else F.lit(None))
        for c in read(spark, path).columns
    }
    merge = DeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), already_there)
    row = merge.whenNotMatchedInsert(values=values).execute().first()
    return int(row.asDict().get("num_inserted_rows") or 0) if row is not None else 0


def date_predicate(column: str, dates: Iterable[date]) -> str:
    """A replaceWhere predicate built only from parsed `date` values, never from user text."""
    literals = sorted({d.isoformat() for d in dates})
    if not literals:
        raise ValueError("date_predicate needs at least one date")
    for value in literals:
        date.fromisoformat(value)  # guards the invariant: only real dates reach the predicate
    values = ", ".join(f"DATE'{v}'" for v in literals)
    return f"`{column}` IN ({values})"


def replace_partitions(
    path: str, frame: DataFrame, column: str, dates: Iterable[date], *, merge_schema: bool = False
) -> None:
    """Overwrite exactly the partitions of `dates` (emptying those with no rows) in one commit."""
    writer = (
        frame.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", date_predicate(column, dates))
    )
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(path)
