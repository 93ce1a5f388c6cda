"""A long history, quickly: every table a run of dates D1..DN leaves, written in one pass.

The daily job folds one ingest date at a time into silver and gold; because the final state
depends only on which dates ran (CONTRACT.md, section 3), all N dates can be folded at once
with the same pure transforms: bronze gets every day's files (one commit), quarantine every
bad row, silver the top-ranked record of every key over all days, the change history each day's
top-ranked changes, and gold is computed from those. `check_against_daily_runs` proves the
shortcut on a short prefix: every table but the run log equals what day-by-day runs leave,
row for row (load time and run id aside). `maintained` then lays the keyed tables out as
`jobs/maintenance.py` leaves them. Used by `make bench-horizon` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import reduce

from pyspark.sql import DataFrame, SparkSession

from lakehouse import bronze, gold, landing, silver
from lakehouse.ddl import ensure_tables
from lakehouse.maintenance import MAX_FILE_SIZE, keyed_specs, maintain
from lakehouse.session import runtime_settings
from lakehouse.sources import SOURCES
from lakehouse.tables import (
    RUN_LOG,
    TableSpec,
    all_specs,
    bronze_spec,
    changes_spec,
    quarantine_spec,
    silver_spec,
)
from lakehouse.warehouse import Warehouse

VOLATILE = ("_load_time", "_run_id")


def _append(frame: DataFrame, spec: TableSpec, warehouse: str) -> None:
    frame.write.format("delta").mode("append").option("mergeSchema", "true").save(
        spec.path(warehouse)
    )


def backfill(spark: SparkSession, landing_root: str, warehouse: str, days: Sequence[date]) -> None:
    """Write the tables of a fresh warehouse that has run `days` (no quality thresholds)."""
    ensure_tables(spark, Warehouse(warehouse))
    for source in SOURCES:
        frames = []
        for day in days:
            files = landing.list_files(spark, landing_root, source, day)
            raw = landing.read_files(spark, source, files) if files else None
            if raw is not None:
                frames.append(
                    raw.transform(
                        bronze.with_landing_metadata(source, day, f"backfill-{day.isoformat()}")
                    )
                )
        if frames:
            rows = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
            _append(rows, bronze_spec(source), warehouse)
        all_bronze = spark.read.format("delta").load(bronze_spec(source).path(warehouse))
        checked = all_bronze.transform(silver.with_reason(source))
        _append(checked.transform(silver.quarantined(source)), quarantine_spec(source), warehouse)
        valid = checked.transform(silver.typed(source))
        _append(valid.transform(silver.one_per_key(source)), silver_spec(source), warehouse)
        if source.mutable:
            history = valid.transform(silver.changes_of_each_day(source))
            _append(history, changes_spec(source), warehouse)

    def read(spec: TableSpec) -> DataFrame:
        return spark.read.format("delta").load(spec.path(warehouse))

    for source in SOURCES:
        changes = read(changes_spec(source)) if source.mutable else None
        for spec, frame in gold.whole_tables(source, read(silver_spec(source)), changes):
            _append(frame, spec, warehouse)


def maintained(spark: SparkSession, warehouse: str, max_file_bytes: int) -> None:
    """The tables maintenance sorts by key, sorted so in files of at most `max_file_bytes`,
    as `jobs/maintenance.py` leaves them (the other tables the backfill already writes in few
    files). Rows unchanged."""
    with runtime_settings(spark, {MAX_FILE_SIZE: str(max_file_bytes)}):
        maintain(spark, Warehouse(warehouse), vacuum=False, specs=keyed_specs())


def differing_rows(
    spark: SparkSession, left: str, right: str, specs: Sequence[TableSpec] | None = None
) -> dict[str, int]:
    """Rows in one warehouse's table but not the other's, load time and run id aside, for
    `specs` (default: every table but the run log, which records attempts); -1 where the
    columns differ."""
    out: dict[str, int] = {}
    for spec in specs if specs is not None else [s for s in all_specs() if s is not RUN_LOG]:
        a = spark.read.format("delta").load(spec.path(left))
        b = spark.read.format("delta").load(spec.path(right))
        columns = sorted(c for c in a.columns if c not in VOLATILE)
        if sorted(c for c in b.columns if c not in VOLATILE) != columns:
            out[spec.qualified_name] = -1  # the columns differ
            continue
        a, b = a.select(columns), b.select(columns)
        out[spec.qualified_name] = a.exceptAll(b).count() + b.exceptAll(a).count()
    return out
