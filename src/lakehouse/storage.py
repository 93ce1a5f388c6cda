"""Delta reads and writes shared by the layers: the I/O edge, so transforms stay pure."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import partial
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, DataFrameWriter, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import conditions, sql
from lakehouse.concurrency import ATTEMPTS, at_once
from lakehouse.errors import ConcurrentRunError
from lakehouse.files import folder_key, glob_literal, list_files, split_common_parent
from lakehouse.warehouse import Table


def read(spark: SparkSession, table: Table, version: int | None = None) -> DataFrame:
    """The table as of its latest version, or as of `version` (pinned for a consistent view)."""
    if table.by_name:
        if version is None:
            return spark.read.table(table.sql)
        return spark.sql(f"SELECT * FROM {table.sql} VERSION AS OF {sql.literal(int(version))}")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table.path)


def append(frame: DataFrame, table: Table, *, merge_schema: bool = False) -> None:
    _save(frame.write.format("delta").mode("append"), table, merge_schema=merge_schema)


def _save(writer: DataFrameWriter, table: Table, *, merge_schema: bool) -> None:
    """Write to the table by name or by path; `merge_schema` lets the write add columns."""
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if table.by_name:
        writer.saveAsTable(table.sql)
    else:
        writer.save(table.path)


# Managed tables' histories read at once: each read mostly waits on the catalog and the log.
_HISTORY_THREADS = 8


def latest_versions(spark: SparkSession, tables: Sequence[Table]) -> dict[Table, int]:
    """Each table's newest committed version (-1: not created). Tables whose folder the job
    knows: from one listing of their logs (Delta's `DESCRIBE HISTORY` would cost a snapshot
    read per table, 0.3 s here); managed ones from their histories, read a few at a time (one
    by one, the twenty-three tables of a run took 1.2 s here against 0.06 s for the listing,
    at the start and at the end of every run)."""
    logged = _logged_versions(spark, [t.path for t in tables if t.path is not None])
    managed = [t for t in tables if t.path is None]
    found = at_once(partial(_history_version, spark), managed, threads=_HISTORY_THREADS)
    versions = dict(zip(managed, found, strict=True))
    return {t: logged[t.path] if t.path is not None else versions[t] for t in tables}


def _logged_versions(spark: SparkSession, paths: Sequence[str]) -> dict[str, int]:
    if not paths:
        return {}
    parent, names = split_common_parent(paths)
    logs = (
        f"{glob_literal(parent)}/{{{','.join(glob_literal(n) for n in names)}}}/_delta_log/*.json"
    )
    newest = dict.fromkeys(paths, -1)
    by_folder = {folder_key(p): p for p in paths}
    for commit in list_files(spark, logs):
        folder, _, name = commit.rpartition("/_delta_log/")
        table = by_folder.get(folder_key(folder))
        if table is not None and _COMMIT_FILE.match(name):
            newest[table] = max(newest[table], int(name[:20]))
    return newest


def _history_version(spark: SparkSession, table: Table) -> int:
    try:
        last = last_commit(spark, table)
    except AnalysisException as exc:
        if conditions.is_missing_table(exc):
            return -1
        raise
    return int(last["version"]) if last is not None else -1


def latest_version(spark: SparkSession, table: Table) -> int:
    return latest_versions(spark, [table])[table]


_COMMIT_FILE = re.compile(r"^\d{20}\.json$")


def restore(spark: SparkSession, table: Table, version: int) -> None:
    """Bring back the table's content as of `version`, keeping the properties the job manages:
    RESTORE also brings back that version's properties, so a retention maintenance set after
    it would fall back to Delta's 7 days (and with it how far back time travel reaches), and
    a gold table given deletion vectors before maintenance turned them off would write them
    again."""
    kept = {k: v for k, v in _properties(spark, table).items() if k in _KEPT_BY_RESTORE}
    spark.sql(f"RESTORE TABLE {table.sql} TO VERSION AS OF {sql.literal(int(version))}")
    _set_properties(spark, table, kept)


def last_commit(spark: SparkSession, table: Table) -> Row | None:
    """The newest entry of the table's history (its version, timestamp, operation...)."""
    return spark.sql(f"DESCRIBE HISTORY {table.sql} LIMIT 1").first()


def table_detail(spark: SparkSession, table: Table) -> dict[str, Any]:
    """Delta's `DESCRIBE DETAIL` of the table (format, protocol, features, size)."""
    row = spark.sql(f"DESCRIBE DETAIL {table.sql}").first()
    return row.asDict() if row is not None else {}


def drop_feature(spark: SparkSession, table: Table, feature: str) -> None:
    """Purge a table feature's traces and drop it from the protocol, history kept (Delta's
    checkpoint protection, no TRUNCATE HISTORY)."""
    spark.sql(f"ALTER TABLE {table.sql} DROP FEATURE {sql.literal(feature)}")


