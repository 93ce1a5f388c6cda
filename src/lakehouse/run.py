"""One run of one ingest date: bronze, then silver, then gold. Returns what it did."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import date

from pyspark.sql import SparkSession

from lakehouse import bronze, gold, landing, silver
from lakehouse.config import Settings
from lakehouse.tables import SOURCES, ensure_tables

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_id: str
    run_date: date
    files_loaded: dict[str, int] = field(default_factory=dict)
    touched_event_dates: dict[str, list[date]] = field(default_factory=dict)


def new_run_id(run_date: date) -> str:
    """Unique per attempt; never derived from the clock."""
    return f"{run_date.isoformat()}-{uuid.uuid4().hex[:12]}"


def run_date(
    spark: SparkSession, settings: Settings, day: date, *, run_id: str | None = None
) -> RunResult:
    """Process one ingest date. Every step after bronze reads all of bronze's partition for
    the day, so each is a pure function of committed data and a rerun heals a crash."""
    result = RunResult(run_id=run_id or new_run_id(day), run_date=day)
    started = time.monotonic()
    ensure_tables(spark, settings.warehouse)
    with_rows = []
    for source in SOURCES:
        t0 = time.monotonic()
        landing.warn_on_stray_folders(spark, settings.landing, source)
        loaded = bronze.load(
            spark,
            landing_root=settings.landing,
            warehouse=settings.warehouse,
            source=source,
            ingest_date=day,
            run_id=result.run_id,
        )
        result.files_loaded[source.name] = loaded.files_loaded
        if loaded.has_rows:
            with_rows.append(source)
        log.info(
            "bronze %s %s: %d file(s) seen, %d loaded (%.1fs)",
            source.name,
            day,
            loaded.files_seen,
            loaded.files_loaded,
            time.monotonic() - t0,
        )
    for source in with_rows:
        t0 = time.monotonic()
        bronze_day = bronze.partition(spark, settings.warehouse, source, day)
        processed = silver.process(spark, settings.warehouse, source, bronze_day, day)
        try:
            log.info("silver %s %s: done (%.1fs)", source.name, day, time.monotonic() - t0)
            t0 = time.monotonic()
            gold.update(spark, settings.warehouse, processed, source)
            result.touched_event_dates[source.name] = sorted(processed.touched_event_dates)
            log.info("gold %s %s: done (%.1fs)", source.name, day, time.monotonic() - t0)
        finally:
            processed.batch.unpersist()
    log.info("run %s for %s finished in %.1fs", result.run_id, day, time.monotonic() - started)
    return result
