"""One run of one ingest date: bronze, then silver, then gold, then the run log."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from lakehouse import bronze, concurrency, faults, gold, ops, silver, storage
from lakehouse.config import Settings
from lakehouse.errors import ConcurrentRunError, InjectedFault, QualityThresholdError
from lakehouse.tables import SOURCES, Source, all_specs, ensure_tables

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_id: str
    run_date: date
    entries: dict[str, ops.SourceEntry] = field(default_factory=dict)

    @property
    def files_loaded(self) -> dict[str, int]:
        return {name: e.files_loaded for name, e in self.entries.items()}

    @property
    def touched_event_dates(self) -> dict[str, list[date]]:
        return {
            n: e.event_dates_replaced for n, e in self.entries.items() if e.event_dates_replaced
        }


def new_run_id(run_date: date) -> str:
    """Unique per attempt; never derived from the clock."""
    return f"{run_date.isoformat()}-{uuid.uuid4().hex[:12]}"


def run_date(
    spark: SparkSession,
    settings: Settings,
    day: date,
    *,
    run_id: str | None = None,
    steps: Sequence[str] = ops.ALL_STEPS,
) -> RunResult:
    """Process one ingest date. Every step after bronze reads all of bronze's partition for
    the day, so each is a pure function of committed data and a rerun heals a crash.

    `steps` runs a subset of the layers (a scheduler's separate tasks); each is idempotent on
    its own. A source with no new file since an attempt that finished silver and gold is not
    processed again: the run log says they already reflect every file of the day.
    """
    steps = tuple(s for s in ops.ALL_STEPS if s in steps)
    result = RunResult(run_id=run_id or new_run_id(day), run_date=day)
    started = time.monotonic()
    versions_before, finished_before = _prepare(spark, settings, day)
    # Event dates earlier attempts' silver steps moved events off, for the gold steps.
    pending = ops.pending_event_dates_of_day(spark, settings.tables, day) if "gold" in steps else {}
    entries = result.entries

    def one_source(source: Source) -> None:
        entry = _bronze_step(spark, settings, source, day, result.run_id, load="bronze" in steps)
        entry.table_versions_before = ops.versions_for(source, versions_before)
        entry.steps = list(steps)
        entries[source.name] = entry
        try:
            if entry.status == ops.NO_DATA:
                return
            if "silver" not in steps and "gold" not in steps:
                entry.status = ops.SUCCEEDED
                return
            if (
                "silver" in steps
                and "gold" in steps
                and entry.files_loaded == 0
                and entry.bronze_files in finished_before.get(source.name, set())
            ):
                entry.status = ops.UNCHANGED
                log.info(
                    "silver+gold %s %s: unchanged since a finished run, skipped", source.name, day
                )
                return
            _silver_gold_step(
                spark,
                settings,
                source,
                day,
                entry,
                steps,
                pending.get(source.name, ops.PendingEventDates()),
            )
        except Exception as exc:
            entry.error = f"{type(exc).__name__}: {exc}"[:2000]
            raise

    try:
        _for_each_source(one_source, settings.source_threads)
    except Exception as exc:
        _in_source_order(entries)
        _record_versions(spark, settings, entries)
        if not isinstance(exc, InjectedFault):  # a simulated crash writes nothing more
            for entry in entries.values():
                if entry.status == ops.FAILED and entry.error is None:
                    entry.error = f"{type(exc).__name__}: {exc}"[:2000]
            try:
                ops.append(spark, settings.tables, list(entries.values()))
            except Exception:  # never hide the failure that ended the run
                log.exception("could not record the failed run in the run log")
        raise
    _in_source_order(entries)
    _record_versions(spark, settings, entries)
    faults.point("before", "run_log")
    ops.append(spark, settings.tables, list(entries.values()))
    faults.point("after", "run_log")
    log.info("run %s for %s finished in %.1fs", result.run_id, day, time.monotonic() - started)
    rejected = [e for e in entries.values() if e.status == ops.REJECTED]
    if rejected:
        raise QualityThresholdError(
            "; ".join(
                f"{e.source}: {e.rows_quarantined} of {e.rows_landed} rows quarantined "
                f"({(e.rows_quarantined or 0) / max(e.rows_landed or 1, 1):.1%}), over the "
                f"threshold {settings.max_quarantined_share[e.source]:.1%}"
                for e in rejected
            )
        )
    return result


def _prepare(
    spark: SparkSession, settings: Settings, day: date
) -> tuple[dict[str, int], dict[str, set[int]]]:
    """Create missing tables; return every table's version as the run finds it (what an undo
    of this run goes back to) and what finished attempts of `day` covered.

    Two first runs on an empty warehouse race to create the tables; the loser's conflict is
    retried, and if Delta still reports a just-created table missing, the run stops with a
    clear error (a rerun succeeds) rather than an obscure one.
    """
    try:
        versions = concurrency.retry_on_conflict(
            "the table definitions", lambda: ensure_tables(spark, settings.tables)
        )
        return versions, ops.processed_file_counts(spark, settings.tables, day)
    except AnalysisException as exc:
        if exc.getCondition() not in storage.MISSING_TABLE:
            raise
        raise ConcurrentRunError(
            f"another run is creating the tables of {settings.tables} ({exc}); "
            "rerun this date when it has finished"
        ) from exc


def run_dates(
    spark: SparkSession,
    settings: Settings,
    days: Sequence[date],
    *,
    steps: Sequence[str] = ops.ALL_STEPS,
) -> list[RunResult]:
    """Run dates one after another in one session (a backfill), a progress line per date.

    Exactly what one run per date would give, as each date is the same `run_date`. Stops at
    the first date that fails, so a rerun of the range picks up from there (finished dates
    are skipped quickly: nothing new in their landing folders). A date over a quality
    threshold does not stop the range; the error is raised once all dates have run.
    """
    results: list[RunResult] = []
    over_threshold: list[str] = []
    started = time.monotonic()
    for i, day in enumerate(days, start=1):
        try:
            results.append(run_date(spark, settings, day, steps=steps))
        except QualityThresholdError as exc:
            over_threshold.append(f"{day}: {exc}")
        except Exception:
            log.error("date %d/%d, %s, failed: the range stops here", i, len(days), day)
            raise
        elapsed = time.monotonic() - started
        log.info(
            "progress: %d/%d dates done (%s), %.0fs elapsed, about %.0fs left",
            i,
            len(days),
            day,
            elapsed,
            elapsed / i * (len(days) - i),
        )
    if over_threshold:
        raise QualityThresholdError("; ".join(over_threshold))
    return results


def _in_source_order(entries: dict[str, ops.SourceEntry]) -> None:
    """Sources finish in any order when run at once; the run log lists them in one order."""
    ordered = [(s.name, entries[s.name]) for s in SOURCES if s.name in entries]
    entries.clear()
    entries.update(ordered)


def _for_each_source(work: Callable[[Source], None], threads: int) -> None:
    """Run `work` for every source, `threads` at a time, and wait for all of them.

    The sources write disjoint tables, so they cannot conflict with each other. With threads,
    a failure does not stop the other sources' steps (each is idempotent, and their finished
    work is what a rerun skips); once all are done, the first failure in source order is
    raised. One at a time, the first failure stops the run, as before threads existed.
    """
    if threads <= 1:
        for source in SOURCES:
            work(source)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="source") as pool:
        futures = [pool.submit(work, source) for source in SOURCES]
        wait(futures)
    errors = [f.exception() for f in futures if f.exception() is not None]
    for extra in errors[1:]:
        log.error("another source failed too: %s: %s", type(extra).__name__, extra)
    if errors:
        raise errors[0]  # type: ignore[misc]


def _record_versions(
    spark: SparkSession, settings: Settings, entries: dict[str, ops.SourceEntry]
) -> None:
    """Each source's tables as this attempt leaves them, from one listing (with the versions
    before, what an undo needs). Best effort: a failure here must not hide the run's
    outcome."""
    by_name = {s.name: s for s in SOURCES}
    try:
        versions = ops.versions_of(spark, settings.tables, all_specs())
    except Exception:
        log.exception("could not read the table versions")
        return
    for name, entry in entries.items():
        entry.table_versions = ops.versions_for(by_name[name], versions)


def _bronze_step(
    spark: SparkSession, settings: Settings, source: Source, day: date, run_id: str, *, load: bool
) -> ops.SourceEntry:
    """Land the day's new files (`load`), or only see what bronze already holds for the day."""
    t0 = time.monotonic()
    entry = ops.SourceEntry(run_id, day, source.name, datetime.now(UTC).replace(tzinfo=None))
    if load:
        loaded = concurrency.retry_on_conflict(
            f"bronze {source.name}",
            lambda: bronze.load(
                spark,
                landing_root=settings.landing,
                warehouse=settings.tables,
                source=source,
                ingest_date=day,
                run_id=run_id,
            ),
        )
    else:
        loaded = bronze.already_loaded(spark, settings.tables, source, day)
    entry.files_seen, entry.files_loaded = loaded.files_seen, loaded.files_loaded
    entry.bronze_files = loaded.bronze_files
    if not loaded.has_rows:
        entry.status = ops.NO_DATA
    entry.duration_s = time.monotonic() - t0
    log.info(
        "bronze %s %s: %d file(s) seen, %d loaded (%.1fs)",
        source.name,
        day,
        loaded.files_seen,
        loaded.files_loaded,
        entry.duration_s,
    )
    return entry


