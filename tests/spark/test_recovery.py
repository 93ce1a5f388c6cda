"""Recovery on the rule scenario: a run crashed at a commit point and run again, and table
maintenance running beside a daily run, each end in the tables of the uninterrupted run; and
the layout maintenance leaves."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse import faults, ops, pending, report, restore, storage
from lakehouse.ddl import ensure_table
from lakehouse.errors import InjectedFault
from lakehouse.maintenance import (
    MAX_FILE_SIZE,
    MIN_RETAIN_HOURS,
    keyed_specs,
    maintain,
    maintain_table,
)
from lakehouse.run import run_date
from lakehouse.session import runtime_settings
from lakehouse.sources import APP_EVENTS, SOURCES, TICKETS, Source
from lakehouse.tables import (
    FACT_APP_EVENTS_DAILY,
    INGEST_DATE,
    PENDING_EVENT_DATES,
    RUN_LOG,
    TableSpec,
    all_specs,
    recorded_tables,
    tables_of,
)
from lakehouse.warehouse import Table
from tests import scenario
from tests.fakes import DeltaSays
from tests.helpers import (
    assert_same_tables,
    by_path,
    copy_warehouse,
    read,
    run_all,
    settings_for,
    table_at,
    write_csv,
)
from tests.scenario import ScenarioRun

# Crash points: silver committed, gold not; gold's MERGE committed but not the daily
# partitions; everything committed but the run log. (A crash with only bronze committed is
# the SIGKILL test in test_spark_submit.py; `faults.point` marks every other point.)
CRASH_POINTS = [
    "after:silver:app_events",
    "after:gold_current:ticket_events",
    "before:run_log",
]


def test_crashed_runs_are_healed_by_a_rerun(
    spark: SparkSession, scenario_run: ScenarioRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D3 crashed at each point in turn, every attempt starting from what the one before left
    (so each rerun but the last heals a crash and then crashes later itself), then run to the
    end: every table but the run log equals the uninterrupted run."""
    warehouse = copy_warehouse(scenario_run.after_d2, tmp_path / "wh")
    for fault in CRASH_POINTS:
        monkeypatch.setenv(faults.ENV_VAR, fault)
        with pytest.raises(InjectedFault, match=fault):
            run_all(spark, scenario_run.landing, warehouse, [scenario.D3])
    monkeypatch.delenv(faults.ENV_VAR)
    run_all(spark, scenario_run.landing, warehouse, [scenario.D3])
    assert_same_tables(spark, scenario_run.warehouse, warehouse)


@pytest.mark.parametrize(
    "interruption",
    ["crash after silver", "silver and gold as two steps", "gold step undone by a restore"],
)
def test_an_event_moved_off_a_date_leaves_that_date_even_when_gold_comes_later(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interruption: str
) -> None:
    """Event 1 first lands on 03-02 dated 03-05; the earlier delivery of 03-01, run later,
    wins and moves it to 03-06. Silver then no longer shows 03-05, yet gold must drop it
    there even if its step runs in a later attempt (after a crash, as its own task, or again
    after a restore undid it)."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    header = "event_id,customer_id,event_type,event_ts"
    d1, d2 = date(2025, 3, 1), date(2025, 3, 2)
    write_csv(
        landing,
        "app_events",
        d2,
        "a.csv",
        f"{header}\n1,101,view,2025-03-05 10:00\n2,102,click,2025-03-05 11:00",
    )
    write_csv(landing, "app_events", d1, "a.csv", f"{header}\n1,101,view,2025-03-06 10:00")
    run_all(spark, landing, warehouse, [d2])
    settings = settings_for(spark, landing, warehouse)
    if interruption == "crash after silver":
        monkeypatch.setenv(faults.ENV_VAR, "after:silver:app_events")
        with pytest.raises(InjectedFault):
            run_date(spark, settings, d1)
        monkeypatch.delenv(faults.ENV_VAR)
        run_date(spark, settings, d1)
    else:
        run_date(spark, settings, d1, steps=["bronze", "silver"])
        gold_step = run_date(spark, settings, d1, steps=["gold"])
        if interruption == "gold step undone by a restore":
            plan = restore.plan_before_run(spark, by_path(warehouse), gold_step.run_id)
            restore.apply(spark, by_path(warehouse), plan)
            run_date(spark, settings, d1)
    expected = spark.createDataFrame(
        [(date(2025, 3, 5), "click", 1), (date(2025, 3, 6), "view", 1)],
        FACT_APP_EVENTS_DAILY.schema,
    )
    assert_df_equality(
        read(spark, FACT_APP_EVENTS_DAILY, warehouse), expected, ignore_row_order=True
    )


def test_moved_event_dates_are_kept_per_attempt_and_only_the_rows_read_are_cleared(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Each attempt's dates are a row of their own; gold reads a source's and day's rows and
    clears just those: another source's, another day's, and a concurrent attempt's row
    written after the read all stay."""
    day, warehouse = date(2025, 3, 1), tmp_path / "wh"
    ensure_table(spark, PENDING_EVENT_DATES, by_path(warehouse))

    def record(source: Source, ingest_date: date, *dates: date) -> None:
        pending.record(spark, by_path(warehouse), source, ingest_date, dates)

    record(APP_EVENTS, day, date(2025, 2, 27))
    record(APP_EVENTS, day, date(2025, 2, 28), date(2025, 2, 27))
    record(TICKETS, day, date(2025, 2, 20))
    record(APP_EVENTS, date(2025, 3, 2), date(2025, 2, 21))
    found = pending.of_day(spark, by_path(warehouse), day)[APP_EVENTS.name]
    assert found.dates == {date(2025, 2, 27), date(2025, 2, 28)}
    record(APP_EVENTS, day, date(2025, 2, 26))  # a concurrent attempt's, after the read
    pending.clear(spark, by_path(warehouse), APP_EVENTS, found)
    left = read(spark, PENDING_EVENT_DATES, warehouse).select(
        "source", INGEST_DATE, F.explode("event_dates").alias("event_date")
    )
    expected = spark.createDataFrame(
        [
            (TICKETS.name, day, date(2025, 2, 20)),
            (APP_EVENTS.name, date(2025, 3, 2), date(2025, 2, 21)),
            (APP_EVENTS.name, day, date(2025, 2, 26)),
        ],
        left.schema,
    )
    assert_df_equality(left, expected, ignore_row_order=True, ignore_nullable=True)


