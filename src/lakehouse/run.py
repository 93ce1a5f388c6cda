"""One run of one ingest date: bronze, then silver, then gold, then the run log.

Orchestration only: each step of each source returns a frozen outcome, the status of a
source follows from its outcomes (`status_of`), and its run log row is built from them in
one place (`log_values`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from lakehouse import bronze, concurrency, conditions, faults, gold, ops, pending, silver, storage
from lakehouse.bronze import BronzeResult
from lakehouse.config import STEPS, Settings
from lakehouse.ddl import ensure_tables
from lakehouse.errors import (
    ConcurrentRunError,
    InjectedFault,
    QualityThresholdError,
    SilverMovedError,
)
from lakehouse.silver import SilverCounts, SilverResult
from lakehouse.sources import SOURCES, Source
from lakehouse.tables import all_specs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SilverOutcome:
    counts: SilverCounts
    rejected: bool  # over the quarantine threshold: quarantined, kept out of silver and gold
    wrote: bool  # this attempt wrote silver (not a gold step run alone)
    event_dates: tuple[date, ...]  # event dates whose silver rows this attempt changed


@dataclass(frozen=True)
class GoldOutcome:
    rows: Mapping[str, int]  # the current-state MERGE's inserted, updated, deleted
    event_dates_replaced: tuple[date, ...]


@dataclass(frozen=True)
class SourceOutcome:
    """What one attempt did for one source: the outcome of each step it got to."""

    source: str
    started_at: datetime  # for people reading the log; never an identity
    steps: tuple[str, ...]
    seconds: float = 0.0
    bronze: BronzeResult | None = None
    skipped: bool = False  # unchanged since an attempt that finished silver and gold
    silver: SilverOutcome | None = None
    gold: GoldOutcome | None = None
    error: str | None = None


def gold_summary(source: Source, outcome: GoldOutcome) -> str:
    """A gold step in the log's words: the current-state MERGE's row counts (where the source
    feeds such a table), then the event dates replaced."""
    parts = []
    if source.current is not None:
        if outcome.rows:
            parts.append(", ".join(f"{outcome.rows.get(k)} {k}" for k in storage.MERGE_COUNTS))
        else:
            parts.append("rows not counted by Delta")
    parts.append(f"{len(outcome.event_dates_replaced)} event date(s) replaced")
    return ", ".join(parts)


def status_of(outcome: SourceOutcome) -> str:
    """A source's status in the run log, from what its steps did."""
    if outcome.error is not None:
        return ops.FAILED
    if outcome.bronze is not None and not outcome.bronze.has_rows:
        return ops.NO_DATA
    if outcome.skipped:
        return ops.UNCHANGED
    if outcome.silver is not None and outcome.silver.rejected:
        return ops.REJECTED
    if outcome.bronze is None:
        return ops.FAILED  # stopped before its first step finished
    return ops.SUCCEEDED


def log_values(
    run_id: str,
    day: date,
    outcome: SourceOutcome,
    versions_before: Mapping[str, int],
    versions_after: Mapping[str, int] | None,
) -> dict[str, object]:
    """A source's run log row (lakehouse.tables.RUN_LOG) from its outcomes: the one place a
    column is filled."""
    b, s, g = outcome.bronze, outcome.silver, outcome.gold
    c = s.counts if s is not None else None
    return {
        "run_id": run_id,
        "run_date": day,
        "source": outcome.source,
        "status": status_of(outcome),
        "error": outcome.error,
        "started_at": outcome.started_at,
        "duration_s": outcome.seconds,
        "files_seen": b.files_seen if b else 0,
        "files_loaded": b.files_loaded if b else 0,
        "bronze_files": b.bronze_files if b else 0,
        "rows_landed": c.landed if c else None,
        "rows_quarantined": c.quarantined if c else None,
        "quarantined_by_reason": dict(c.quarantined_by_reason) if c else {},
        "rows_valid": c.valid if c else None,
        "rows_kept": c.kept if c else None,
        "duplicates_dropped": c.duplicates if c else None,
        "late_rows": c.late if c else None,
        "lag_days_max": c.lag_days_max if c else None,
        "lag_days_p50": c.lag_days_p50 if c else None,
        "lag_days_p95": c.lag_days_p95 if c else None,
        "event_dates_replaced": list(g.event_dates_replaced) if g else [],
        "gold_rows_inserted": g.rows.get("inserted") if g else None,
        "gold_rows_updated": g.rows.get("updated") if g else None,
        "gold_rows_deleted": g.rows.get("deleted") if g else None,
        "table_versions_before": dict(versions_before),
        # null when they could not be read: unknown, which a restore must not take for -1
        "table_versions": dict(versions_after) if versions_after is not None else None,
        "steps": list(outcome.steps),
        "silver_event_dates": list(s.event_dates) if s and s.wrote else [],
        "bronze_files_read": c.files if c else (b.in_bronze if b and outcome.skipped else None),
    }


