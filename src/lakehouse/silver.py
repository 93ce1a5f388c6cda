"""Silver: typed, validated, one row per business key; bad rows go to quarantine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import reduce

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse import faults, pending, rules, sql, storage
from lakehouse.errors import MissingColumnsError, ReconciliationError, SilverMovedError
from lakehouse.sources import Source
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
    changes_spec,
    quarantine_spec,
    silver_spec,
    tables_of,
)
from lakehouse.warehouse import Warehouse

_BRONZE_META = (RAW_RECORD, PARSE_ERROR, SOURCE_FILE, LOAD_TIME, RUN_ID, INGEST_DATE)


def drifted_columns(source: Source, columns: list[str]) -> list[str]:
    """Columns beyond the source schema and our metadata, e.g. `phone` in the CRM."""
    known = set(source.column_names) | set(_BRONZE_META) | {REASON, RECORD_HASH}
    return sorted(c for c in columns if c not in known)


_DRIFTED = "_drifted"


def drifted_names(source: Source, columns: list[str]) -> dict[str, str]:
    """Each drifted column's name from silver on. One named like a column the job derives
    itself (`load_date` in the CRM, `event_date` in events), with any number of `_drifted`
    after it, gains one `_drifted` more: so it can never collide with the derived column nor
    with another drifted one, and a name means the same column on every date, whatever
    arrives beside it. Bronze and quarantine keep it as it arrived."""
    derived = {f.name for spec in tables_of(source) for f in spec.schema.fields}
    if source.event_time:
        derived.add(EVENT_DATE)
    derived -= set(source.column_names)
    names: dict[str, str] = {}
    for column in columns:
        base = column
        while base.endswith(_DRIFTED):
            base = base.removesuffix(_DRIFTED)
        names[column] = column + _DRIFTED if base in derived else column
    return names


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
            *[F.col(sql.ident(c)) for c in raw_cols],
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
            F.to_json(
                F.struct(*[F.col(sql.ident(c)) for c in sorted(source.column_names + drifted)])
            ),
            256,
        )
        out = checked.where(F.col(REASON).isNull()).select(
            *[rules.parse_value(c, F.col(c.name)).alias(c.name) for c in source.columns],
            *[
                rules.no_empty_text(F.col(sql.ident(c))).alias(n)
                for c, n in drifted_names(source, drifted).items()
            ],
            INGEST_DATE,
            SOURCE_FILE,
            fingerprint.alias(RECORD_HASH),
        )
        if source.event_time:
            out = out.withColumn(EVENT_DATE, F.to_date(source.event_time))
        return out

    return transform


_RANK = "_rank"


def one_per_key(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Reduce to one row per business key: the latest for mutable sources, else the first
    arrival. The order is total, so the pick never depends on partitioning."""
    return _top_ranked(source, source.key)


def one_per_change(source: Source) -> Callable[[DataFrame], DataFrame]:
    """A mutable source's records, one per key and `updated_at`: of records with equal
    `updated_at` only the top-ranked counts in a timeline."""
    return _top_ranked(source, (*source.key, source.order_column))


def changes_of_each_day(source: Source) -> Callable[[DataFrame], DataFrame]:
    """What the change history keeps of each ingest date: its top-ranked record per key and
    `updated_at` (`one_per_change` of every date on its own)."""
    return _top_ranked(source, (*source.key, source.order_column, INGEST_DATE))


def _top_ranked(source: Source, group: tuple[str, ...]) -> Callable[[DataFrame], DataFrame]:
    def transform(rows: DataFrame) -> DataFrame:
        return rows.transform(ranked(source, group)).where(F.col(_RANK) == 1).drop(_RANK)

    return transform


def ranked(
    source: Source, group: tuple[str, ...] | None = None
) -> Callable[[DataFrame], DataFrame]:
    """Rows with `_rank` in the source's rank order within each `group` (default: the
    business key; 1: the row one_per_key keeps)."""
    order = rules.rank_order(source)

    def transform(rows: DataFrame) -> DataFrame:
        window = Window.partitionBy(*(group or source.key)).orderBy(*order)
        return rows.withColumn(_RANK, F.row_number().over(window))

    return transform


@dataclass(frozen=True)
class SilverCounts:
    """Where each of the day's bronze rows went; `check` proves none was lost or doubled."""

    landed: int
    quarantined_by_reason: dict[str, int]
    valid: int
    kept: int
    duplicates: int
    late: int = 0
    lag_days_max: int | None = None
    lag_days_p50: int | None = None
    lag_days_p95: int | None = None
    # the smallest and largest value of the (first) business key among the valid rows
    key_range: tuple[int, int] | None = None
    files: int = 0  # the day's files in bronze: the source files of its rows

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    def check(self, source: str) -> None:
        """Landed = valid + quarantined crosses two materialisations (every row with its
        reason, the valid rows ranked); duplicates are valid - kept by construction."""
        if self.landed != self.valid + self.quarantined or self.kept > self.valid:
            raise ReconciliationError(
                f"{source}: landed {self.landed} != valid {self.valid} + quarantined "
                f"{self.quarantined}, or kept {self.kept} > valid {self.valid}"
            )


