"""Every table's name, path, schema, partitioning and properties, and the source schemas."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse import sql
from lakehouse.errors import NotADeltaTableError, TableCreationInProgressError
from lakehouse.storage import (
    MISSING_TABLE,
    exists,
    glob_literal,
    latest_version,
    latest_versions,
    list_files,
    read,
)
from lakehouse.warehouse import Table, Warehouse, table_path


class Kind(Enum):
    """How a column of a source is typed and validated."""

    KEY = "integer key"  # INT, not null
    DECIMAL = "decimal(10,2)"  # not null, >= 0, at most two fractional digits
    TIMESTAMP = "timestamp"  # not null, one of the contract's formats
    REQUIRED_TEXT = "non-empty text"
    TEXT = "text"  # free text, may be empty
    FLAG = "optional true/false"  # missing or empty means false


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    optional_in_file: bool = False  # may be absent from a file's header without error


@dataclass(frozen=True)
class Source:
    """One landing source: its schema and how its records are identified and ordered."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    mutable: bool  # True: "latest wins" by updated_at; False: first arrival of a key wins
    event_time: str | None = None  # events: the column whose date partitions silver and gold

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.optional_in_file]


CRM = Source(
    "crm_customer_updates",
    (
        Column("customer_id", Kind.KEY),
        Column("full_name", Kind.TEXT),
        Column("email", Kind.TEXT),
        Column("tier", Kind.TEXT),
        Column("updated_at", Kind.TIMESTAMP),
        Column("is_deleted", Kind.FLAG, optional_in_file=True),
    ),
    key=("customer_id",),
    mutable=True,
)
ORDERS = Source(
    "order_updates",
    (
        Column("order_id", Kind.KEY),
        Column("customer_id", Kind.KEY),
        Column("order_total", Kind.DECIMAL),
        Column("status", Kind.REQUIRED_TEXT),
        Column("updated_at", Kind.TIMESTAMP),
    ),
    key=("order_id",),
    mutable=True,
)
APP_EVENTS = Source(
    "app_events",
    (
        Column("event_id", Kind.KEY),
        Column("customer_id", Kind.KEY),
        Column("event_type", Kind.REQUIRED_TEXT),
        Column("event_ts", Kind.TIMESTAMP),
    ),
    key=("event_id",),
    mutable=False,
    event_time="event_ts",
)
TICKETS = Source(
    "ticket_events",
    (
        Column("ticket_id", Kind.KEY),
        Column("customer_id", Kind.KEY),
        Column("status", Kind.REQUIRED_TEXT),
        Column("event_ts", Kind.TIMESTAMP),
        Column("ingested_at", Kind.TIMESTAMP),
    ),
    key=("ticket_id", "event_ts"),
    mutable=False,
    event_time="event_ts",
)
SOURCES: tuple[Source, ...] = (CRM, ORDERS, APP_EVENTS, TICKETS)

# Metadata columns. The leading underscore keeps them apart from source columns, drifted
# ones included.
INGEST_DATE = "_ingest_date"
SOURCE_FILE = "_source_file"
LOAD_TIME = "_load_time"
RUN_ID = "_run_id"
RAW_RECORD = "_raw_record"  # the raw text of a line that could not be parsed
PARSE_ERROR = "_parse_error"  # why a line or its file could not be parsed
RECORD_HASH = "_record_hash"  # fingerprint of a record's values: the last tie-breaker
REASON = "_reason"
EVENT_DATE = "event_date"

SPARK_TYPES: dict[Kind, T.DataType] = {
    Kind.KEY: T.IntegerType(),
    Kind.DECIMAL: T.DecimalType(10, 2),
    Kind.TIMESTAMP: T.TimestampType(),
    Kind.REQUIRED_TEXT: T.StringType(),
    Kind.TEXT: T.StringType(),
    Kind.FLAG: T.BooleanType(),
}


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()

    def path(self, root: str) -> str:
        """Its folder under a warehouse root (where a path or external table lives)."""
        return table_path(root, self.layer, self.name)

    def table(self, warehouse: Warehouse) -> Table:
        return warehouse.table(self.layer, self.name)

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}/{self.name}"


_STR = T.StringType()
_DV = ("delta.enableDeletionVectors", "true")


def _fields(*pairs: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(n, t, True) for n, t in pairs])


