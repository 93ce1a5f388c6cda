"""What a day's run recomputes: only the event dates whose silver rows change, through an
insert-only MERGE when nothing stored is outranked, and safely when another writer commits
to silver in between; nothing on a rerun that finds no new row, files holding no row
included; and what bronze holds of a day whose landing folder is gone."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse import faults, ops, storage
from lakehouse.config import STEPS
from lakehouse.run import run_date
from lakehouse.sources import APP_EVENTS, ORDERS, SOURCES
from lakehouse.tables import (
    FACT_APP_EVENTS_DAILY,
    FACT_ORDER_CURRENT,
    PENDING_EVENT_DATES,
    RUN_LOG,
    silver_spec,
)
from tests.helpers import (
    EVERY_TABLE_BUT_THE_RUN_LOG,
    ORDER_HEADER,
    app_event,
    assert_gold,
    assert_same_tables,
    files_by_partition,
    read,
    run_all,
    settings_for,
    table_at,
    write_csv,
    write_jsonl,
)

D = date
D1, D2, D3 = D(2025, 5, 1), D(2025, 5, 2), D(2025, 5, 3)


def _silver_operations(warehouse: Path) -> list[tuple[str, bool]]:
    """Each silver MERGE of app events: (operation, whether it had an update clause)."""
    log_dir = Path(silver_spec(APP_EVENTS).path(str(warehouse))) / "_delta_log"
    out = []
    for commit in sorted(log_dir.glob("*.json")):
        for line in commit.read_text().splitlines():
            info = json.loads(line).get("commitInfo")
            if info and info["operation"] == "MERGE":
                matched = json.loads(info["operationParameters"]["matchedPredicates"])
                out.append((info["operation"], bool(matched)))
    return out


def test_a_losing_redelivery_recomputes_nothing_and_an_earlier_arrival_both_dates(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    settings = settings_for(spark, landing, warehouse)
    write_jsonl(landing, APP_EVENTS.name, D1, "a.jsonl", [app_event(1, "view", "2025-04-20 10:00")])
    # D2: a new event, and event 1 again (a re-delivery: the first arrival stays)
    write_jsonl(
        landing,
        APP_EVENTS.name,
        D2,
        "b.jsonl",
        [app_event(2, "view", "2025-05-02 09:00"), app_event(1, "view", "2025-04-20 10:00")],
    )
    run_date(spark, settings, D1)
    before = files_by_partition(spark, FACT_APP_EVENTS_DAILY, warehouse)
    second = run_date(spark, settings, D2)
    assert second.touched_event_dates == {APP_EVENTS.name: [D(2025, 5, 2)]}
    after = files_by_partition(spark, FACT_APP_EVENTS_DAILY, warehouse)
    assert after[D(2025, 4, 20)] == before[D(2025, 4, 20)]  # its partition not rewritten
    # a forward run only inserts: no MERGE with an update clause
    assert _silver_operations(warehouse) == [("MERGE", False), ("MERGE", False)]

    # D3, run later, lands event 3 at 2025-04-21; D0 (an older ingest date, a backfill) holds
    # event 3's first arrival at 2025-04-19: it wins and moves the event, so both dates change
    write_jsonl(landing, APP_EVENTS.name, D3, "c.jsonl", [app_event(3, "buy", "2025-04-21 10:00")])
    d0 = D(2025, 4, 30)
    write_jsonl(landing, APP_EVENTS.name, d0, "z.jsonl", [app_event(3, "buy", "2025-04-19 10:00")])
    run_date(spark, settings, D3)
    backfilled = run_date(spark, settings, d0)
    assert backfilled.touched_event_dates == {APP_EVENTS.name: [D(2025, 4, 19), D(2025, 4, 21)]}
    assert _silver_operations(warehouse)[-1] == ("MERGE", True)
    assert_df_equality(
        read(spark, FACT_APP_EVENTS_DAILY, warehouse),
        spark.createDataFrame(
            [
                (D(2025, 4, 19), "buy", 1),
                (D(2025, 4, 20), "view", 1),
                (D(2025, 5, 2), "view", 1),
            ],
            FACT_APP_EVENTS_DAILY.schema,
        ),
        ignore_row_order=True,
    )


def test_a_commit_to_silver_between_the_look_and_the_insert_is_retried(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run commits event 7 from a later ingest date right after this run decided that
    event 7 is new: an insert-only MERGE would then keep the later arrival. The version check
    sees silver moved and the step runs again, so the first arrival wins."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    settings = settings_for(spark, landing, warehouse)
    write_jsonl(landing, APP_EVENTS.name, D1, "a.jsonl", [app_event(7, "view", "2025-05-01 08:00")])
    silver_table = table_at(silver_spec(APP_EVENTS), warehouse)
    other = spark.createDataFrame(
        [(7, 1, "view", None, D3, "other.jsonl", "x", D(2025, 5, 1))],
        silver_spec(APP_EVENTS).schema,
    ).withColumn("event_ts", F.to_timestamp(F.lit("2025-05-01 08:00")))
    real_point = faults.point
    committed: list[int | None] = []

    def point(when: str, step: str, source: str | None = None) -> None:
        if (when, step, source) == ("before", "silver", APP_EVENTS.name) and not committed:
            committed.append(storage.insert_new(spark, silver_table, other, "FALSE"))
        real_point(when, step, source)

    monkeypatch.setattr(faults, "point", point)
    monkeypatch.setattr("lakehouse.concurrency.time.sleep", lambda _: None)
    run_date(spark, settings, D1)
    assert committed == [1]
    kept = read(spark, silver_spec(APP_EVENTS), warehouse).select("event_id", "_ingest_date")
    assert [tuple(r) for r in kept.collect()] == [(7, D1)]


def test_a_silver_step_run_again_after_moving_an_event_still_recomputes_the_date_it_left(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Event 9 lands first on D2 at 2025-04-21; D1, run later, holds its first arrival at
    2025-04-19 and moves it. Another writer commits to silver just before D1's MERGE, so the
    step runs again, and that second pass no longer sees where the event was: the date it
    left is recomputed all the same, and the pending row saying so is cleared."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    settings = settings_for(spark, landing, warehouse)
    write_jsonl(landing, APP_EVENTS.name, D2, "b.jsonl", [app_event(9, "buy", "2025-04-21 10:00")])
    write_jsonl(landing, APP_EVENTS.name, D1, "a.jsonl", [app_event(9, "buy", "2025-04-19 10:00")])
    run_date(spark, settings, D2)
    silver_table = table_at(silver_spec(APP_EVENTS), warehouse)
    real_point = faults.point
    other_writer: list[bool] = []

    def point(when: str, step: str, source: str | None = None) -> None:
        if (when, step, source) == ("before", "silver", APP_EVENTS.name) and not other_writer:
            other_writer.append(True)
            spark.sql(
                f"ALTER TABLE {silver_table.sql} SET TBLPROPERTIES ('test.other.writer' = 'yes')"
            ).collect()
        real_point(when, step, source)

    monkeypatch.setattr(faults, "point", point)
    monkeypatch.setattr("lakehouse.concurrency.time.sleep", lambda _: None)
    run_date(spark, settings, D1)
    assert other_writer  # the step did meet another commit
    assert_gold(spark, warehouse, FACT_APP_EVENTS_DAILY, [(D(2025, 4, 19), "buy", 1)])
    assert read(spark, PENDING_EVENT_DATES, warehouse).collect() == []


def test_a_column_the_day_brings_is_the_steps_own_commit_not_another_runs(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Events bringing a column silver lacks: the step adds it before it looks at silver, so
    the version check does not take that commit for another run's and the step runs once. On
    both paths: new events (insert-only), and an earlier arrival outranking a stored event."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    settings = settings_for(spark, landing, warehouse)
    event = app_event(8, "view", "2025-05-01 08:00")
    write_jsonl(landing, APP_EVENTS.name, D2, "a.jsonl", [{**event, "channel": "web"}])
    write_jsonl(landing, APP_EVENTS.name, D1, "a.jsonl", [{**event, "device": "ios"}])
    with caplog.at_level(logging.WARNING, logger="lakehouse.concurrency"):
        run_date(spark, settings, D2)
        run_date(spark, settings, D1)
    assert [r.getMessage() for r in caplog.records] == []
    kept = read(spark, silver_spec(APP_EVENTS), warehouse)
    assert [
        tuple(r) for r in kept.select("event_id", "_ingest_date", "channel", "device").collect()
    ] == [(8, D1, None, "ios")]


def _placed_orders(count: int) -> list[tuple[int, int, str, str]]:
    """Orders 1 to `count` of D1: (order_id, customer_id, order_total, updated_at)."""
    return [(i, 6 + i, f"{10 * i}.50", f"2025-05-01 0{i}:00") for i in range(1, count + 1)]


def _order_line(order: tuple[int, int, str, str]) -> str:
    order_id, customer_id, total, at = order
    return f"{order_id},{customer_id},{total},placed,{at}"


def _assert_placed_orders(
    spark: SparkSession, warehouse: Path, orders: list[tuple[int, int, str, str]]
) -> None:
    """fact_order_current holds exactly these orders of D1, each placed."""
    expected = [
        (i, c, Decimal(total), "placed", datetime.fromisoformat(at), D1)
        for i, c, total, at in orders
    ]
    assert_gold(spark, warehouse, FACT_ORDER_CURRENT, expected)


def test_a_rerun_skips_only_what_silver_and_gold_have_read_files_holding_no_row_aside(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A header-only CSV and an empty JSON Lines file leave nothing in bronze: a rerun that
    finds nothing new is unchanged all the same (no table but the run log gains a version).
    Rows a bronze step alone landed are never taken for done: the header-only file written
    anew with a row (its name not yet in bronze, so loaded), then a new file, each count as
    many files as an earlier attempt saw. A silver and gold step finding nothing new in
    bronze is unchanged too, and a load that inserts rows never is."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    settings = settings_for(spark, landing, warehouse)
    orders = _placed_orders(4)
    lines = [_order_line(order) for order in orders]
    write_csv(landing, ORDERS.name, D1, "a.csv", f"{ORDER_HEADER}\n{lines[0]}")
    write_csv(landing, ORDERS.name, D1, "b.csv", ORDER_HEADER)
    write_jsonl(landing, ORDERS.name, D1, "empty.jsonl", [])

    def status(*steps: str) -> str:
        return run_date(spark, settings, D1, steps=steps or STEPS).statuses[ORDERS.name]

    assert status() == ops.SUCCEEDED
    before = ops.versions_of(spark, settings.tables, EVERY_TABLE_BUT_THE_RUN_LOG)
    assert status() == ops.UNCHANGED
    assert ops.versions_of(spark, settings.tables, EVERY_TABLE_BUT_THE_RUN_LOG) == before

    write_csv(landing, ORDERS.name, D1, "b.csv", f"{ORDER_HEADER}\n{lines[1]}")
    assert status("bronze") == ops.SUCCEEDED
    assert status() == ops.SUCCEEDED
    write_csv(landing, ORDERS.name, D1, "c.csv", f"{ORDER_HEADER}\n{lines[2]}")
    assert status("bronze") == ops.SUCCEEDED
    assert status("silver", "gold") == ops.SUCCEEDED
    assert status("silver", "gold") == ops.UNCHANGED
    write_csv(landing, ORDERS.name, D1, "d.csv", f"{ORDER_HEADER}\n{lines[3]}")
    assert status() == ops.SUCCEEDED

    _assert_placed_orders(spark, warehouse, orders)


def test_merges_that_do_not_return_every_row_count_neither_skip_a_late_file_nor_log_zeros(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where Delta's MERGEs return no count of inserted rows, a rerun cannot tell from its
    bronze insert whether a late file brought rows: it is not taken for unchanged, so the
    file's orders reach gold, and the run log leaves gold's counts unknown (null) rather than
    0, the counts Delta did give included (a total missing one part is no total)."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    settings = settings_for(spark, landing, warehouse)
    orders = _placed_orders(2)
    write_csv(landing, ORDERS.name, D1, "a.csv", f"{ORDER_HEADER}\n{_order_line(orders[0])}")
    run_date(spark, settings, D1)
    write_csv(landing, ORDERS.name, D1, "b.csv", f"{ORDER_HEADER}\n{_order_line(orders[1])}")
    real_merge = storage._merge

    def merge_without_an_inserted_count(*args: Any) -> dict[str, int]:
        counts = real_merge(*args)
        counts.pop("inserted", None)
        return counts

    monkeypatch.setattr(storage, "_merge", merge_without_an_inserted_count)

    rerun = run_date(spark, settings, D1)

    assert rerun.statuses[ORDERS.name] == ops.SUCCEEDED
    _assert_placed_orders(spark, warehouse, orders)
    counts = ["gold_rows_inserted", "gold_rows_updated", "gold_rows_deleted"]
    logged = read(spark, RUN_LOG, warehouse).where(
        (F.col("run_id") == rerun.run_id) & (F.col("source") == ORDERS.name)
    )
    assert [tuple(r) for r in logged.select(*counts).collect()] == [(None, None, None)]


def test_a_day_bronze_holds_is_completed_after_its_landing_folder_is_gone(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A bronze step alone lands the day, then the landing folder is archived: a rerun finds
    no file to load and takes the day from bronze into silver and gold, every table as one
    run with the folder there leaves it; the next rerun is unchanged (no table but the run
    log gains a version). A source that never had the day stays without data."""
    landing, warehouse, plain = tmp_path / "landing", tmp_path / "wh", tmp_path / "plain"
    settings = settings_for(spark, landing, warehouse)
    (order,) = _placed_orders(1)
    write_csv(landing, ORDERS.name, D1, "a.csv", f"{ORDER_HEADER}\n{_order_line(order)}")
    run_all(spark, landing, plain, [D1])
    run_date(spark, settings, D1, steps=("bronze",))
    shutil.rmtree(landing / ORDERS.name)

    assert run_date(spark, settings, D1).statuses == {
        **{s.name: ops.NO_DATA for s in SOURCES},
        ORDERS.name: ops.SUCCEEDED,
    }
    assert_same_tables(spark, plain, warehouse)
    _assert_placed_orders(spark, warehouse, [order])
    before = ops.versions_of(spark, settings.tables, EVERY_TABLE_BUT_THE_RUN_LOG)
    assert run_date(spark, settings, D1).statuses[ORDERS.name] == ops.UNCHANGED
    assert ops.versions_of(spark, settings.tables, EVERY_TABLE_BUT_THE_RUN_LOG) == before