@dataclass(frozen=True)
class SilverResult:
    source: str
    batch: DataFrame  # the day's valid rows, one per key: what gold must look at
    touched_event_dates: frozenset[date]
    counts: SilverCounts
    rejected: bool = False  # over the quality threshold: quarantined, not merged
    # event dates this pass moved events off, recorded in lakehouse.pending for gold to clear
    moved_off: frozenset[date] = frozenset()


@dataclass(frozen=True)
class DayBatch:
    """The day's bronze rows, validated and ranked once and materialised (a local
    checkpoint): every later read of the step (counts, quarantine, the MERGE sources) reads
    the same rows without recomputing them, and a MERGE can use it without copying it.

    Nothing frees it by hand: PySpark has no call that releases a local checkpoint
    (`unpersist` drops cached plans only). Spark frees its blocks once the DataFrame is
    garbage collected, and a run holds the batch only while its source is processed (the
    run log keeps counts, not frames)."""

    checked: DataFrame  # every bronze row of the day with `_reason` (null: valid)
    valid: DataFrame  # the valid rows, typed, with `_rank` (1: the key's top-ranked record)

    @property
    def batch(self) -> DataFrame:
        """One row per business key: what silver is merged with and gold looks at."""
        return self.valid.where(F.col(_RANK) == 1).drop(_RANK)


def prepare(source: Source, bronze_day: DataFrame) -> DayBatch:
    """Validate, type and rank the day's bronze rows, each step computed once."""
    checked = bronze_day.transform(with_reason(source)).localCheckpoint()
    valid = checked.transform(typed(source)).transform(ranked(source)).localCheckpoint()
    return DayBatch(checked, valid)


def count_rows(source: Source, day: DayBatch) -> SilverCounts:
    """Two aggregations over the two materialised sets, so `landed = valid + quarantined`
    is a cross-check between them: one over every bronze row by reason, one over the valid
    rows (with the events' lateness figures)."""
    reasons = (
        day.checked.groupBy(REASON)
        .agg(F.count(F.lit(1)).alias("rows"), F.collect_set(SOURCE_FILE).alias("files"))
        .collect()
    )
    by_reason = {(r[REASON] if r[REASON] is not None else ""): int(r["rows"]) for r in reasons}
    valid_by_reason = by_reason.pop("", 0)
    figures = [
        F.count(F.lit(1)).alias("valid"),
        F.count_if(F.col(_RANK) == 1).alias("kept"),
        F.min(source.key[0]).alias("key_min"),
        F.max(source.key[0]).alias("key_max"),
    ]
    if source.event_time:
        lag = F.datediff(F.col(INGEST_DATE), F.col(EVENT_DATE))
        figures += [
            F.count_if(lag > 0).alias("late"),
            F.max(F.when(lag > 0, lag)).alias("lag_max"),
            F.percentile_approx(F.when(lag > 0, lag), [0.5, 0.95]).alias("lag_pct"),
        ]
    row = day.valid.agg(*figures).first()
    assert row is not None
    late = row.asDict()
    pct = late.get("lag_pct")
    return SilverCounts(
        landed=valid_by_reason + sum(by_reason.values()),
        quarantined_by_reason=by_reason,
        valid=int(row["valid"]),
        kept=int(row["kept"]),
        duplicates=int(row["valid"]) - int(row["kept"]),
        late=int(late.get("late") or 0),
        lag_days_max=late.get("lag_max"),
        lag_days_p50=pct[0] if pct else None,
        lag_days_p95=pct[1] if pct else None,
        key_range=(late["key_min"], late["key_max"]) if late["key_min"] is not None else None,
        files=len({f for r in reasons for f in r["files"]}),
    )


@dataclass(frozen=True)
class EventDateChanges:
    """What the day's events change in silver: the event dates whose rows change (new
    events, re-deliveries that win, the dates winners leave) and whether any stored row is
    outranked. A re-delivery that loses changes nothing, so its date is not recomputed."""

    touched: frozenset[date] = frozenset()
    moved_off: frozenset[date] = frozenset()  # left by a winner: silver will not show them
    any_winner: bool = False


_NEW, _STAYS, _WINS, _LEFT = "new", "stays", "wins", "left"


