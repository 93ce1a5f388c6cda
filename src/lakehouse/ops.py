"""The run log: one row per source per run attempt, appended at the end of the attempt."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from lakehouse import concurrency, sql, storage
from lakehouse.tables import (
    INGEST_DATE,
    PENDING_EVENT_DATES,
    RUN_LOG,
    Source,
    TableSpec,
    tables_of,
)
from lakehouse.warehouse import Warehouse

log = logging.getLogger(__name__)

SUCCEEDED = "succeeded"  # silver and gold hold every bronze file of the day counted here
UNCHANGED = "unchanged"  # nothing new since a succeeded attempt: silver and gold skipped
NO_DATA = "no_data"  # no landing folder or file for the source on this date
REJECTED = "rejected"  # over its quarantine threshold: bronze and quarantine only
FAILED = "failed"
RESTORE = "restore"  # not a run: jobs/restore.py took the tables back (see `undid_runs`)

ALL_STEPS: tuple[str, ...] = ("bronze", "silver", "gold")


@dataclass
class SourceEntry:
    run_id: str
    run_date: date
    source: str
    started_at: datetime
    status: str = FAILED
    error: str | None = None
    duration_s: float = 0.0
    files_seen: int = 0
    files_loaded: int = 0
    bronze_files: int = 0
    rows_landed: int | None = None
    rows_quarantined: int | None = None
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    rows_valid: int | None = None
    rows_kept: int | None = None
    duplicates_dropped: int | None = None
    late_rows: int | None = None
    lag_days_max: int | None = None
    lag_days_p50: int | None = None
    lag_days_p95: int | None = None
    event_dates_replaced: list[date] = field(default_factory=list)
    gold_rows_inserted: int | None = None
    gold_rows_updated: int | None = None
    gold_rows_deleted: int | None = None
    table_versions_before: dict[str, int] = field(default_factory=dict)
    table_versions: dict[str, int] = field(default_factory=dict)
    steps: list[str] = field(default_factory=lambda: list(ALL_STEPS))
    # event dates whose silver rows this attempt's silver step changed: what a later
    # gold-only attempt must recompute besides the day's own dates
    silver_event_dates: list[date] = field(default_factory=list)
    undid_runs: list[str] = field(default_factory=list)

    def as_row(self) -> tuple[object, ...]:
        return tuple(getattr(self, f.name) for f in RUN_LOG.schema.fields)


def append(spark: SparkSession, warehouse: Warehouse, entries: Sequence[SourceEntry]) -> None:
    """One commit for the whole attempt; the table is append-only."""
    if not entries:
        return
    frame = spark.createDataFrame([e.as_row() for e in entries], RUN_LOG.schema)
    # mergeSchema: a run log written by an older release gains the newer columns.
    storage.append(frame, RUN_LOG.table(warehouse), merge_schema=True)


def versions_for(source: Source, versions: dict[str, int]) -> dict[str, int]:
    """Of every table's version (by qualified name), those of the tables a run of `source`
    writes (-1: not created)."""
    return {
        spec.qualified_name: versions.get(spec.qualified_name, -1) for spec in tables_of(source)
    }


def versions_of(
    spark: SparkSession, warehouse: Warehouse, specs: Iterable[TableSpec]
) -> dict[str, int]:
    """Each table's current version by its qualified name, from one listing (-1: not there)."""
    tables = {spec.qualified_name: spec.table(warehouse) for spec in specs}
    versions = storage.latest_versions(spark, list(tables.values()))
    return {name: versions[table] for name, table in tables.items()}


def _both_steps_done(steps: Sequence[str] | None) -> bool:
    """An attempt that ran silver and gold (rows from before `--steps` existed ran all)."""
    return steps is None or ("silver" in steps and "gold" in steps)


