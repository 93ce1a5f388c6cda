"""Every table's name, path, schema, partitioning and properties: the catalogue the layers
read (the sources themselves are declared in lakehouse.sources, creation is lakehouse.ddl)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pyspark.sql import types as T

from lakehouse.sources import SOURCES, Kind, Source, declared
from lakehouse.warehouse import Table, Warehouse, table_path

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
    # Maintenance sorts the files by these (OPTIMIZE ... ZORDER BY): a MERGE pruned to the
    # day's key range then reads and rewrites the files holding those keys, not the table.
    zorder_by: tuple[str, ...] = ()

    def path(self, root: str) -> str:
        """Its folder under a warehouse root (where a path or external table lives)."""
        return table_path(root, self.layer, self.name)

    def table(self, warehouse: Warehouse) -> Table:
        return replace(warehouse.table(self.layer, self.name), declared=tuple(self.schema.names))

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
            zorder_by=(source.key[0],),
        )
    return TableSpec(
        "silver",
        source.name,
        _fields(*typed_fields(source), *_RANK_META, (EVENT_DATE, T.DateType())),
        partition_by=(EVENT_DATE,),
        properties=(_DV,),
    )


def changes_spec(source: Source) -> TableSpec:
    """The complete change history of a source that feeds timelines (`keeps_changes`), so
    the timeline of any key can be recomputed from silver alone: each ingest date's
    top-ranked valid record per key and `updated_at`, in that date's partition. A run
    replaces its date's partition whole (no MERGE), so reruns and any order of runs leave the
    same table; which record of a key and `updated_at` counts across dates is decided when
    the history is read."""
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


def typed_field(source: Source, name: str) -> T.DataType:
    return next(SPARK_TYPES[c.kind] for c in source.columns if c.name == name)


def current_spec(source: Source) -> TableSpec:
    """The current-state table a source feeds: its key, the latest record's attributes,
    when it happened and the run that brought it."""
    current = declared(source.current, source)
    return TableSpec(
        "gold",
        current.table,
        _fields(
            *[(c, typed_field(source, c)) for c in (current.key, *current.attributes)],
            (current.time_column, T.TimestampType()),
            ("load_date", T.DateType()),
        ),
        properties=_GOLD_PROPS,
        zorder_by=(current.key,),
    )


def daily_spec(source: Source) -> TableSpec:
    """The daily event counts a source feeds, one partition per event date."""
    daily = declared(source.daily, source)
    return TableSpec(
        "gold",
        daily.table,
        _fields((EVENT_DATE, T.DateType()), (daily.dimension, _STR), ("event_count", T.LongType())),
        partition_by=(EVENT_DATE,),
        properties=_GOLD_PROPS,
    )


def history_spec(source: Source) -> TableSpec:
    """The timeline of versions a source feeds (contract section 6)."""
    history = declared(source.history, source)
    key = source.key[0]
    return TableSpec(
        "gold",
        history.table,
        _fields(
            (key, typed_field(source, key)),
            *[(c, typed_field(source, c)) for c in history.tracked],
            ("valid_from", T.TimestampType()),
            ("valid_to", T.TimestampType()),
            ("is_current", T.BooleanType()),
        ),
        properties=_GOLD_PROPS,
        zorder_by=(key,),
    )


_GOLD_KINDS = {"current": current_spec, "daily": daily_spec, "history": history_spec}


def gold_specs_of(
    source: Source, kinds: tuple[str, ...] = ("current", "daily", "history")
) -> tuple[TableSpec, ...]:
    """The gold tables of those `kinds` a source feeds, as it declares them."""
    return tuple(_GOLD_KINDS[kind](source) for kind in kinds if getattr(source, kind) is not None)


# Current-state and daily tables in source order, then the histories: the order of the docs.
GOLD_TABLES: tuple[TableSpec, ...] = (
    *[spec for source in SOURCES for spec in gold_specs_of(source, ("current", "daily"))],
    *[spec for source in SOURCES for spec in gold_specs_of(source, ("history",))],
)
_BY_NAME = {spec.name: spec for spec in GOLD_TABLES}
DIM_CUSTOMER_CURRENT = _BY_NAME["dim_customer_current"]
FACT_ORDER_CURRENT = _BY_NAME["fact_order_current"]
FACT_APP_EVENTS_DAILY = _BY_NAME["fact_app_events_daily"]
FACT_TICKET_CURRENT = _BY_NAME["fact_ticket_current"]
FACT_TICKET_EVENTS_DAILY = _BY_NAME["fact_ticket_events_daily"]
DIM_CUSTOMER_HISTORY = _BY_NAME["dim_customer_history"]
FACT_ORDER_HISTORY = _BY_NAME["fact_order_history"]


def tables_of(source: Source) -> tuple[TableSpec, ...]:
    """Every table a run of `source` writes, in the order the run writes them."""
    changes = (changes_spec(source),) if source.keeps_changes else ()
    return (
        bronze_spec(source),
        quarantine_spec(source),
        silver_spec(source),
        *changes,
        *gold_specs_of(source),
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
            # the day's files known after the load: in bronze, or read and found to hold no row
            T.StructField("bronze_files", T.LongType()),
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
            # the day's files in bronze that the attempt's silver and gold read (a skipped
            # attempt: as its load found them): what a rerun compares (lakehouse.run)
            T.StructField("bronze_files_read", T.LongType()),
        ]
    ),
    partition_by=(),
    properties=(("delta.appendOnly", "true"),),
)


# Event dates a silver step moved events off, until gold has recomputed them: one row per
# attempt that moved any (lakehouse.pending), deleted once gold is done.
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


def recorded_tables(source: Source) -> tuple[TableSpec, ...]:
    """Every table whose versions a source's run log row records, and so what a restore brings
    back: the tables its run writes, and for an event source the pending event dates, which
    tell gold what silver moved (undone with gold, they would leave gold stale for good)."""
    pending = (PENDING_EVENT_DATES,) if source.event_time else ()
    return (*tables_of(source), *pending)


def all_specs() -> list[TableSpec]:
    """Every table: each source's own, layer by layer, then gold in GOLD_TABLES' order and the
    job's own tables."""
    own = [spec for source in SOURCES for spec in tables_of(source) if spec.layer != "gold"]
    return [*own, *GOLD_TABLES, RUN_LOG, PENDING_EVENT_DATES]
