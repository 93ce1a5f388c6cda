"""Creating the warehouse's tables as the catalogue (lakehouse.tables) declares them, safe
when two first runs race each other to it."""

from __future__ import annotations

import logging
import time

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from lakehouse import conditions, sql
from lakehouse.concurrency import at_once
from lakehouse.errors import NotADeltaTableError, TableCreationInProgressError
from lakehouse.files import exists, glob_literal, list_files, local_path, remove_abandoned_folder
from lakehouse.storage import latest_version, latest_versions, read
from lakehouse.tables import TableSpec, all_specs
from lakehouse.warehouse import Table, Warehouse

log = logging.getLogger(__name__)

# A creating run writes its table's first commit a moment after making the log folder; a log
# folder without a commit, unchanged for this long, was left by a run killed in between.
ABANDONED_LOG_AFTER_SECONDS = 10.0


def _create_statement(spec: TableSpec, table: Table, *, register: bool = False) -> str:
    """CREATE TABLE IF NOT EXISTS for the spec, in SQL (works over Spark Connect): names
    quoted, types as Spark prints them, properties as declared here; at the table's folder
    unless the catalog manages it. `register`: name the Delta table already in the folder
    (its schema and properties are the log's, drifted columns included)."""
    statement = f"CREATE TABLE IF NOT EXISTS {table.sql}"
    if not register:
        columns = ", ".join(f"{sql.ident(f.name)} {f.dataType.simpleString()}" for f in spec.schema)
        statement += f" ({columns})"
    statement += " USING delta"
    if spec.partition_by and not register:
        statement += f" PARTITIONED BY ({', '.join(sql.ident(c) for c in spec.partition_by)})"
    if table.by_name and table.path is not None:
        statement += f" LOCATION {sql.literal(table.path)}"
    if spec.properties and not register:
        props = ", ".join(f"{sql.literal(k)} = {sql.literal(v)}" for k, v in spec.properties)
        statement += f" TBLPROPERTIES ({props})"
    return statement


def ensure_table(
    spark: SparkSession,
    spec: TableSpec,
    warehouse: Warehouse,
    *,
    in_folder: int | None = None,
    folder_may_hold_files: bool = True,
    check_created: bool = True,
) -> None:
    """Create the table with its declared layout if it is not there yet; never alter data,
    and never create a table over a folder that holds other files. By name (its schema made
    by `ensure_tables`), a Delta table already in the folder (a warehouse run by path until
    now) is registered as it is.

    Two runs creating the same table at once both write its first commit: one loses with
    Delta's commit conflict, retried like any other. A run that finds the other's log folder
    started but its first commit not yet written creates nothing (Delta takes the folder for
    the table), or Delta reports "location not empty" or "table not found": either is raised
    as a lost race (retried), until the other's commit is there; a log folder that a killed
    run left without a commit is removed once idle, and the table created. By name, the
    loser of the race to the catalog's entry is told the table (or schema) exists: a lost
    race too.

    `in_folder` (the version of a Delta table in its folder, -1: none), `folder_may_hold_files`
    and `check_created` let `ensure_tables` skip what its own listings already answer.
    """
    table = spec.table(warehouse)
    if in_folder is None:
        in_folder = latest_version(spark, Table(table.path)) if table.path is not None else -1
    if table.path is not None and in_folder < 0:
        _remove_abandoned_log(table.path)
    if (
        table.path is not None
        and in_folder < 0
        and folder_may_hold_files
        and list_files(spark, glob_literal(table.path))
    ):
        raise NotADeltaTableError(table.path)
    try:
        spark.sql(_create_statement(spec, table, register=in_folder >= 0))
    except AnalysisException as exc:
        if conditions.is_creation_race(exc) and (
            table.by_name or exists(spark, f"{table.path}/_delta_log")
        ):
            raise TableCreationInProgressError(str(table)) from exc
        raise
    if check_created and latest_version(spark, table) < 0:
        raise TableCreationInProgressError(str(table))  # Delta took another run's log folder