def optimize(spark: SparkSession, table: Table, zorder_by: Sequence[str] = ()) -> Row | None:
    """Compact the table's small files, sorted by `zorder_by` if given; Delta's metrics of
    the rewrite (None: nothing done)."""
    order = f" ZORDER BY ({', '.join(sql.ident(c) for c in zorder_by)})" if zorder_by else ""
    row = spark.sql(f"OPTIMIZE {table.sql}{order}").first()
    return row["metrics"] if row is not None else None


# How long Delta keeps the files a table no longer references: VACUUM's retention, and how far
# back time travel (and so a restore) may go. A `VACUUM ... RETAIN n HOURS` clause is ignored
# by Delta 4 unless n is 0 (`spark.databricks.delta.vacuum.retentionWindowIgnore.enabled`).
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
# How long Delta keeps a table's log: 30 days by default, and never less than the retention.
LOG_RETENTION_PROPERTY = "delta.logRetentionDuration"
_DEFAULT_LOG_RETENTION_HOURS = 30 * 24
DELETION_VECTORS_PROPERTY = "delta.enableDeletionVectors"
_KEPT_BY_RESTORE = (RETENTION_PROPERTY, LOG_RETENTION_PROPERTY, DELETION_VECTORS_PROPERTY)


def retention(spark: SparkSession, table: Table) -> str | None:
    """The table's retention as set (`interval N hours`), None for Delta's default."""
    return _properties(spark, table).get(RETENTION_PROPERTY)


def set_retention(spark: SparkSession, table: Table, hours: int) -> None:
    """Give the table a retention of `hours`: a commit only when it has another one. Delta
    refuses a retention longer than the log's, so a retention past 30 days keeps the log as
    long."""
    wanted = {RETENTION_PROPERTY: f"interval {int(hours)} hours"}
    if hours > _DEFAULT_LOG_RETENTION_HOURS:
        wanted[LOG_RETENTION_PROPERTY] = wanted[RETENTION_PROPERTY]
    _set_properties(spark, table, wanted)


def _properties(spark: SparkSession, table: Table) -> dict[str, str]:
    return table_detail(spark, table).get("properties") or {}


def _set_properties(spark: SparkSession, table: Table, wanted: dict[str, str]) -> None:
    """One ALTER TABLE for the properties that differ (Delta checks them together), if any."""
    now = _properties(spark, table)
    changed = {k: v for k, v in wanted.items() if now.get(k) != v}
    if changed:
        pairs = ", ".join(f"{sql.literal(k)} = {sql.literal(v)}" for k, v in changed.items())
        spark.sql(f"ALTER TABLE {table.sql} SET TBLPROPERTIES ({pairs})")


def vacuum(spark: SparkSession, table: Table) -> None:
    """Delete the files unreferenced for longer than the table's retention (`set_retention`)."""
    spark.sql(f"VACUUM {table.sql}").collect()


def add_missing_columns(
    spark: SparkSession,
    table: Table,
    schema: T.StructType,
    current: T.StructType | None = None,
) -> list[str]:
    """Evolve the table to hold every column of `schema` (a metadata-only commit); returns
    the table's columns after it. `current`: the table's schema, when the caller has read it.

    A column the table does not declare (a source's drift) goes after the declared ones, in
    sorted order among the others: so a table's columns do not depend on the order in which
    dates, and the drift they bring, were run. Other runs adding some of the columns
    meanwhile: the table is read again and what is still missing added, for as long as each
    look finds columns added since the one before (a duplicate nobody added is raised).
    A column placed against an older look than the table's (another run's landed in between)
    is moved into that order afterwards, by whichever run looks last."""
    current = current or read(spark, table).schema
    while missing := _missing_fields(schema, current):
        if not table.declared:
            empty = spark.createDataFrame([], T.StructType(current.fields + missing))
            append(empty, table, merge_schema=True)
            return current.fieldNames() + [f.name for f in missing]
        _, added = placed_columns(current.fieldNames(), table.declared, missing)
        seen, added_meanwhile = len(current.fields), None
        try:
            spark.sql(f"ALTER TABLE {table.sql} ADD COLUMNS ({', '.join(added)})")
        except AnalysisException as exc:
            if not conditions.is_column_added_meanwhile(exc):
                raise
            added_meanwhile = exc
        current = read(spark, table).schema
        if added_meanwhile is not None and len(current.fields) <= seen:
            raise added_meanwhile
    return _drift_in_order(spark, table, current.fieldNames())