@dataclass
class RunResult:
    run_id: str
    run_date: date
    outcomes: dict[str, SourceOutcome] = field(default_factory=dict)
    log_rows: list[dict[str, object]] = field(default_factory=list)  # as appended, by source

    @property
    def statuses(self) -> dict[str, str]:
        return {name: status_of(o) for name, o in self.outcomes.items()}

    @property
    def touched_event_dates(self) -> dict[str, list[date]]:
        return {
            name: list(o.gold.event_dates_replaced)
            for name, o in self.outcomes.items()
            if o.gold is not None and o.gold.event_dates_replaced
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
    steps: Sequence[str] = STEPS,
) -> RunResult:
    """Process one ingest date. Every step after bronze reads all of bronze's partition for
    the day, so each is a pure function of committed data and a rerun heals a crash.

    `steps` runs a subset of the layers (a scheduler's separate tasks); each is idempotent on
    its own. A source whose load adds no row, with bronze holding no file beyond those an
    attempt that finished silver and gold read, is not processed again (`_unchanged`).
    """
    steps = tuple(s for s in STEPS if s in steps)
    result = RunResult(run_id=run_id or new_run_id(day), run_date=day)
    started = time.monotonic()
    versions_before, finished_before = _prepare(spark, settings, day)
    # Event dates earlier attempts' silver steps moved events off, for the gold steps.
    moved = pending.of_day(spark, settings.tables, day) if "gold" in steps else {}
    attempt = _Attempt(spark, settings, day, result.run_id, steps)

    def one_source(source: Source) -> None:
        outcome, error = attempt.source(
            source,
            finished_before.get(source.name, set()),
            moved.get(source.name, pending.PendingEventDates()),
        )
        result.outcomes[source.name] = outcome
        if error is not None:
            raise error

    failure: Exception | None = None
    try:
        _for_each_source(one_source, settings.source_threads)
    except Exception as exc:
        failure = exc
    result.outcomes = {
        s.name: result.outcomes[s.name] for s in SOURCES if s.name in result.outcomes
    }
    versions_after = _versions(spark, settings)
    result.log_rows = [
        log_values(
            result.run_id,
            day,
            outcome,
            ops.versions_for(source, versions_before),
            ops.versions_for(source, versions_after) if versions_after is not None else None,
        )
        for source in SOURCES
        if (outcome := result.outcomes.get(source.name)) is not None
    ]
    if failure is not None:
        if not isinstance(failure, InjectedFault):  # a simulated crash writes nothing more
            try:
                ops.append(spark, settings.tables, result.log_rows)
            except Exception:  # never hide the failure that ended the run
                log.exception("could not record the failed run in the run log")
        raise failure
    faults.point("before", "run_log")
    ops.append(spark, settings.tables, result.log_rows)
    faults.point("after", "run_log")
    log.info("run %s for %s finished in %.1fs", result.run_id, day, time.monotonic() - started)
    _raise_if_over_threshold(settings, result)
    return result


