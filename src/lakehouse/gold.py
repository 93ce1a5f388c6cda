"""Gold: current-state tables and timelines by MERGE, daily counts by replacing the touched
partitions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from functools import reduce

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse import concurrency, faults, sql, storage
from lakehouse.errors import ConcurrentRunError
from lakehouse.silver import SilverResult, drifted_columns, one_per_change
from lakehouse.sources import Source, declared
from lakehouse.tables import (
    EVENT_DATE,
    INGEST_DATE,
    TableSpec,
    changes_spec,
    current_spec,
    daily_spec,
    history_spec,
    silver_spec,
)
from lakehouse.warehouse import Warehouse

log = logging.getLogger(__name__)


def current_rows(source: Source) -> Callable[[DataFrame], DataFrame]:
    """A current-state table's rows from silver's rows of the touched keys: the latest
    record per key (silver holds one per key of a mutable source; of an event source, the
    latest event by its time), named as the table has them. A source with a deletion flag
    keeps it as a control column, so the MERGE deletes rather than writes the key."""
    current = declared(source.current, source)
    flag = source.deletion_flag

    def transform(silver_rows: DataFrame) -> DataFrame:
        rows = silver_rows
        if (current.key,) != source.key:
            latest = Window.partitionBy(current.key).orderBy(F.col(current.time).desc())
            rows = rows.withColumn("_latest", F.row_number().over(latest)).where(
                F.col("_latest") == 1
            )
        drifted = drifted_columns(source, silver_rows.columns) if current.with_drift else []
        return rows.select(
            current.key,
            *current.attributes,
            F.col(current.time).alias(current.time_column),
            F.col(INGEST_DATE).alias("load_date"),
            *[F.col(sql.ident(c)) for c in drifted],
            *([F.coalesce(F.col(flag), F.lit(False)).alias(flag)] if flag else []),
        )

    return transform


def daily_counts(dimension: str) -> Callable[[DataFrame], DataFrame]:
    def transform(events: DataFrame) -> DataFrame:
        return events.groupBy(EVENT_DATE, dimension).agg(F.count(F.lit(1)).alias("event_count"))

    return transform


def timeline(source: Source) -> Callable[[DataFrame], DataFrame]:
    """A key's versions from its complete change history (one record per `updated_at`).

    Walking each key's records in time order, a record opens a version when it is not a
    deletion and either nothing is in force (first record, or just after a deletion) or its
    tracked attributes differ from the record before it (which equal the version in force).
    A deletion closes the version in force, if any. A version ends at the next record that
    opens or closes one. Window functions only, so any late record simply takes its place.
    """
    tracked = declared(source.history, source).tracked
    key, time = source.key[0], source.order_column
    by_time = Window.partitionBy(key).orderBy(time)

    def transform(changes: DataFrame) -> DataFrame:
        flag = source.deletion_flag
        deleted = F.coalesce(F.col(flag), F.lit(False)) if flag else F.lit(False)
        marked = changes.select(key, *tracked, time, deleted.alias("_deleted"))
        previous_deleted = F.lag("_deleted").over(by_time)  # null: the key's first record
        same_as_previous = reduce(
            lambda a, b: a & b,
            [F.col(c).eqNullSafe(F.lag(c).over(by_time)) for c in tracked],
        )
        opens = ~F.col("_deleted") & (
            previous_deleted.isNull() | previous_deleted | ~same_as_previous
        )
        closes = F.col("_deleted") & ~F.coalesce(previous_deleted, F.lit(True))
        edges = (
            marked.withColumn("_opens", opens)
            .withColumn("_closes", closes)
            .where(F.col("_opens") | F.col("_closes"))
        )
        valid_to = F.lead(time).over(by_time)
        return (
            edges.withColumn("valid_to", valid_to)
            .where(F.col("_opens"))
            .select(
                key,
                *tracked,
                F.col(time).alias("valid_from"),
                "valid_to",
                F.col("valid_to").isNull().alias("is_current"),
            )
        )

    return transform


_DROP = "_drop"


def with_vanished_versions(stored: DataFrame, key: str) -> Callable[[DataFrame], DataFrame]:
    """The recomputed versions of the touched keys (`_drop` false), plus a `_drop` marker for
    each stored version of those keys that the recomputation no longer has (a late record
    that split or merged intervals). One pass: the recomputed versions are not evaluated
    twice, as an anti join against them would."""

    def transform(fresh: DataFrame) -> DataFrame:
        both = fresh.withColumn(_DROP, F.lit(False)).unionByName(
            stored.withColumn(_DROP, F.lit(True)), allowMissingColumns=True
        )
        recomputed_first = Window.partitionBy(key, "valid_from").orderBy(F.col(_DROP).asc())
        return (
            both.withColumn("_n", F.row_number().over(recomputed_first))
            .where(F.col("_n") == 1)
            .drop("_n")
        )

    return transform


def update_history(
    spark: SparkSession,
    warehouse: Warehouse,
    result: SilverResult,
    source: Source,
    changes: DataFrame,
) -> dict[str, int]:
    """Recompute the whole timeline of each key the day touched (from its changes of every
    ingest date, the top-ranked per `updated_at` counting) and MERGE those keys' rows in
    one commit: new versions inserted, changed ones updated, vanished ones (a late record
    that split or merged intervals) deleted. Rows of other keys are not rewritten."""
    key = source.key[0]
    in_range = _in_range(result, key)
    touched = result.batch.select(key)
    fresh = (
        changes.where(in_range(None))
        .join(touched, key, "left_semi")
        .transform(one_per_change(source))
        .transform(timeline(source))
    )
    table = history_spec(source).table(warehouse)
    stored = (
        storage.read(spark, table)
        .where(in_range(None))
        .join(touched, key, "left_semi")
        .select(key, "valid_from")
    )
    rows = fresh.transform(with_vanished_versions(stored, key))
    return storage.merge_by_key(
        spark,
        table,
        rows,
        (key, "valid_from"),
        delete_when=sql.column(_DROP, "s"),
        control_columns=(_DROP,),
        target_filter=in_range("t"),
    )


def _in_range(result: SilverResult, key: str) -> Callable[[str | None], str]:
    return storage.key_range_filter(key, result.counts.key_range)


def whole_tables(
    source: Source, silver: DataFrame, changes: DataFrame | None = None
) -> list[tuple[TableSpec, DataFrame]]:
    """Every gold table `source` feeds, whole, from all of its silver (and, for a history,
    its change history): what a run of every date leaves, in one pass (the benchmark's
    rebuild and the long-horizon backfill)."""
    tables: list[tuple[TableSpec, DataFrame]] = []
    if source.current is not None:
        rows = silver.transform(current_rows(source))
        flag = source.deletion_flag
        if flag:
            rows = rows.where(~F.col(flag)).drop(flag)
        tables.append((current_spec(source), rows))
    if source.daily is not None:
        counts = silver.transform(daily_counts(source.daily.dimension)).repartition(EVENT_DATE)
        tables.append((daily_spec(source), counts))
    if source.history is not None and changes is not None:
        history = changes.transform(one_per_change(source)).transform(timeline(source))
        tables.append((history_spec(source), history))
    return tables


def _silver_for_keys(silver: DataFrame, result: SilverResult, key: tuple[str, ...]) -> DataFrame:
    """Silver's rows for the keys the day's data touched (read after silver's commit)."""
    pruned = silver.where(_in_range(result, key[0])(None))
    return pruned.join(result.batch.select(*key), list(key), "left_semi")


def update_current(
    spark: SparkSession,
    warehouse: Warehouse,
    result: SilverResult,
    source: Source,
    silver: DataFrame,
) -> dict[str, int]:
    """Make the touched keys of a current-state table equal silver's view of them.

    Silver already holds the winner of every contest, so gold only mirrors it: a row is
    written when it differs, deleted when silver holds a deletion, and left alone otherwise.
    `load_date` is the ingest date of the winning record: the run that brought it.
    """
    current = source.current
    if current is None:
        return {}
    rows = _silver_for_keys(silver, result, (current.key,)).transform(current_rows(source))
    flag = source.deletion_flag
    return storage.merge_by_key(
        spark,
        current_spec(source).table(warehouse),
        rows,
        (current.key,),
        delete_when=sql.column(flag, "s") if flag else None,
        control_columns=(flag,) if flag else (),
        target_filter=_in_range(result, current.key)("t"),
    )


def update_daily(
    warehouse: Warehouse, result: SilverResult, source: Source, silver: DataFrame
) -> None:
    """Recompute, in full from silver, each event date the day's rows touched (late ones
    included, whatever their age) and replace exactly those partitions."""
    daily = source.daily
    if daily is None or not result.touched_event_dates:
        return
    dates: list[date] = sorted(result.touched_event_dates)
    events = silver.where(F.col(EVENT_DATE).isin([sql.date_value(d) for d in dates]))
    # One file per date: a date's counts are a handful of rows, and a file per shuffle
    # partition per run would add up to thousands of tiny files over a year.
    counts = events.transform(daily_counts(daily.dimension)).repartition(EVENT_DATE)
    storage.replace_partitions(daily_spec(source).table(warehouse), counts, EVENT_DATE, dates)


def update(
    spark: SparkSession, warehouse: Warehouse, result: SilverResult, source: Source
) -> dict[str, int]:
    """Every gold table a source feeds (current state, daily counts, timelines); returns the
    current-state MERGE's row counts (none when Delta did not give them all, or the source
    feeds no current-state table: unknown or not there, not 0).

    Gold is computed from one pinned version of silver. If silver moved on while gold was
    being written (a concurrent run of another date committed), gold may mirror the older
    version, and no Delta conflict says so, as the two are different tables: so compute again
    from the newer version. The last writer of any gold row thus always saw the latest silver.
    """
    silver_tables = [silver_spec(source).table(warehouse)]
    if source.keeps_changes:
        silver_tables.append(changes_spec(source).table(warehouse))
    totals = dict.fromkeys(storage.MERGE_COUNTS, 0)
    # False once a current-state MERGE returned not all of its counts, or where there is none
    counted = source.current is not None

    def write_from(silver: DataFrame, changes: DataFrame | None) -> None:
        nonlocal counted
        faults.point("before", "gold_current", source.name)
        counts = update_current(spark, warehouse, result, source, silver)
        if source.current is not None and counts.keys() != totals.keys():
            counted = False
        for k, v in counts.items():
            totals[k] += v
        faults.point("after", "gold_current", source.name)
        if source.daily is not None:
            faults.point("before", "gold_daily", source.name)
            update_daily(warehouse, result, source, silver)
            faults.point("after", "gold_daily", source.name)
        if changes is not None:
            update_history(spark, warehouse, result, source, changes)
            faults.point("after", "gold_history", source.name)

    def settled() -> bool:
        versions = list(storage.latest_versions(spark, silver_tables).values())
        pinned = [storage.read(spark, t, v) for t, v in zip(silver_tables, versions, strict=True)]
        write_from(pinned[0], pinned[1] if len(pinned) > 1 else None)
        return list(storage.latest_versions(spark, silver_tables).values()) == versions

    for attempt in range(1, concurrency.ATTEMPTS + 1):
        if concurrency.retry_on_conflict(f"gold of {source.name}", settled):
            return totals if counted else {}
        log.info(
            "silver %s changed while gold was written (attempt %d): computing gold again",
            source.name,
            attempt,
        )
    raise ConcurrentRunError(
        f"another run keeps changing silver {source.name}: gold not settled after "
        f"{concurrency.ATTEMPTS} attempts; rerun this date when the other run has finished"
    )