def bronze_spec(source: Source) -> TableSpec:
    """Values exactly as they arrived (strings), plus where and when they landed."""
    return TableSpec(
        "bronze",
        source.name,
        _fields(
            *[(c, _STR) for c in source.column_names],
            (RAW_RECORD, _STR),
            (PARSE_ERROR, _STR),
            (SOURCE_FILE, _STR),
            (LOAD_TIME, T.TimestampType()),
            (RUN_ID, _STR),
            (INGEST_DATE, T.DateType()),
        ),
        partition_by=(INGEST_DATE,),
        properties=(("delta.appendOnly", "true"),),
    )


def quarantine_spec(source: Source) -> TableSpec:
    """Bad rows with their raw values, where they came from and why they failed."""
    return TableSpec(
        "quarantine",
        source.name,
        _fields(
            *[(c, _STR) for c in source.column_names],
            (RAW_RECORD, _STR),
            (REASON, _STR),
            (SOURCE_FILE, _STR),
            (LOAD_TIME, T.TimestampType()),
            (RUN_ID, _STR),
            (INGEST_DATE, T.DateType()),
        ),
        partition_by=(INGEST_DATE,),
    )


def typed_fields(source: Source) -> list[tuple[str, T.DataType]]:
    return [(c.name, SPARK_TYPES[c.kind]) for c in source.columns]


_RANK_META = (
    (INGEST_DATE, T.DateType()),
    (SOURCE_FILE, _STR),
    (RECORD_HASH, _STR),
)


def silver_spec(source: Source) -> TableSpec:
    """Typed, valid, one row per business key; the rank columns decide any later contest.

    Mutable sources keep the latest record per key, deletion tombstones included, so an
    older update that lands after a deletion cannot bring the key back. Event sources keep
    the first arrival per key and are partitioned by event date.
    """
    if source.mutable:
        return TableSpec(
            "silver",
            source.name,
            _fields(*typed_fields(source), *_RANK_META),
            properties=(_DV,),
        )
    return TableSpec(
        "silver",
        source.name,
        _fields(*typed_fields(source), *_RANK_META, (EVENT_DATE, T.DateType())),
        partition_by=(EVENT_DATE,),
        properties=(_DV,),
    )


def changes_spec(source: Source) -> TableSpec:
    """A mutable source's complete change history, so the timeline of any key can be
    recomputed from silver alone: each ingest date's top-ranked valid record per key and
    `updated_at`, in that date's partition. A run replaces its date's partition whole (no
    MERGE), so reruns and any order of runs leave the same table; which record of a key and
    `updated_at` counts across dates is decided when the history is read."""
    return TableSpec(
        "silver",
        f"{source.name}_changes",
        _fields(*typed_fields(source), *_RANK_META),
        partition_by=(INGEST_DATE,),
        properties=(_DV,),
    )


# Every gold table publishes its changes, so consumers can read what each run changed.
_CDF = ("delta.enableChangeDataFeed", "true")
# Gold is read by engines outside the job (delta-rs, and pandas and most Python Delta tooling
# through it, lack deletion vectors): its MERGEs copy on write. Stated off, not left to a
# default, as Databricks turns deletion vectors on for new tables by default.
_NO_DV = ("delta.enableDeletionVectors", "false")
_GOLD_PROPS = (_NO_DV, _CDF)
# Table features a gold table must not carry, dropped by maintenance where an earlier release
# (or a platform default) added them: each raises the protocol beyond those readers.
GOLD_FORBIDDEN_FEATURES = ("deletionVectors",)

DIM_CUSTOMER_CURRENT = TableSpec(
    "gold",
    "dim_customer_current",
    _fields(
        ("customer_id", T.IntegerType()),
        ("full_name", _STR),
        ("email", _STR),
        ("tier", _STR),
        ("last_updated_at", T.TimestampType()),
        ("load_date", T.DateType()),
    ),
    properties=_GOLD_PROPS,
)
FACT_ORDER_CURRENT = TableSpec(
    "gold",
    "fact_order_current",
    _fields(
        ("order_id", T.IntegerType()),
        ("customer_id", T.IntegerType()),
        ("order_total", T.DecimalType(10, 2)),
        ("status", _STR),
        ("last_updated_at", T.TimestampType()),
        ("load_date", T.DateType()),
    ),
    properties=_GOLD_PROPS,
)
FACT_APP_EVENTS_DAILY = TableSpec(
    "gold",
    "fact_app_events_daily",
    _fields(
        (EVENT_DATE, T.DateType()),
        ("event_type", _STR),
        ("event_count", T.LongType()),
    ),
    partition_by=(EVENT_DATE,),
    properties=_GOLD_PROPS,
)
FACT_TICKET_CURRENT = TableSpec(
    "gold",
    "fact_ticket_current",
    _fields(
        ("ticket_id", T.IntegerType()),
        ("customer_id", T.IntegerType()),
        ("status", _STR),
        ("last_event_ts", T.TimestampType()),
        ("load_date", T.DateType()),
    ),
    properties=_GOLD_PROPS,
)
FACT_TICKET_EVENTS_DAILY = TableSpec(
    "gold",
    "fact_ticket_events_daily",
    _fields(
        (EVENT_DATE, T.DateType()),
        ("status", _STR),
        ("event_count", T.LongType()),
    ),
    partition_by=(EVENT_DATE,),
    properties=_GOLD_PROPS,
)