def test_maintenance_beside_a_daily_run_changes_no_table(
    spark: SparkSession, scenario_run: ScenarioRun, tmp_path: Path
) -> None:
    """OPTIMIZE and VACUUM of every table while D3 runs: every table but the run log holds
    what the daily runs alone gave, and every table keeps its removed files for the retention
    asked for (its own property: Delta ignores a RETAIN clause)."""
    warehouse = copy_warehouse(scenario_run.after_d2, tmp_path / "wh")
    outcome: dict[str, object] = {}
    retain_hours = 2 * MIN_RETAIN_HOURS

    def maintenance() -> None:
        try:
            outcome["beside"] = maintain(spark, by_path(warehouse), retain_hours=retain_hours)
        except BaseException as exc:  # reported to the test thread below
            outcome["error"] = exc

    beside = threading.Thread(target=maintenance)
    beside.start()
    run_all(spark, scenario_run.landing, warehouse, [scenario.D3])
    beside.join()
    assert "error" not in outcome, outcome.get("error")
    beside_result = outcome["beside"]
    assert isinstance(beside_result, list)
    assert any(t.files_removed > 1 for t in beside_result)  # small files were really compacted
    assert_same_tables(spark, scenario_run.warehouse, warehouse)
    assert _retentions(spark, warehouse, all_specs()) == {
        spec.qualified_name: f"interval {retain_hours} hours" for spec in all_specs()
    }


def _losing_once(monkeypatch: pytest.MonkeyPatch, write: str) -> list[str]:
    """`storage.<write>` loses its first commit to another writer's metadata commit (Delta's
    condition), then writes; the tables of its calls, in order."""
    real = getattr(storage, write)
    calls: list[str] = []

    def losing(*args: Any, **kwargs: Any) -> None:
        calls.append(args[1].sql)  # (spark or frame, table, ...)
        if len(calls) == 1:
            raise DeltaSays("DELTA_METADATA_CHANGED")
        real(*args, **kwargs)

    monkeypatch.setattr(storage, write, losing)
    monkeypatch.setattr("lakehouse.concurrency.time.sleep", lambda _: None)
    return calls