def _remove_abandoned_log(table_path: str) -> None:
    """A run killed between making a table's log folder and writing its first commit leaves
    the folder without a commit, and Delta then takes any later creation there for another
    run's creation in progress: remove such a folder once it has been idle long enough that
    no live run can be writing into it. Only where this process sees the tables' disk (a
    local or mounted one); elsewhere the folder stays an error whose message says to remove
    it."""
    folder = local_path(f"{table_path}/_delta_log")
    if folder is not None and remove_abandoned_folder(
        folder, idle_seconds=ABANDONED_LOG_AFTER_SECONDS
    ):
        log.warning(
            "%s: removed the log folder without a commit that a run killed while creating "
            "this table left; creating the table again",
            table_path,
        )


_CREATE_THREADS = 4


def _wait_until_readable(spark: SparkSession, table: Table, attempts: int = 20) -> None:
    """A table another run created at the same moment can be reported missing for a short
    while (seen with two runs on a fresh warehouse): wait for it rather than fail."""
    for attempt in range(1, attempts + 1):
        try:
            read(spark, table).schema  # noqa: B018  (forces the lookup)
            return
        except AnalysisException as exc:
            if not conditions.is_missing_table(exc) or attempt == attempts:
                raise
            time.sleep(0.25 * attempt)


def _named_tables(spark: SparkSession, tables: list[Table]) -> set[Table]:
    """Which of the tables the catalog knows, from one listing per schema."""
    known: set[Table] = set()
    for schema in {t.schema_sql for t in tables}:
        try:
            rows = spark.sql(f"SHOW TABLES IN {schema}").collect()
        except AnalysisException as exc:
            if conditions.is_missing_schema(exc):
                continue
            raise
        names = {r["tableName"].lower() for r in rows}
        known |= {t for t in tables if t.schema_sql == schema and t.name[-1].lower() in names}
    return known


def ensure_tables(spark: SparkSession, warehouse: Warehouse) -> dict[str, int]:
    """Create the tables not there yet; each created here is readable when this returns.
    Returns every table's version by qualified name, as the run finds them.

    One listing of every table's log says which exist (by name: one listing per schema
    too). A fresh warehouse needs some twenty creations, each a small commit that mostly
    waits on the file system: a few at once take a fraction of the time one by one does. A
    table created now may be another run's creation of a moment ago, so it is read once
    before the run relies on it; one whose creation commit was listed is readable already.
    """
    specs = {spec.table(warehouse): spec for spec in all_specs()}
    versions = latest_versions(spark, list(specs))
    missing = [specs[t] for t, version in versions.items() if version < 0]
    if warehouse.catalog is not None:
        named = _named_tables(spark, list(specs))
        missing += [spec for t, spec in specs.items() if t not in named and versions[t] >= 0]
    for schema in sorted(
        {t.schema_sql for t, spec in specs.items() if t.by_name and spec in missing}
    ):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    if not missing:
        return {specs[t].qualified_name: v for t, v in versions.items()}
    # A warehouse folder not there yet (a first run) holds no stray files to refuse.
    root_exists = warehouse.catalog is not None or exists(spark, warehouse.root)

    def create(spec: TableSpec) -> None:
        table = spec.table(warehouse)  # listed by its folder where it has one
        in_folder = versions[table] if table.path is not None else -1
        ensure_table(
            spark,
            spec,
            warehouse,
            in_folder=in_folder,
            folder_may_hold_files=root_exists,
            check_created=False,
        )

    at_once(create, missing, threads=_CREATE_THREADS)  # a lost race is retried upstream
    # Created now (or by a run racing this one): their versions as they are, one listing.
    versions = latest_versions(spark, list(specs))
    for spec in missing:
        table = spec.table(warehouse)
        if versions[table] < 0:  # Delta took another run's log folder for a table
            raise TableCreationInProgressError(str(table))
        _wait_until_readable(spark, table)
    return {specs[t].qualified_name: v for t, v in versions.items()}