def event_date_changes(source: Source, batch: DataFrame, stored: DataFrame) -> EventDateChanges:
    """One Spark job: the day's keys against silver's, each distinct date tagged with what
    happens to it. A batch row equal to the stored one (same ingest date, file and
    fingerprint: this date's own earlier attempt) counts as changing its date, so a rerun
    after a crash between silver and gold recomputes it."""
    rank_cols = (INGEST_DATE, SOURCE_FILE, RECORD_HASH)
    joined = batch.alias("s").join(
        stored.select(*source.key, EVENT_DATE, *rank_cols).alias("t"),
        F.expr(storage.key_condition(source.key)),
        "left",
    )
    same = reduce(
        lambda a, b: a & b, [F.col(f"s.{c}").eqNullSafe(F.col(f"t.{c}")) for c in rank_cols]
    )
    tag = (
        F.when(F.col(f"t.{INGEST_DATE}").isNull(), F.lit(_NEW))
        .when(same, F.lit(_STAYS))
        .when(F.expr(rules.outranks(source, "s", "t")), F.lit(_WINS))
    )
    # Each joined row says what happens on its own date and, for a winner, on the date it
    # leaves: both from one pass over the join.
    rows = (
        joined.select(
            F.explode(
                F.array(
                    F.struct(F.col(f"s.{EVENT_DATE}").alias("_date"), tag.alias("_tag")),
                    F.struct(
                        F.col(f"t.{EVENT_DATE}").alias("_date"),
                        F.when(tag == _WINS, F.lit(_LEFT)).alias("_tag"),
                    ),
                )
            ).alias("_change")
        )
        .select("_change._date", "_change._tag")
        .where(F.col("_tag").isNotNull())
        .distinct()
        .collect()
    )
    arriving = {r[0] for r in rows if r[1] != _LEFT}
    left = {r[0] for r in rows if r[1] == _LEFT}
    return EventDateChanges(
        frozenset(arriving | left), frozenset(left - arriving), any(r[1] == _WINS for r in rows)
    )


def dates_of_keys(source: Source, batch: DataFrame, stored: DataFrame) -> frozenset[date]:
    """Every event date of the day's rows and of silver's rows for the same keys: what a
    gold-only step recomputes, as it cannot tell which of them its silver step changed."""
    rows = (
        batch.select(EVENT_DATE)
        .union(
            stored.join(batch.select(*source.key), list(source.key), "left_semi").select(EVENT_DATE)
        )
        .distinct()
        .collect()
    )
    return frozenset(r[0] for r in rows if r[0] is not None)


def over_threshold(counts: SilverCounts, max_quarantined_share: float | None) -> bool:
    return (
        max_quarantined_share is not None
        and counts.landed > 0
        and counts.quarantined / counts.landed > max_quarantined_share
    )


def write_quarantine(
    warehouse: Warehouse,
    source: Source,
    day: DayBatch,
    counts: SilverCounts,
    ingest_date: date,
) -> None:
    """Replace the day's partition with its bad rows. Bronze's partition only grows and the
    rules are pure, so a day with no bad rows now never had any: nothing to replace. The
    quarantine gains bronze's drifted columns when bronze does (lakehouse.bronze); merging
    the schema here only covers a quarantine an earlier release left behind."""
    if counts.quarantined:
        quarantine = day.checked.transform(quarantined(source))
        faults.point("before", "quarantine", source.name)
        storage.replace_partitions(
            quarantine_spec(source).table(warehouse),
            quarantine,
            INGEST_DATE,
            [ingest_date],
            merge_schema=True,
        )
        faults.point("after", "quarantine", source.name)


def merge_events(
    spark: SparkSession,
    warehouse: Warehouse,
    source: Source,
    batch: DataFrame,
    ingest_date: date,
    key_range: tuple[int, int] | None,
    attempt_id: str | None = None,
) -> EventDateChanges:
    """Fold the day's events into silver; returns the event dates whose rows changed.

    First arrival is kept, so in a forward run no incoming event outranks a stored one: then
    an insert-only MERGE (Delta's single pass, nothing rewritten) does it. The decision is
    made on silver at version v (after adding the columns the day's drift brings); if silver
    is then at any other version than v + 1 (v when nothing was inserted), another writer may
    have committed in between, and the step is retried from the start on the newer silver.
    """
    table = silver_spec(source).table(warehouse)
    version = storage.latest_version(spark, table)
    stored = storage.read(spark, table, version)
    if storage.add_missing_columns(spark, table, batch.schema, stored.schema) != stored.columns:
        # The day's drift, added by this step before it looks: its commit is not another's.
        version = storage.latest_version(spark, table)
        stored = storage.read(spark, table, version)
    in_range = storage.key_range_filter(source.key[0], key_range)
    changes = event_date_changes(source, batch, stored.where(in_range(None)))
    if changes.moved_off:  # after the MERGE, silver no longer shows these: say so first
        pending.record(spark, warehouse, source, ingest_date, changes.moved_off, attempt_id)
    faults.point("before", "silver", source.name)
    if changes.any_winner:
        storage.merge_by_key(
            spark,
            table,
            batch,
            source.key,
            update_when=rules.outranks(source, "s", "t"),
            target_filter=in_range("t"),
        )
        expected = version + 1
    else:  # an insert-only MERGE that inserts nothing commits nothing
        already_there = sql.all_of([storage.key_condition(source.key), in_range("t")])
        inserted = storage.insert_new(spark, table, batch, already_there, current=stored.schema)
        # No count from Delta is taken as none inserted: if it did commit, the check below
        # retries the step, which then finds its rows there and inserts nothing.
        expected = version + (1 if inserted else 0)
    after = storage.latest_version(spark, table)
    if after != expected:
        raise SilverMovedError(str(table), version, after, changes.moved_off)
    faults.point("after", "silver", source.name)
    return changes