def _raise_if_over_threshold(settings: Settings, result: RunResult) -> None:
    rejected = [o for o in result.outcomes.values() if status_of(o) == ops.REJECTED]
    if rejected:
        raise QualityThresholdError(
            "; ".join(
                f"{o.source}: {c.quarantined} of {c.landed} rows quarantined "
                f"({c.quarantined / max(c.landed, 1):.1%}), over the threshold "
                f"{settings.max_quarantined_share[o.source]:.1%}"
                for o in rejected
                if o.silver is not None and (c := o.silver.counts) is not None
            )
        )


def _versions(spark: SparkSession, settings: Settings) -> dict[str, int] | None:
    """Every table's version as the attempt leaves it, from one listing; None when they could
    not be read. Best effort: a failure here must not hide the run's outcome."""
    try:
        return ops.versions_of(spark, settings.tables, all_specs())
    except Exception:
        log.exception("could not read the table versions")
        return None


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
        if not conditions.is_missing_table(exc):
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
    steps: Sequence[str] = STEPS,
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


def _for_each_source(work: Callable[[Source], None], threads: int) -> None:
    """Run `work` for every source, `threads` at a time, and wait for all of them.

    The sources write disjoint tables, so they cannot conflict with each other. With threads,
    a failure does not stop the other sources' steps (each is idempotent, and their finished
    work is what a rerun skips); once all are done, the first failure in source order is
    raised. One at a time, the first failure stops the run.
    """
    if threads <= 1:
        for source in SOURCES:
            work(source)
        return
    concurrency.at_once(work, SOURCES, threads=threads)