_VALIDITY = (
    ("valid_from", T.TimestampType()),
    ("valid_to", T.TimestampType()),
    ("is_current", T.BooleanType()),
)
DIM_CUSTOMER_HISTORY = TableSpec(
    "gold",
    "dim_customer_history",
    _fields(
        ("customer_id", T.IntegerType()),
        ("full_name", _STR),
        ("email", _STR),
        ("tier", _STR),
        *_VALIDITY,
    ),
    properties=_GOLD_PROPS,
)
FACT_ORDER_HISTORY = TableSpec(
    "gold",
    "fact_order_history",
    _fields(
        ("order_id", T.IntegerType()),
        ("customer_id", T.IntegerType()),
        ("order_total", T.DecimalType(10, 2)),
        ("status", _STR),
        *_VALIDITY,
    ),
    properties=_GOLD_PROPS,
)


@dataclass(frozen=True)
class Timeline:
    """How a mutable source's history table is built: its key and tracked attributes."""

    source: Source
    spec: TableSpec
    tracked: tuple[str, ...]
    deletion_flag: str | None = None


CUSTOMER_TIMELINE = Timeline(
    CRM, DIM_CUSTOMER_HISTORY, ("full_name", "email", "tier"), deletion_flag="is_deleted"
)
ORDER_TIMELINE = Timeline(ORDERS, FACT_ORDER_HISTORY, ("customer_id", "order_total", "status"))
TIMELINES: dict[str, Timeline] = {CRM.name: CUSTOMER_TIMELINE, ORDERS.name: ORDER_TIMELINE}

GOLD_TABLES: tuple[TableSpec, ...] = (
    DIM_CUSTOMER_CURRENT,
    FACT_ORDER_CURRENT,
    FACT_APP_EVENTS_DAILY,
    FACT_TICKET_CURRENT,
    FACT_TICKET_EVENTS_DAILY,
    DIM_CUSTOMER_HISTORY,
    FACT_ORDER_HISTORY,
)

GOLD_FED_BY: dict[str, tuple[TableSpec, ...]] = {
    CRM.name: (DIM_CUSTOMER_CURRENT, DIM_CUSTOMER_HISTORY),
    ORDERS.name: (FACT_ORDER_CURRENT, FACT_ORDER_HISTORY),
    APP_EVENTS.name: (FACT_APP_EVENTS_DAILY,),
    TICKETS.name: (FACT_TICKET_CURRENT, FACT_TICKET_EVENTS_DAILY),
}


def tables_of(source: Source) -> tuple[TableSpec, ...]:
    """Every table a run of `source` writes, in the order the run writes them."""
    changes = (changes_spec(source),) if source.mutable else ()
    return (
        (bronze_spec(source), quarantine_spec(source), silver_spec(source))
        + changes
        + GOLD_FED_BY[source.name]
    )


