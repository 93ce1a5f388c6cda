"""Every rule of the contract on its own small case, and the run-order invariants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import (
    FACT_APP_EVENTS_DAILY,
    FACT_TICKET_EVENTS_DAILY,
    GOLD_TABLES,
    SOURCES,
    quarantine_spec,
    silver_spec,
)
from tests import scenario
from tests.helpers import files_by_partition, read, run_all


@dataclass
class ScenarioRun:
    landing: Path
    warehouse: Path
    ticket_files_before_d3: dict[date, set[str]]
    app_files_before_d3: dict[date, set[str]]


@pytest.fixture(scope="module")
def in_order(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScenarioRun]:
    base = tmp_path_factory.mktemp("scenario")
    landing, warehouse = base / "landing", base / "wh"
    scenario.write_scenario(landing)
    run_all(spark, landing, warehouse, [scenario.D1, scenario.D2])
    tickets = files_by_partition(spark, FACT_TICKET_EVENTS_DAILY, warehouse)
    apps = files_by_partition(spark, FACT_APP_EVENTS_DAILY, warehouse)
    run_all(spark, landing, warehouse, [scenario.D3])
    yield ScenarioRun(landing, warehouse, tickets, apps)


@pytest.mark.parametrize("table", [t.name for t in GOLD_TABLES])
def test_gold_follows_every_rule(spark: SparkSession, in_order: ScenarioRun, table: str) -> None:
    spec = next(t for t in GOLD_TABLES if t.name == table)
    expected = scenario.expected_gold(spark)[table]
    assert_df_equality(
        read(spark, spec, in_order.warehouse),
        expected,
        ignore_row_order=True,
        ignore_nullable=True,
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_bad_rows_are_quarantined_with_reasons(
    spark: SparkSession, in_order: ScenarioRun, source
) -> None:  # type: ignore[no-untyped-def]
    key = source.key[0]
    rows = read(spark, quarantine_spec(source), in_order.warehouse).collect()
    got = {(r[key], r["_reason"], r["_source_file"], r["_ingest_date"]) for r in rows}
    assert got == scenario.EXPECTED_QUARANTINE[source.name]
    assert len(rows) == len(got)


def test_raw_text_of_unparseable_lines_is_kept(spark: SparkSession, in_order: ScenarioRun) -> None:
    source = next(s for s in SOURCES if s.name == "app_events")
    raw = {
        r["_raw_record"] for r in read(spark, quarantine_spec(source), in_order.warehouse).collect()
    }
    assert raw == {"{broken", "[1, 2]", None}


def test_silver_keeps_the_deletion_tombstones(spark: SparkSession, in_order: ScenarioRun) -> None:
    crm = next(s for s in SOURCES if s.name == "crm_customer_updates")
    rows = read(spark, silver_spec(crm), in_order.warehouse).where("is_deleted").collect()
    assert {(r["customer_id"], r["_ingest_date"]) for r in rows} == {
        (204, scenario.D2),
        (205, scenario.D1),
    }


def test_a_late_ticket_recomputes_only_its_own_day(
    spark: SparkSession, in_order: ScenarioRun
) -> None:
    after = files_by_partition(spark, FACT_TICKET_EVENTS_DAILY, in_order.warehouse)
    before = in_order.ticket_files_before_d3
    assert after[scenario.D2] == before[scenario.D2]  # untouched: same files
    assert after[scenario.D1].isdisjoint(before[scenario.D1])  # late event: recomputed
    assert date(2025, 3, 29) in after and date(2025, 3, 29) not in before
    apps = files_by_partition(spark, FACT_APP_EVENTS_DAILY, in_order.warehouse)
    assert apps[scenario.D1] == in_order.app_files_before_d3[scenario.D1]
    assert apps[scenario.D2] == in_order.app_files_before_d3[scenario.D2]