@dataclass(frozen=True)
class _Attempt:
    """One attempt at one date: the steps of each source, each returning its outcome."""

    spark: SparkSession
    settings: Settings
    day: date
    run_id: str
    steps: tuple[str, ...]

    def source(
        self, source: Source, finished_bronze_files: set[int], moved: pending.PendingEventDates
    ) -> tuple[SourceOutcome, Exception | None]:
        """Bronze, then silver and gold as `steps` asks: the outcome of every step that
        finished, and the error that stopped the others (for the caller to raise once the
        outcome is recorded)."""
        t0 = time.monotonic()
        outcome = SourceOutcome(source.name, datetime.now(UTC).replace(tzinfo=None), self.steps)
        error: Exception | None = None
        try:
            outcome = self._steps(source, outcome, finished_bronze_files, moved)
        except Exception as exc:
            outcome, error = replace(outcome, error=f"{type(exc).__name__}: {exc}"[:2000]), exc
        return replace(outcome, seconds=time.monotonic() - t0), error

    def _steps(
        self,
        source: Source,
        outcome: SourceOutcome,
        finished_bronze_files: set[int],
        moved: pending.PendingEventDates,
    ) -> SourceOutcome:
        outcome = replace(outcome, bronze=(landed := self._bronze(source)))
        if not landed.has_rows or ("silver" not in self.steps and "gold" not in self.steps):
            return outcome
        if _unchanged(self.steps, landed, finished_bronze_files, moved):
            log.info(
                "silver+gold %s %s: unchanged since a finished run, skipped", source.name, self.day
            )
            return replace(outcome, skipped=True)
        result = self._silver(source)
        outcome = replace(outcome, silver=_silver_outcome(result, "silver" in self.steps))
        if result.rejected:
            log.error(
                "%s %s: over its quarantine threshold, kept out of silver", source.name, self.day
            )
            return outcome
        if "gold" not in self.steps:
            return outcome
        if result.moved_off:
            moved = moved.and_attempt(self.run_id)
        return replace(outcome, gold=self._gold(source, result, moved))

    def _bronze(self, source: Source) -> BronzeResult:
        """Land the day's new files, or only see what bronze already holds for the day."""
        t0 = time.monotonic()
        if "bronze" in self.steps:
            loaded = concurrency.retry_on_conflict(
                f"bronze {source.name}",
                lambda: bronze.load(
                    self.spark,
                    landing_root=self.settings.landing,
                    warehouse=self.settings.tables,
                    source=source,
                    ingest_date=self.day,
                    run_id=self.run_id,
                ),
            )
        else:
            loaded = bronze.already_loaded(self.spark, self.settings.tables, source, self.day)
        log.info(
            "bronze %s %s: %d file(s) seen, %d loaded (%.1fs)",
            source.name,
            self.day,
            loaded.files_seen,
            loaded.files_loaded,
            time.monotonic() - t0,
        )
        return loaded

    def _silver(self, source: Source) -> SilverResult:
        """The day's batch from bronze, written to silver unless gold runs alone."""
        t0 = time.monotonic()
        warehouse = self.settings.tables
        threshold = self.settings.max_quarantined_share.get(source.name)
        # A pass run again after another writer's commit finds the events an earlier pass
        # moved already moved: the dates they left are known only from that earlier pass.
        moved_off: set[date] = set()

        def step() -> SilverResult:
            day, counts = silver.read_day(
                source, bronze.partition(self.spark, warehouse, source, self.day)
            )
            if "silver" not in self.steps:
                return silver.for_gold_alone(
                    self.spark, warehouse, source, day, counts, max_quarantined_share=threshold
                )
            try:
                written = silver.write(
                    self.spark,
                    warehouse,
                    source,
                    day,
                    counts,
                    self.day,
                    max_quarantined_share=threshold,
                    attempt_id=self.run_id,
                )
            except SilverMovedError as exc:
                moved_off.update(exc.moved_off)
                raise
            moved_off.update(written.moved_off)
            return written

        result = concurrency.retry_on_conflict(f"silver {source.name}", step)
        if moved_off:
            result = replace(
                result,
                touched_event_dates=result.touched_event_dates | moved_off,
                moved_off=frozenset(moved_off),
            )
        c = result.counts
        log.info(
            "silver %s %s: %d landed, %d quarantined, %d valid, %d kept, %d duplicates, "
            "%d late (%.1fs)",
            source.name,
            self.day,
            c.landed,
            c.quarantined,
            c.valid,
            c.kept,
            c.duplicates,
            c.late,
            time.monotonic() - t0,
        )
        return result

    def _gold(
        self, source: Source, result: SilverResult, moved: pending.PendingEventDates
    ) -> GoldOutcome:
        """Gold from silver; an event source also recomputes the dates an earlier attempt's
        silver step moved events off (a crash, or a separate silver step, came between)."""
        t0 = time.monotonic()
        if source.event_time:
            result = replace(result, touched_event_dates=result.touched_event_dates | moved.dates)
        rows = gold.update(self.spark, self.settings.tables, result, source)
        pending.clear(self.spark, self.settings.tables, source, moved)
        outcome = GoldOutcome(rows, tuple(sorted(result.touched_event_dates)))
        log.info(
            "gold %s %s: %s (%.1fs)",
            source.name,
            self.day,
            gold_summary(source, outcome),
            time.monotonic() - t0,
        )
        return outcome


def _unchanged(
    steps: Sequence[str],
    landed: BronzeResult,
    finished_bronze_files: set[int],
    moved: pending.PendingEventDates,
) -> bool:
    """Whether silver and gold already reflect all of bronze's partition for the day: this
    attempt's load inserted no row, and bronze held as many of the day's files as an attempt
    that finished both read. Bronze only gains files, each with all its rows in one commit,
    and that attempt read them before this one looked: equal counts mean the same files.
    Files holding no row never reach bronze, so they count for nothing either way. A load
    whose count Delta did not give (None) may have inserted rows, so it is not unchanged.
    Nor is a day with event dates a silver step moved events off still pending (a concurrent
    attempt that crashed before its gold step, after the finished one had read the table)."""
    return (
        "silver" in steps
        and "gold" in steps
        and landed.rows_inserted == 0
        and landed.in_bronze in finished_bronze_files
        and not moved.attempts
    )


def _silver_outcome(result: SilverResult, wrote: bool) -> SilverOutcome:
    return SilverOutcome(
        result.counts, result.rejected, wrote, tuple(sorted(result.touched_event_dates))
    )