def _drift_in_order(spark: SparkSession, table: Table, columns: list[str]) -> list[str]:
    """Move drifted columns out of order into place: each look after the moves may find
    another run's column placed meanwhile, so the last run to add one leaves the order."""
    for _ in range(ATTEMPTS):
        moves = drift_moves(columns, table.declared)
        if not moves:
            return columns
        for column, after in moves:
            spark.sql(
                f"ALTER TABLE {table.sql} ALTER COLUMN {sql.ident(column)} AFTER {sql.ident(after)}"
            )
        columns = read(spark, table).schema.fieldNames()
    raise ConcurrentRunError(
        f"{table.sql}: other runs kept adding columns while this one put them in order; "
        "rerun this date when they have finished"
    )


def drift_moves(columns: Sequence[str], declared: Sequence[str]) -> list[tuple[str, str]]:
    """The `ALTER COLUMN ... AFTER` moves, in turn, that put the table's columns in order
    (none for a table already so)."""
    kept = set(declared)
    target = ordered_columns(columns, declared)
    order = list(columns)
    moves = []
    for at, column in enumerate(target[1:], start=1):
        where = order.index(column)
        if column not in kept and (where == 0 or order[where - 1] != target[at - 1]):
            order.remove(column)
            order.insert(order.index(target[at - 1]) + 1, column)
            moves.append((column, target[at - 1]))
    return moves


def _missing_fields(schema: T.StructType, current: T.StructType) -> list[T.StructField]:
    known = {name.lower() for name in current.fieldNames()}  # as Spark resolves names
    return [f for f in schema.fields if f.name.lower() not in known]


def ordered_columns(columns: Sequence[str], declared: Sequence[str]) -> list[str]:
    """A table's columns in the order they belong in: the declared ones as the table has
    them, then its drift sorted, so the order does not depend on which runs brought what."""
    kept = set(declared)
    return [c for c in columns if c in kept] + sorted(c for c in columns if c not in kept)


def placed_columns(
    columns: Sequence[str], declared: Sequence[str], missing: Sequence[T.StructField]
) -> tuple[list[str], list[str]]:
    """Where each missing column goes (`ADD COLUMNS` items with their `FIRST`/`AFTER`), and
    the table's columns then: after the column it follows in `ordered_columns`."""
    target = ordered_columns([*columns, *(f.name for f in missing)], declared)
    placed = list(columns)
    added = []
    for field in sorted(missing, key=lambda f: target.index(f.name)):
        at = target.index(field.name)
        after = target[at - 1] if at else None
        position = "FIRST" if after is None else f"AFTER {sql.ident(after)}"
        added.append(f"{sql.ident(field.name)} {field.dataType.simpleString()} {position}")
        placed.insert(0 if after is None else placed.index(after) + 1, field.name)
    return placed, added


def key_condition(key: Sequence[str], new: str = "s", old: str = "t") -> str:
    return sql.null_safe_equal(key, new, old)


def key_range_filter(column: str, bounds: tuple[int, int] | None) -> Callable[[str | None], str]:
    """A predicate on an integer key column (of the frame aliased by the argument, or
    unqualified for None) that holds for the day's keys: `min <= key <= max`. Rows outside can
    never match the day's keys, so adding it to a MERGE's condition or a target read changes
    nothing but what Delta's data skipping leaves out: files whose key range (from their
    statistics) lies elsewhere. Keys arrive roughly in the order they were created, so a day's
    new and recent keys sit in few files. No bounds (no valid row): always true."""

    def on(alias: str | None) -> str:
        if bounds is None:
            return "TRUE"
        low, high = (sql.literal(int(b)) for b in bounds)
        return f"{sql.column(column, alias)} BETWEEN {low} AND {high}"

    return on


@contextmanager
def _as_view(spark: SparkSession, frame: DataFrame) -> Iterator[str]:
    """`frame` as a temporary view for one statement; a name of its own per call, so steps
    running side by side in one session never see each other's."""
    name = f"lakehouse_source_{uuid.uuid4().hex}"
    frame.createOrReplaceTempView(name)
    try:
        yield sql.ident(name)
    finally:
        spark.catalog.dropTempView(name)


def _values(target_columns: Sequence[str], source_columns: Sequence[str]) -> list[str]:
    """What each target column gets: the source's value, or null where the source lacks it."""
    return [sql.column(c, "s") if c in source_columns else "NULL" for c in target_columns]


# The row counts a MERGE returns, by the names the job uses, and Delta's column for each.
MERGE_COUNTS = {
    "inserted": "num_inserted_rows",
    "updated": "num_updated_rows",
    "deleted": "num_deleted_rows",
}


