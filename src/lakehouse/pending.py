"""Event dates a silver step moved events off, handed to the gold step of the same ingest
date: once silver has committed, it no longer shows where a re-delivered event was, so a
crash before gold (or a gold step run as its own task) would otherwise leave those dates
stale. One row per attempt that moved any (ops/pending_event_dates), deleted by gold."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse import concurrency, sql, storage
from lakehouse.sources import Source
from lakehouse.tables import INGEST_DATE, PENDING_EVENT_DATES
from lakehouse.warehouse import Warehouse


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


def record(
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


def of_day(spark: SparkSession, warehouse: Warehouse, day: date) -> dict[str, PendingEventDates]:
    """Every source's pending event dates of `day`, from one read (the table is nearly
    always empty: rows live from a silver step that moves events until its gold step)."""
    rows = (
        storage.read(spark, PENDING_EVENT_DATES.table(warehouse))
        .where(F.col(INGEST_DATE) == sql.date_value(day))
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


def clear(
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