def merge_state(
    spark: SparkSession,
    warehouse: Warehouse,
    source: Source,
    day: DayBatch,
    ingest_date: date,
    key_range: tuple[int, int] | None,
) -> None:
    """Fold the day's latest record per key into silver, and replace the day's partition of
    the change history (what the history tables are rebuilt from) with its changes."""
    in_range = storage.key_range_filter(source.key[0], key_range)
    faults.point("before", "silver", source.name)
    storage.merge_by_key(
        spark,
        silver_spec(source).table(warehouse),
        day.batch,
        source.key,
        update_when=rules.outranks(source, "s", "t"),
        target_filter=in_range("t"),
    )
    faults.point("after", "silver", source.name)
    if not source.keeps_changes:
        return
    changes_table = changes_spec(source).table(warehouse)
    changes = day.valid.drop(_RANK).transform(changes_of_each_day(source))
    if set(changes.columns) - set(changes_table.declared):  # drift, placed as every table's
        storage.add_missing_columns(spark, changes_table, changes.schema)
    storage.replace_partitions(
        changes_table, changes, INGEST_DATE, [ingest_date], merge_schema=True
    )
    faults.point("after", "silver_changes", source.name)


def read_day(source: Source, bronze_day: DataFrame) -> tuple[DayBatch, SilverCounts]:
    """The day's bronze rows validated, typed and ranked once, and where every one of them
    went, checked to add up. All of bronze's partition for the day, not just what this run
    appended, so a run that crashed after bronze is healed by a rerun."""
    day = prepare(source, bronze_day)
    counts = count_rows(source, day)
    counts.check(source.name)
    return day, counts


def write(
    spark: SparkSession,
    warehouse: Warehouse,
    source: Source,
    day: DayBatch,
    counts: SilverCounts,
    ingest_date: date,
    *,
    max_quarantined_share: float | None = None,
    attempt_id: str | None = None,
) -> SilverResult:
    """Quarantine the day's bad rows and fold its valid rows into silver. A day whose share
    of bad rows is over `max_quarantined_share` is quarantined but kept out of silver (and
    so out of gold)."""
    write_quarantine(warehouse, source, day, counts, ingest_date)
    if (rejected := _rejected(source, day, counts, max_quarantined_share)) is not None:
        return rejected
    if source.event_time:
        changes = merge_events(
            spark, warehouse, source, day.batch, ingest_date, counts.key_range, attempt_id
        )
        return SilverResult(
            source.name,
            day.batch,
            changes.touched,
            counts,
            moved_off=changes.moved_off,
        )
    merge_state(spark, warehouse, source, day, ingest_date, counts.key_range)
    return SilverResult(source.name, day.batch, frozenset(), counts)


def _rejected(
    source: Source, day: DayBatch, counts: SilverCounts, max_quarantined_share: float | None
) -> SilverResult | None:
    """The day kept out of silver and gold when its share of bad rows is over the threshold,
    whichever step judges it (the silver step, or a gold step run alone)."""
    if over_threshold(counts, max_quarantined_share):
        return SilverResult(source.name, day.batch, frozenset(), counts, rejected=True)
    return None


def for_gold_alone(
    spark: SparkSession,
    warehouse: Warehouse,
    source: Source,
    day: DayBatch,
    counts: SilverCounts,
    *,
    max_quarantined_share: float | None = None,
) -> SilverResult:
    """What a gold step run as its own task sees of the day, silver untouched: the batch and,
    for events, every date of its keys (it cannot tell which of them its silver step
    changed). A day over its quarantine threshold is rejected here too, as its silver step
    kept it out of silver: gold alone must not call it done."""
    if (rejected := _rejected(source, day, counts, max_quarantined_share)) is not None:
        return rejected
    dates: frozenset[date] = frozenset()
    if source.event_time:
        stored = storage.read(spark, silver_spec(source).table(warehouse))
        dates = dates_of_keys(source, day.batch, stored)
    return SilverResult(source.name, day.batch, dates, counts)