def _merge(
    spark: SparkSession, source: DataFrame, statement: Callable[[str], str]
) -> dict[str, int]:
    """Run the MERGE that `statement` writes for the source's view name; Delta's row counts.
    A count Delta did not give (no metrics row, or its column missing or null) is left out:
    unknown, which is not the same as 0."""
    with _as_view(spark, source) as view:
        row = spark.sql(statement(view)).first()
    metrics = row.asDict() if row is not None else {}
    return {
        name: int(metrics[column])
        for name, column in MERGE_COUNTS.items()
        if metrics.get(column) is not None
    }


def merge_by_key(
    spark: SparkSession,
    table: Table,
    source: DataFrame,
    key: Sequence[str],
    *,
    update_when: str | None = None,
    delete_when: str | None = None,
    target_filter: str | None = None,
    control_columns: Sequence[str] = (),
) -> dict[str, int]:
    """MERGE one row per key into the table, setting every target column.

    Rows are updated only where `update_when` holds (default: where any value differs), so a
    rerun changes nothing; a target column the source lacks is set to null rather than kept.
    `delete_when` removes matched rows and keeps unmatched ones out. `control_columns` steer
    the MERGE (a deletion flag, say) and are not written. Conditions are SQL over the target
    `t` and the source `s` (lakehouse.sql). Returns the row counts Delta gave (`_merge`).
    """
    data_fields = [f for f in source.schema.fields if f.name not in control_columns]
    target_cols = add_missing_columns(spark, table, T.StructType(data_fields))
    shared = [c for c in target_cols if c in source.columns]
    differs = f"NOT ({sql.null_safe_equal(shared, 's', 't')})"
    condition = key_condition(key)
    if target_filter is not None:
        condition = sql.all_of([condition, target_filter])
    values = _values(target_cols, source.columns)
    sets = ", ".join(f"{sql.ident(c)} = {v}" for c, v in zip(target_cols, values, strict=True))
    clauses = []
    if delete_when is not None:
        clauses.append(f"WHEN MATCHED AND ({delete_when}) THEN DELETE")
    clauses.append(f"WHEN MATCHED AND ({update_when or differs}) THEN UPDATE SET {sets}")
    insert_when = f" AND NOT ({delete_when})" if delete_when is not None else ""
    clauses.append(f"WHEN NOT MATCHED{insert_when} THEN {_insert(target_cols, values)}")
    target = table.sql
    return _merge(
        spark,
        source,
        lambda view: "\n".join(
            [f"MERGE INTO {target} AS t USING {view} AS s ON {condition}", *clauses]
        ),
    )


def _insert(target_columns: Sequence[str], values: Sequence[str]) -> str:
    names = ", ".join(sql.ident(c) for c in target_columns)
    return f"INSERT ({names}) VALUES ({', '.join(values)})"


def insert_new(
    spark: SparkSession,
    table: Table,
    source: DataFrame,
    already_there: str,
    *,
    current: T.StructType | None = None,
) -> int | None:
    """Insert the rows of `source` for which no target row satisfies `already_there` (SQL
    over the target `t` and the source `s`). `current`: the table's schema, when known.
    Returns the rows inserted, or None when Delta did not say.

    An insert-only MERGE rather than an append: it reads the target, so two runs inserting the
    same rows at once conflict (one retries and finds them there) instead of both appending.
    """
    target_cols = add_missing_columns(spark, table, source.schema, current)
    target = table.sql
    insert = _insert(target_cols, _values(target_cols, source.columns))
    return _merge(
        spark,
        source,
        lambda view: (
            f"MERGE INTO {target} AS t USING {view} AS s ON {already_there}\n"
            f"WHEN NOT MATCHED THEN {insert}"
        ),
    ).get("inserted")


def date_predicate(column: str, dates: Iterable[date]) -> str:
    """A replaceWhere predicate built only from parsed `date` values, never from user text."""
    days = set(dates)
    if not days:
        raise ValueError("date_predicate needs at least one date")
    if not all(isinstance(d, date) for d in days):
        raise TypeError("date_predicate takes dates only")
    return sql.in_list(column, days)


def replace_partitions(
    table: Table,
    frame: DataFrame,
    column: str,
    dates: Iterable[date],
    *,
    merge_schema: bool = False,
) -> None:
    """Overwrite exactly the partitions of `dates` (emptying those with no rows) in one commit.

    By name, through the table's own overwrite by condition: `saveAsTable` would also write
    the table's schema back to the catalog at every run, which a Hive metastore refuses for
    a partitioned Delta table (an error logged, then a fallback) and no catalog needs."""
    predicate = date_predicate(column, dates)
    if table.by_name:
        writer_v2 = frame.writeTo(table.sql)
        if merge_schema:
            writer_v2 = writer_v2.option("mergeSchema", "true")
        writer_v2.overwrite(F.expr(predicate))
        return
    writer = frame.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    _save(writer, table, merge_schema=merge_schema)