def test_a_vacuum_that_loses_its_commit_to_a_daily_run_is_run_again(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VACUUM commits too (its start and its end are in the table's history), so a daily
    run's metadata commit in between (the columns a drifting source adds) makes it conflict,
    as it does beside a run: the table's maintenance runs it again instead of failing."""
    warehouse = by_path(tmp_path / "wh")
    ensure_table(spark, PENDING_EVENT_DATES, warehouse)
    vacuums = _losing_once(monkeypatch, "vacuum")
    table = PENDING_EVENT_DATES.table(warehouse)
    done = maintain_table(
        spark, PENDING_EVENT_DATES, warehouse, retain_hours=MIN_RETAIN_HOURS, vacuum=True
    )
    assert done is not None and vacuums == [table.sql, table.sql]
    history = spark.sql(f"DESCRIBE HISTORY {table.sql}").orderBy("version").collect()
    operations = [r["operation"] for r in history]
    assert [op for op in operations if op.startswith("VACUUM")] == ["VACUUM START", "VACUUM END"]


def test_a_run_log_append_that_loses_to_a_metadata_commit_is_appended_again_once(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blind append conflicts with a metadata commit in between (maintenance setting the
    run log's retention beside a run): the attempt's rows are appended again, once."""
    warehouse = by_path(tmp_path / "wh")
    ensure_table(spark, RUN_LOG, warehouse)
    _losing_once(monkeypatch, "append")
    rows = [
        {"run_id": "r1", "run_date": date(2025, 3, 1), "source": s.name, "status": ops.SUCCEEDED}
        for s in SOURCES
    ]
    ops.append(spark, warehouse, rows)
    columns = ["run_id", "run_date", "source", "status"]
    assert_df_equality(
        read(spark, RUN_LOG, warehouse).select(*columns),
        spark.createDataFrame([tuple(r.values()) for r in rows], columns),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def _retentions(
    spark: SparkSession, warehouse: Path, specs: Iterable[TableSpec]
) -> dict[str, str | None]:
    return {s.qualified_name: storage.retention(spark, table_at(s, warehouse)) for s in specs}


def test_a_retention_past_a_month_keeps_the_log_as_long_and_a_restore_keeps_both(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Delta refuses a retention longer than its log's (30 days by default). RESTORE brings
    back an older version's properties: the retention must stay, and a table whose deletion
    vectors were turned off (gold, by maintenance) must not write them again."""
    table = Table(str(tmp_path / "t"))
    spark.sql(
        f"CREATE TABLE {table.sql} (id BIGINT) USING delta "
        "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')"
    )
    spark.sql(f"INSERT INTO {table.sql} VALUES (1), (2)")  # version 1: the one to go back to
    spark.sql(
        f"ALTER TABLE {table.sql} SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'false')"
    )
    storage.set_retention(spark, table, 1000)
    spark.sql(f"INSERT INTO {table.sql} VALUES (3)")

    storage.restore(spark, table, 1)
    properties = storage.table_detail(spark, table)["properties"]
    assert {k: properties.get(k) for k in _KEPT} == {
        "delta.deletedFileRetentionDuration": "interval 1000 hours",
        "delta.logRetentionDuration": "interval 1000 hours",
        "delta.enableDeletionVectors": "false",
    }
    assert sorted(r["id"] for r in storage.read(spark, table).collect()) == [1, 2]


_KEPT = (
    "delta.deletedFileRetentionDuration",
    "delta.logRetentionDuration",
    "delta.enableDeletionVectors",
)


def test_maintenance_sorts_each_keyed_table_into_files_of_consecutive_key_ranges(
    spark: SparkSession, scenario_run: ScenarioRun, tmp_path: Path
) -> None:
    """With files capped small, each table a MERGE updates by key ends in several files of
    consecutive key ranges, its rows unchanged: a MERGE pruned to the day's key range finds
    those keys in the files of that range, not in every file. (Two neighbours may share their
    boundary key: Z-order spreads equal values over files against skew.)"""
    warehouse = copy_warehouse(scenario_run.warehouse, tmp_path / "wh")
    keyed = keyed_specs()
    with runtime_settings(spark, {MAX_FILE_SIZE: "256"}):
        maintain(spark, by_path(warehouse), vacuum=False, specs=keyed)
    for spec in keyed:
        key = spec.zorder_by[0]
        ranges = (
            read(spark, spec, warehouse)
            .groupBy(F.col("_metadata.file_path"))
            .agg(F.min(key).alias("low"), F.max(key).alias("high"))
            .orderBy("low")
            .collect()
        )
        assert len(ranges) > 1, spec.qualified_name
        assert all(a["high"] <= b["low"] for a, b in pairwise(ranges)), (
            spec.qualified_name,
            ranges,
        )
    assert_same_tables(spark, scenario_run.warehouse, warehouse, keyed)


def test_bronze_silver_and_gold_as_three_submissions_equal_one_run(
    spark: SparkSession, scenario_run: ScenarioRun, tmp_path: Path
) -> None:
    """A scheduler's three tasks, each a run of its own (gold repeated, as a repair would, and
    bronze again, loading nothing), leave every table as the one run of D3 did; the report
    says what that run's report says, its counts from the last attempt that had them."""
    warehouse = copy_warehouse(scenario_run.after_d2, tmp_path / "wh")
    settings = settings_for(spark, scenario_run.landing, warehouse)
    for steps in (["bronze"], ["silver"], ["gold"], ["gold"], ["bronze"]):
        run_date(spark, settings, scenario.D3, steps=steps)
    assert_same_tables(spark, scenario_run.warehouse, warehouse)
    one_run = _figures(report.build(spark, by_path(scenario_run.warehouse), scenario.D3))
    assert _figures(report.build(spark, by_path(warehouse), scenario.D3)) == one_run


def _figures(built: dict[str, Any]) -> list[dict[str, Any]]:
    """A report's figures per source, without which attempt it names (ids differ per run)."""
    return [{k: v for k, v in s.items() if k != "last_run_id"} for s in built["sources"]]


def test_restore_before_the_third_run_gives_the_two_date_tables_and_a_rerun_the_three(
    spark: SparkSession, scenario_run: ScenarioRun, tmp_path: Path
) -> None:
    warehouse = copy_warehouse(scenario_run.warehouse, tmp_path / "wh")
    run_tables = [spec for source in SOURCES for spec in tables_of(source)]
    for spec in run_tables:  # as maintenance leaves them after the third run
        storage.set_retention(spark, table_at(spec, warehouse), 336)
    (d3_run,) = {
        r["run_id"]
        for r in read(spark, RUN_LOG, warehouse).where(F.col("run_date") == scenario.D3).collect()
    }
    plan = restore.plan_before_run(spark, by_path(warehouse), d3_run)
    # The run log's "before" versions are those the two-date warehouse is at, for every table
    # a run writes and the pending event dates (the run log aside: it is the record).
    assert {s.table: s.target for s in plan.steps} == {
        spec.qualified_name: storage.latest_version(spark, table_at(spec, scenario_run.after_d2))
        for source in SOURCES
        for spec in recorded_tables(source)
    }
    assert plan.undid_runs == [d3_run]
    layers = [s.table.split("/")[0] for s in plan.steps if s.needed]
    # top-down: never gold ahead of silver, nor gold back before what tells it to recompute
    order = ["ops", "gold", "silver", "quarantine", "bronze"]
    assert layers == sorted(layers, key=order.index) and layers[0] == "gold"

    restore.apply(spark, by_path(warehouse), plan)
    assert_same_tables(spark, scenario_run.after_d2, warehouse)
    # The content goes back, the retention stays: RESTORE alone would bring back Delta's 7 days.
    assert _retentions(spark, warehouse, run_tables) == {
        spec.qualified_name: "interval 336 hours" for spec in run_tables
    }
    recorded = read(spark, RUN_LOG, warehouse).where(F.col("status") == "restore").collect()
    assert {tuple(r["undid_runs"]) for r in recorded} == {(d3_run,)}
    # The report counts no undone attempt: the third date reads as on the two-date warehouse.
    never_run = report.build(spark, by_path(scenario_run.after_d2), scenario.D3)["sources"]
    assert report.build(spark, by_path(warehouse), scenario.D3)["sources"] == never_run

    run_all(spark, scenario_run.landing, warehouse, [scenario.D3])
    assert_same_tables(spark, scenario_run.warehouse, warehouse)


def test_restore_to_a_date_plans_the_later_runs_undone_and_moves_nothing(
    spark: SparkSession, scenario_run: ScenarioRun, tmp_path: Path
) -> None:
    """A dry run: the plan's targets are the versions the date's last run left. Applying a
    plan is `restore.apply` whatever chose its targets, and the restore test above applies
    one."""
    warehouse = copy_warehouse(scenario_run.warehouse, tmp_path / "wh")
    plan = restore.plan_to_date(spark, by_path(warehouse), scenario.D2)
    assert plan.steps and all(
        s.target
        == storage.latest_version(
            spark, by_path(scenario_run.after_d2).table(*s.table.split("/", 1))
        )
        for s in plan.steps
    )
    before = {s.table: s.current for s in plan.steps}
    print(plan.render())  # the dry run: a plan, and no table moved
    assert {
        s.table: storage.latest_version(spark, by_path(warehouse).table(*s.table.split("/", 1)))
        for s in plan.steps
    } == before