def _silver_gold_step(
    spark: SparkSession,
    settings: Settings,
    source: Source,
    day: date,
    entry: ops.SourceEntry,
    steps: Sequence[str],
    pending: ops.PendingEventDates,
) -> None:
    """Silver, then gold, or either alone; a gold-only step recomputes the day's batch from
    bronze without writing and adds the event dates earlier silver steps of the day moved
    (`pending`, read when the run started)."""
    t0 = time.monotonic()
    write_silver = "silver" in steps
    processed = concurrency.retry_on_conflict(
        f"silver {source.name}",
        lambda: silver.process(
            spark,
            settings.tables,
            source,
            bronze.partition(spark, settings.tables, source, day),
            day,
            max_quarantined_share=settings.max_quarantined_share.get(source.name),
            write=write_silver,
            attempt_id=entry.run_id,
        ),
    )
    if write_silver:
        entry.silver_event_dates = sorted(processed.touched_event_dates)
    if processed.recorded_pending:
        pending = pending.and_attempt(entry.run_id)
    if "gold" in steps and source.event_time and not processed.rejected:
        # Dates an earlier attempt's silver step moved events off (a crash, or a separate
        # silver step, came between it and gold): recomputed here too.
        processed = replace(
            processed, touched_event_dates=processed.touched_event_dates | pending.dates
        )
    try:
        c = processed.counts
        entry.rows_landed, entry.rows_quarantined = c.landed, c.quarantined
        entry.quarantined_by_reason = dict(c.quarantined_by_reason)
        entry.rows_valid, entry.rows_kept, entry.duplicates_dropped = c.valid, c.kept, c.duplicates
        entry.late_rows = c.late
        entry.lag_days_max, entry.lag_days_p50, entry.lag_days_p95 = (
            c.lag_days_max,
            c.lag_days_p50,
            c.lag_days_p95,
        )
        log.info(
            "silver %s %s: %d landed, %d quarantined, %d valid, %d kept, %d duplicates, "
            "%d late (%.1fs)",
            source.name,
            day,
            c.landed,
            c.quarantined,
            c.valid,
            c.kept,
            c.duplicates,
            c.late,
            time.monotonic() - t0,
        )
        if processed.rejected:
            entry.status = ops.REJECTED
            log.error("%s %s: over its quarantine threshold, kept out of silver", source.name, day)
            return
        if "gold" not in steps:
            entry.status = ops.SUCCEEDED
            return
        t1 = time.monotonic()
        metrics = gold.update(spark, settings.tables, processed, source)
        entry.gold_rows_inserted = metrics.get("inserted")
        entry.gold_rows_updated = metrics.get("updated")
        entry.gold_rows_deleted = metrics.get("deleted")
        entry.event_dates_replaced = sorted(processed.touched_event_dates)
        ops.clear_pending_event_dates(spark, settings.tables, source, pending)
        entry.status = ops.SUCCEEDED
        log.info(
            "gold %s %s: %s inserted, %s updated, %s deleted, %d event date(s) replaced (%.1fs)",
            source.name,
            day,
            entry.gold_rows_inserted,
            entry.gold_rows_updated,
            entry.gold_rows_deleted,
            len(entry.event_dates_replaced),
            time.monotonic() - t1,
        )
    finally:
        entry.duration_s += time.monotonic() - t0