def _live_rows_of(
    spark: SparkSession, warehouse: Warehouse, day: date, columns: list[str]
) -> list[Row]:
    """The day's attempts that no restore undid, in one scan of the (small) run log and no
    shuffle: every run asks this before its first step, so it must cost one Spark job."""
    log_rows = storage.read(spark, RUN_LOG.table(warehouse))
    # A run log an older release wrote lacks the newer columns until this run appends.
    wanted = [
        F.col(c) if c in log_rows.columns else F.lit(None).alias(c)
        for c in ("run_id", "status", "undid_runs", *columns)
    ]
    rows = (
        log_rows.where((F.col("run_date") == F.lit(day)) | (F.col("status") == RESTORE))
        .select(*wanted)
        .collect()
    )
    undone = {u for r in rows if r["status"] == RESTORE for u in (r["undid_runs"] or [])}
    return [r for r in rows if r["status"] != RESTORE and r["run_id"] not in undone]


def processed_file_counts(
    spark: SparkSession, warehouse: Warehouse, day: date
) -> dict[str, set[int]]:
    """For each source, the bronze file counts that a finished attempt of `day` covered."""
    out: dict[str, set[int]] = {}
    for r in _live_rows_of(spark, warehouse, day, ["source", "bronze_files", "steps"]):
        if r["status"] in (SUCCEEDED, UNCHANGED) and _both_steps_done(r["steps"]):
            out.setdefault(r["source"], set()).add(int(r["bronze_files"]))
    return out


@dataclass(frozen=True)
class PendingEventDates:
    """Event dates a silver step of the day may have moved events off, not yet recomputed in
    gold: once silver has committed, it no longer shows where a re-delivered event was, so
    a crash before gold (or a gold-only step later) would otherwise leave them stale."""

    dates: frozenset[date] = frozenset()
    attempts: tuple[str, ...] = ()

    def and_attempt(self, attempt_id: str) -> PendingEventDates:
        """The same, and the row `attempt_id` wrote itself: cleared with the others."""
        return PendingEventDates(self.dates, tuple(sorted({*self.attempts, attempt_id})))


def record_pending_event_dates(
    spark: SparkSession,
    warehouse: Warehouse,
    source: Source,
    day: date,
    dates: Iterable[date],
    attempt_id: str | None = None,
) -> None:
    """Appended before silver commits, one row per attempt (a blind append: concurrent
    attempts never overwrite each other, and a crash leaves a whole row or none)."""
    row = (source.name, day, attempt_id or uuid.uuid4().hex, sorted(dates))
    frame = spark.createDataFrame([row], PENDING_EVENT_DATES.schema)
    storage.append(frame, PENDING_EVENT_DATES.table(warehouse))


def pending_event_dates_of_day(
    spark: SparkSession, warehouse: Warehouse, day: date
) -> dict[str, PendingEventDates]:
    """Every source's pending event dates of `day`, from one read (the table is nearly
    always empty: rows live from a silver step that moves events until its gold step)."""
    rows = (
        storage.read(spark, PENDING_EVENT_DATES.table(warehouse))
        .where(F.col(INGEST_DATE) == F.lit(day))
        .select("source", "attempt_id", "event_dates")
        .collect()
    )
    return {
        name: PendingEventDates(
            frozenset(d for r in rows if r["source"] == name for d in (r["event_dates"] or ())),
            tuple(sorted(r["attempt_id"] for r in rows if r["source"] == name)),
        )
        for name in {r["source"] for r in rows}
    }


def pending_event_dates(
    spark: SparkSession, warehouse: Warehouse, source: Source, day: date
) -> PendingEventDates:
    return pending_event_dates_of_day(spark, warehouse, day).get(source.name, PendingEventDates())


def clear_pending_event_dates(
    spark: SparkSession, warehouse: Warehouse, source: Source, pending: PendingEventDates
) -> None:
    """Once gold has recomputed the dates. Only the rows read: a concurrent attempt's newer
    row stays for its own gold step."""
    if not pending.attempts:
        return
    table = PENDING_EVENT_DATES.table(warehouse).sql
    where = sql.all_of(
        [
            f"{sql.column('source')} = {sql.literal(source.name)}",
            sql.in_list("attempt_id", pending.attempts),
        ]
    )
    concurrency.retry_on_conflict(
        "the pending event dates", lambda: spark.sql(f"DELETE FROM {table} WHERE {where}").collect()
    )
