"""Bronze: every landed row exactly once, as it arrived, partitioned by ingest date."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import faults, landing, sql, storage
from lakehouse.sources import Source
from lakehouse.tables import (
    INGEST_DATE,
    LOAD_TIME,
    PARSE_ERROR,
    RAW_RECORD,
    RUN_ID,
    SOURCE_FILE,
    bronze_spec,
    quarantine_spec,
)
from lakehouse.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BronzeResult:
    source: str
    files_seen: int
    files_loaded: int
    has_rows: bool  # whether bronze may hold rows for the day (so later steps have work)
    # The day's files known after this load: in bronze, or read and found to hold no row.
    bronze_files: int = 0
    in_bronze: int = 0  # the day's files in bronze as this load found them, before its insert
    rows_inserted: int | None = 0  # None: not known (Delta gave no count)


def with_landing_metadata(
    source: Source, ingest_date: date, run_id: str
) -> Callable[[DataFrame], DataFrame]:
    """Add where and when rows landed, and every schema column (null where a file lacked it)."""

    def transform(raw: DataFrame) -> DataFrame:
        present = set(raw.columns)
        schema_cols = [
            (F.col(sql.ident(c)) if c in present else F.lit(None)).cast("string").alias(c)
            for c in source.column_names
        ]
        meta = {RAW_RECORD, PARSE_ERROR, SOURCE_FILE}
        drifted = sorted(c for c in present if c not in meta and c not in source.column_names)
        return raw.select(
            *schema_cols,
            *[F.col(sql.ident(c)).cast("string").alias(c) for c in drifted],
            F.col(RAW_RECORD).cast("string").alias(RAW_RECORD),
            F.col(PARSE_ERROR).cast("string").alias(PARSE_ERROR),
            F.col(SOURCE_FILE),
            F.current_timestamp().alias(LOAD_TIME),
            F.lit(run_id).alias(RUN_ID),
            sql.date_value(ingest_date).alias(INGEST_DATE),
        )

    return transform


def partition(
    spark: SparkSession, warehouse: Warehouse, source: Source, ingest_date: date
) -> DataFrame:
    """All of bronze's partition for a day: what every later step of the run reads."""
    table = bronze_spec(source).table(warehouse)
    return storage.read(spark, table).where(F.col(INGEST_DATE) == sql.date_value(ingest_date))


def _file_names(stored: DataFrame) -> set[str]:
    return {str(r[0]) for r in stored.select(SOURCE_FILE).distinct().collect()}


def already_loaded(
    spark: SparkSession, warehouse: Warehouse, source: Source, ingest_date: date
) -> BronzeResult:
    """What bronze holds for the day, for a run that does not load (`--steps silver,gold`)."""
    return _held(source, partition(spark, warehouse, source, ingest_date))


def _held(source: Source, stored: DataFrame) -> BronzeResult:
    """Bronze's partition for the day as the later steps will read it, with nothing loaded."""
    files = len(_file_names(stored))
    return BronzeResult(source.name, 0, 0, has_rows=files > 0, bronze_files=files, in_bronze=files)


def load(
    spark: SparkSession,
    *,
    landing_root: str,
    warehouse: Warehouse,
    source: Source,
    ingest_date: date,
    run_id: str,
) -> BronzeResult:
    """Insert the day's files not loaded before, in one commit.

    A file is identified by its name within the day's folder, so a rerun loads nothing twice
    and a file that arrived late in an already-run day is picked up. The insert skips files
    already in the partition and conflicts with a concurrent load of the same day, so two
    runs at once cannot both land a file (the loser retries and finds it there).

    A drifted column new to bronze is added to the quarantine first (the quarantine holds
    every column bronze has, whatever the order dates are run in), so a crash in between
    leaves nothing for a rerun to miss.
    """
    files = landing.list_files(spark, landing_root, source, ingest_date)
    stored = partition(spark, warehouse, source, ingest_date)
    if not files:
        # Bronze may still hold the day: an earlier attempt landed it, stopped before gold,
        # and the landing folder was archived since. Later steps then complete it from bronze.
        # The partition's file listing (one Spark job) settles the usual case, an empty one.
        if not stored.inputFiles():
            return BronzeResult(source.name, 0, 0, has_rows=False)
        return _held(source, stored)
    done = _file_names(stored)
    new = [f for f in files if f.name not in done]
    raw = landing.read_files(spark, source, new) if new else None
    inserted: int | None = 0
    if raw is not None:
        rows = raw.transform(with_landing_metadata(source, ingest_date, run_id))
        drifted = [f for f in rows.schema.fields if f.name not in stored.columns]
        if drifted:
            storage.add_missing_columns(
                spark, quarantine_spec(source).table(warehouse), T.StructType(drifted)
            )
        faults.point("before", "bronze", source.name)
        inserted = storage.insert_new(
            spark,
            bronze_spec(source).table(warehouse),
            rows,
            sql.all_of(
                [
                    f"{sql.column(INGEST_DATE, 't')} = {sql.literal(ingest_date)}",
                    f"{sql.column(SOURCE_FILE, 't')} = {sql.column(SOURCE_FILE, 's')}",
                ]
            ),
            current=stored.schema,
        )
        faults.point("after", "bronze", source.name)
    return BronzeResult(
        source.name,
        len(files),
        len(new),
        has_rows=bool(done) or raw is not None,
        bronze_files=len(done) + len(new),
        in_bronze=len(done),
        rows_inserted=inserted,
    )