# One row per source per run attempt: what came in, where it went, what it wrote.
RUN_LOG = TableSpec(
    "ops",
    "run_log",
    T.StructType(
        [
            T.StructField("run_id", _STR),
            T.StructField("run_date", T.DateType()),
            T.StructField("source", _STR),
            T.StructField("status", _STR),  # see lakehouse.ops
            T.StructField("error", _STR),
            T.StructField("started_at", T.TimestampType()),
            T.StructField("duration_s", T.DoubleType()),
            T.StructField("files_seen", T.LongType()),
            T.StructField("files_loaded", T.LongType()),
            T.StructField("bronze_files", T.LongType()),  # files of the day now in bronze
            T.StructField("rows_landed", T.LongType()),
            T.StructField("rows_quarantined", T.LongType()),
            T.StructField("quarantined_by_reason", T.MapType(_STR, T.LongType())),
            T.StructField("rows_valid", T.LongType()),
            T.StructField("rows_kept", T.LongType()),
            T.StructField("duplicates_dropped", T.LongType()),
            T.StructField("late_rows", T.LongType()),
            T.StructField("lag_days_max", T.LongType()),
            T.StructField("lag_days_p50", T.LongType()),
            T.StructField("lag_days_p95", T.LongType()),
            T.StructField("event_dates_replaced", T.ArrayType(T.DateType())),
            T.StructField("gold_rows_inserted", T.LongType()),
            T.StructField("gold_rows_updated", T.LongType()),
            T.StructField("gold_rows_deleted", T.LongType()),
            # "layer/name" -> the table's version before this attempt wrote, and after it
            T.StructField("table_versions_before", T.MapType(_STR, T.LongType())),
            T.StructField("table_versions", T.MapType(_STR, T.LongType())),
            T.StructField("steps", T.ArrayType(_STR)),  # the layers this attempt ran
            T.StructField("silver_event_dates", T.ArrayType(T.DateType())),
            T.StructField("undid_runs", T.ArrayType(_STR)),  # status "restore" only
        ]
    ),
    partition_by=(),
    properties=(("delta.appendOnly", "true"),),
)


# Event dates a silver step moved events off, until gold has recomputed them: one row per
# attempt that moved any (lakehouse.ops), deleted once gold is done.
PENDING_EVENT_DATES = TableSpec(
    "ops",
    "pending_event_dates",
    _fields(
        ("source", _STR),
        (INGEST_DATE, T.DateType()),
        ("attempt_id", _STR),
        ("event_dates", T.ArrayType(T.DateType())),
    ),
    partition_by=("source",),
)


def all_specs() -> list[TableSpec]:
    specs: list[TableSpec] = []
    for source in SOURCES:
        specs += [bronze_spec(source), quarantine_spec(source), silver_spec(source)]
        if source.mutable:
            specs.append(changes_spec(source))
    return specs + list(GOLD_TABLES) + [RUN_LOG, PENDING_EVENT_DATES]


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


_RACING = frozenset(
    {
        "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION",
        "DELTA_TABLE_NOT_FOUND",
        "TABLE_OR_VIEW_ALREADY_EXISTS",
        "SCHEMA_ALREADY_EXISTS",
    }
)


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
    as a lost race (retried), until the other's commit is there. By name, the loser of the
    race to the catalog's entry is told the table (or schema) exists: a lost race too.

    `in_folder` (the version of a Delta table in its folder, -1: none), `folder_may_hold_files`
    and `check_created` let `ensure_tables` skip what its own listings already answer.
    """
    table = spec.table(warehouse)
    if in_folder is None:
        in_folder = latest_version(spark, Table(table.path)) if table.path is not None else -1
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
        if exc.getCondition() in _RACING and (
            table.by_name or exists(spark, f"{table.path}/_delta_log")
        ):
            raise TableCreationInProgressError(str(table)) from exc
        raise
    if check_created and latest_version(spark, table) < 0:
        raise TableCreationInProgressError(str(table))  # Delta took another run's log folder


_CREATE_THREADS = 4


def _wait_until_readable(spark: SparkSession, table: Table, attempts: int = 20) -> None:
    """A table another run created at the same moment can be reported missing for a short
    while (seen with two runs on a fresh warehouse): wait for it rather than fail."""
    for attempt in range(1, attempts + 1):
        try:
            read(spark, table).schema  # noqa: B018  (forces the lookup)
            return
        except AnalysisException as exc:
            if exc.getCondition() not in MISSING_TABLE or attempt == attempts:
                raise
            time.sleep(0.25 * attempt)


def _named_tables(spark: SparkSession, tables: list[Table]) -> set[Table]:
    """Which of the tables the catalog knows, from one listing per schema."""
    known: set[Table] = set()
    for schema in {t.schema_sql for t in tables}:
        try:
            rows = spark.sql(f"SHOW TABLES IN {schema}").collect()
        except AnalysisException as exc:
            if exc.getCondition() == "SCHEMA_NOT_FOUND":
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

    with ThreadPoolExecutor(max_workers=_CREATE_THREADS) as pool:
        # list() re-raises the first failure (a lost creation race is retried upstream)
        list(pool.map(create, missing))
    # Created now (or by a run racing this one): their versions as they are, one listing.
    versions = latest_versions(spark, list(specs))
    for spec in missing:
        table = spec.table(warehouse)
        if versions[table] < 0:  # Delta took another run's log folder for a table
            raise TableCreationInProgressError(str(table))
        _wait_until_readable(spark, table)
    return {specs[t].qualified_name: v for t, v in versions.items()}
