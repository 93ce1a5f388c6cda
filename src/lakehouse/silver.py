"""Silver: typed, validated, one row per business key; bad rows go to quarantine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse import rules, storage
from lakehouse.errors import MissingColumnsError
from lakehouse.tables import (
    EVENT_DATE,
    INGEST_DATE,
    LOAD_TIME,
    PARSE_ERROR,
    RAW_RECORD,
    REASON,
    RECORD_HASH,
    RUN_ID,
    SOURCE_FILE,
    Source,
    quarantine_spec,
    silver_spec,
)

_BRONZE_META = (RAW_RECORD, PARSE_ERROR, SOURCE_FILE, LOAD_TIME, RUN_ID, INGEST_DATE)


def drifted_columns(source: Source, columns: list[str]) -> list[str]:
    """Columns beyond the source schema and our metadata, e.g. `phone` in the CRM."""
    known = set(source.column_names) | set(_BRONZE_META) | {REASON, RECORD_HASH, EVENT_DATE}
    return sorted(c for c in columns if c not in known)


def _require(frame: DataFrame, needed: list[str], where: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MissingColumnsError(where, missing)


def with_reason(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Add `_reason`: why a bronze row is bad, null for a valid row."""

    def transform(bronze: DataFrame) -> DataFrame:
        _require(bronze, [*source.column_names, PARSE_ERROR], f"with_reason({source.name})")
        return bronze.withColumn(REASON, rules.record_reason(source, F.col(PARSE_ERROR)))

    return transform


def quarantined(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Bad rows with their raw values, origin and reason."""

    def transform(checked: DataFrame) -> DataFrame:
        raw_cols = [*source.column_names, *drifted_columns(source, checked.columns)]
        return checked.where(F.col(REASON).isNotNull()).select(
            *[F.col(f"`{c}`") for c in raw_cols],
            RAW_RECORD,
            REASON,
            SOURCE_FILE,
            LOAD_TIME,
            RUN_ID,
            INGEST_DATE,
        )

    return transform


def typed(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Valid rows with typed values, drifted columns as strings, and the rank columns."""

    def transform(checked: DataFrame) -> DataFrame:
        drifted = drifted_columns(source, checked.columns)
        fingerprint = F.sha2(
            F.to_json(F.struct(*[F.col(f"`{c}`") for c in sorted(source.column_names + drifted)])),
            256,
        )
        out = checked.where(F.col(REASON).isNull()).select(
            *[rules.parse_value(c, F.col(c.name)).alias(c.name) for c in source.columns],
            *[F.col(f"`{c}`") for c in drifted],
            INGEST_DATE,
            SOURCE_FILE,
            fingerprint.alias(RECORD_HASH),
        )
        if source.event_time:
            out = out.withColumn(EVENT_DATE, F.to_date(source.event_time))
        return out

    return transform


def one_per_key(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Reduce to one row per business key: the latest for mutable sources, else the first
    arrival. The order is total, so the pick never depends on partitioning."""
    order = rules.latest_first() if source.mutable else rules.first_arrival_first()

    def transform(rows: DataFrame) -> DataFrame:
        window = Window.partitionBy(*source.key).orderBy(*order)
        return (
            rows.withColumn("_rank", F.row_number().over(window))
            .where(F.col("_rank") == 1)
            .drop("_rank")
        )

    return transform


@dataclass(frozen=True)
class SilverResult:
    source: str
    batch: DataFrame  # the day's valid rows, one per key: what gold must look at
    touched_event_dates: frozenset[date]


def process(
    spark: SparkSession, warehouse: str, source: Source, bronze_day: DataFrame, ingest_date: date
) -> SilverResult:
    """Quarantine the day's bad rows and fold its valid rows into silver.

    Reads all of bronze's partition for the day, not just what this run appended, so a run
    that crashed after bronze is healed by a rerun.
    """
    checked = bronze_day.transform(with_reason(source)).cache()
    try:
        quarantine = checked.transform(quarantined(source))
        q_path = quarantine_spec(source).path(warehouse)
        storage.add_missing_columns(spark, q_path, quarantine.schema)
        storage.replace_partitions(q_path, quarantine, INGEST_DATE, [ingest_date])

        batch = checked.transform(typed(source)).transform(one_per_key(source)).cache()
        path = silver_spec(source).path(warehouse)
        touched: set[date] = set()
        if source.event_time:
            # A re-delivery that wins may move an event to another day: both days change.
            before = storage.read(spark, path).join(
                batch.select(*source.key), list(source.key), "left_semi"
            )
            touched = storage.collect_dates(
                batch.select(EVENT_DATE).union(before.select(EVENT_DATE)), EVENT_DATE
            )
        storage.merge_by_key(
            spark,
            path,
            batch,
            source.key,
            update_when=rules.outranks(source, "s", "t"),
        )
        return SilverResult(source.name, batch, frozenset(touched))
    finally:
        checked.unpersist()
