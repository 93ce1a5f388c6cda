"""Every rule of the contract on its own small case, and the run-order invariants."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse import faults, report
from lakehouse.config import Settings
from lakehouse.errors import ConcurrentRunError
from lakehouse.run import run_date
from lakehouse.sources import APP_EVENTS, CRM, ORDERS, SOURCES, TICKETS, Source
from lakehouse.tables import (
    DIM_CUSTOMER_CURRENT,
    FACT_APP_EVENTS_DAILY,
    FACT_TICKET_EVENTS_DAILY,
    GOLD_TABLES,
    RUN_LOG,
    TableSpec,
    quarantine_spec,
    recorded_tables,
    silver_spec,
)
from tests import scenario
from tests.helpers import (
    assert_gold,
    assert_same_rows,
    assert_same_tables,
    by_path,
    files_by_partition,
    read,
    run_all,
    write_csv,
)
from tests.scenario import ScenarioRun


@pytest.mark.parametrize("spec", GOLD_TABLES, ids=lambda t: t.name)
def test_gold_follows_every_rule(
    spark: SparkSession, scenario_run: ScenarioRun, spec: TableSpec
) -> None:
    assert_gold(
        spark,
        scenario_run.warehouse,
        spec,
        scenario.EXPECTED_GOLD[spec.name],
        scenario.GOLD_EXTRA_COLUMNS.get(spec.name, ()),
    )


def test_drifted_columns_named_like_derived_ones_are_kept_apart(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A CRM file carrying `load_date` and an event file carrying `event_date`: the run goes
    through, the job's own columns keep their meaning and the drifted values reach silver and
    gold as `<name>_drifted`."""
    landing, warehouse, day = tmp_path / "landing", tmp_path / "wh", date(2025, 3, 1)
    write_csv(
        landing,
        "crm_customer_updates",
        day,
        "c.csv",
        "customer_id,full_name,email,tier,updated_at,load_date,phone\n"
        "101,Ava,ava@example.com,gold,2025-03-01 09:00,yesterday,555",
    )
    write_csv(
        landing,
        "app_events",
        day,
        "a.csv",
        "event_id,customer_id,event_type,event_ts,event_date\n1,101,view,2025-03-02 10:00,x",
    )
    run_all(spark, landing, warehouse, [day])
    customers = spark.createDataFrame(
        [(101, "Ava", "ava@example.com", "gold", datetime(2025, 3, 1, 9), day, "yesterday", "555")],
        "customer_id int, full_name string, email string, tier string, "
        "last_updated_at timestamp, load_date date, load_date_drifted string, phone string",
    )
    assert_df_equality(
        read(spark, DIM_CUSTOMER_CURRENT, warehouse),
        customers,
        ignore_column_order=True,
        ignore_nullable=True,
    )
    events = read(spark, silver_spec(SOURCES[2]), warehouse).select(
        "event_id", "event_date", "event_date_drifted"
    )
    expected_events = spark.createDataFrame(
        [(1, date(2025, 3, 2), "x")], "event_id int, event_date date, event_date_drifted string"
    )
    assert_df_equality(events, expected_events, ignore_nullable=True)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_bad_rows_are_quarantined_with_reasons(
    spark: SparkSession, scenario_run: ScenarioRun, source: Source
) -> None:
    key = source.key[0]
    rows = read(spark, quarantine_spec(source), scenario_run.warehouse).collect()
    got = {(r[key], r["_reason"], r["_source_file"], r["_ingest_date"]) for r in rows}
    assert got == scenario.EXPECTED_QUARANTINE[source.name]
    assert len(rows) == len(got)


def test_raw_text_of_unparseable_lines_is_kept(
    spark: SparkSession, scenario_run: ScenarioRun
) -> None:
    source = next(s for s in SOURCES if s.name == "app_events")
    raw = {
        r["_raw_record"]
        for r in read(spark, quarantine_spec(source), scenario_run.warehouse).collect()
    }
    assert raw == {"{broken", "[1, 2]", None}


def test_silver_keeps_the_deletion_tombstones(
    spark: SparkSession, scenario_run: ScenarioRun
) -> None:
    crm = next(s for s in SOURCES if s.name == "crm_customer_updates")
    rows = read(spark, silver_spec(crm), scenario_run.warehouse).where("is_deleted").collect()
    assert {(r["customer_id"], r["_ingest_date"]) for r in rows} == {
        (204, scenario.D2),
        (205, scenario.D1),
    }


def test_a_late_ticket_recomputes_only_its_own_day(
    spark: SparkSession, scenario_run: ScenarioRun
) -> None:
    after = files_by_partition(spark, FACT_TICKET_EVENTS_DAILY, scenario_run.warehouse)
    before = scenario_run.ticket_files_before_d3
    assert after[scenario.D2] == before[scenario.D2]  # untouched: same files
    assert after[scenario.D1].isdisjoint(before[scenario.D1])  # late event: recomputed
    assert date(2025, 3, 29) in after and date(2025, 3, 29) not in before
    apps = files_by_partition(spark, FACT_APP_EVENTS_DAILY, scenario_run.warehouse)
    assert apps[scenario.D1] == scenario_run.app_files_before_d3[scenario.D1]
    assert apps[scenario.D2] == scenario_run.app_files_before_d3[scenario.D2]


def test_the_run_log_accounts_for_every_row(spark: SparkSession, scenario_run: ScenarioRun) -> None:
    """One row per source per run; quarantine by reason matches the hand-written scenario."""
    log = read(spark, RUN_LOG, scenario_run.warehouse).where("status != 'no_data'").collect()
    assert {r["status"] for r in log} == {"succeeded"}
    assert len({(r["run_date"], r["source"]) for r in log}) == len(log)
    with_current_table = {s.name for s in SOURCES if s.current is not None}
    for r in log:
        assert r["rows_landed"] == r["rows_valid"] + r["rows_quarantined"]
        assert r["rows_valid"] == r["rows_kept"] + r["duplicates_dropped"]
        # Gold's MERGE counts are the current-state table's: none where a source has none.
        gold_counts = (r["gold_rows_inserted"], r["gold_rows_updated"], r["gold_rows_deleted"])
        has_counts = [count is not None for count in gold_counts]
        assert has_counts == [r["source"] in with_current_table] * 3, r["source"]
    got: Counter[tuple[str, str, date]] = Counter()
    for r in log:
        for reason, n in (r["quarantined_by_reason"] or {}).items():
            got[(r["source"], reason, r["run_date"])] += n
    expected = Counter(
        (source, reason, day)
        for source, rows in scenario.EXPECTED_QUARANTINE.items()
        for (_, reason, _, day) in rows
    )
    assert got == expected


def test_the_sla_report_accounts_for_every_landed_row(
    spark: SparkSession, scenario_run: ScenarioRun
) -> None:
    """D1's figures after all three dates, counted by hand from the scenario's files: what
    landed, what was quarantined, the rows silver and gold still hold from D1 (later dates
    replaced some), the duplicates D1's run dropped."""
    built = report.build(spark, by_path(scenario_run.warehouse), scenario.D1)
    got = {
        r["source"]: (
            r["last_status"],
            r["landed"],
            r["quarantined"],
            r["in_silver"],
            r["in_gold"],
            r["duplicates_dropped"],
        )
        for r in built["sources"]
    }
    assert got == {
        # 202 (crm_b.csv's), 203, 208 and 205's deletion; 201 and 204 went to D2's records
        CRM.name: ("succeeded", 11, 3, 4, 3, 1),
        # 9101's 18:00 and 9104; 9103 went to D2's record
        ORDERS.name: ("succeeded", 10, 5, 2, 2, 2),
        APP_EVENTS.name: ("succeeded", 3, 1, 2, None, 0),
        # 7101's 08:00 event stays D1's; its current row is D2's resolved
        TICKETS.name: ("succeeded", 1, 0, 1, 0, 0),
    }
    assert [t["table"] for t in built["gold_freshness"]] == [t.name for t in GOLD_TABLES]
    assert json.loads(report.render_json(built)) == built
    assert report.render_text(built).startswith(f"SLA report for ingest date {scenario.D1}")


def test_the_run_log_records_the_versions_each_run_started_from(
    spark: SparkSession, scenario_run: ScenarioRun
) -> None:
    """Reading every table at the versions D3's run started from gives D1+D2's tables."""
    d3 = read(spark, RUN_LOG, scenario_run.warehouse).where(F.col("run_date") == F.lit(scenario.D3))
    for entry in d3.where("status = 'succeeded'").collect():
        source = next(s for s in SOURCES if s.name == entry["source"])
        assert set(entry["table_versions"]) == {t.qualified_name for t in recorded_tables(source)}
        for spec in recorded_tables(source):
            before = entry["table_versions_before"][spec.qualified_name]
            assert entry["table_versions"][spec.qualified_name] >= before
            assert_same_rows(
                spark.read.format("delta")
                .option("versionAsOf", before)
                .load(spec.path(str(scenario_run.warehouse))),
                read(spark, spec, scenario_run.after_d2),
            )


class _Rendezvous:
    """Stands in for `faults.point`: parallel runs meet before each commit, so both have
    read the same snapshot and their writes really race (no luck of timing needed). Once a
    run has finished, the other goes on alone."""

    def __init__(self, sources: set[str]) -> None:
        self._sources = sources  # those all the runs have data for: the others never meet
        self._lock = threading.Lock()
        self._barriers: dict[str, threading.Barrier] = {}
        self._passed: set[tuple[int, str]] = set()
        self._open = True

    def __call__(self, when: str, step: str, source: str | None = None) -> None:
        name = f"{when}:{step}:{source}"
        if when != "before" or source not in self._sources:
            return
        with self._lock:
            if not self._open or (threading.get_ident(), name) in self._passed:
                return  # alone, or a retry: go ahead
            self._passed.add((threading.get_ident(), name))
            barrier = self._barriers.setdefault(name, threading.Barrier(2, timeout=30))
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    def leave(self) -> None:
        with self._lock:
            self._open = False
            for barrier in self._barriers.values():
                barrier.abort()


def _run_in_parallel(
    spark: SparkSession, landing: Path, warehouse: Path, days: list[date], meet: _Rendezvous
) -> None:
    """Run the dates at once in threads of the shared session; a run that gives up must
    say why (ConcurrentRunError), and its rerun must then succeed."""
    settings = Settings(landing=str(landing), warehouse=str(warehouse))
    errors: dict[int, BaseException] = {}

    def attempt(i: int, day: date) -> None:
        try:
            run_date(spark, settings, day)
        except BaseException as exc:  # reported to the test thread below
            errors[i] = exc
        finally:
            meet.leave()

    threads = [threading.Thread(target=attempt, args=(i, d)) for i, d in enumerate(days)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, exc in errors.items():
        assert isinstance(exc, ConcurrentRunError), f"{type(exc).__name__}: {exc}"
        run_date(spark, settings, days[i])


def test_parallel_out_of_order_and_repeated_runs_end_in_the_serial_state(
    spark: SparkSession,
    scenario_run: ScenarioRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two later dates at once, then the first date twice at once, then a rerun: every
    table but the run log equals the in-order serial run (whose gold the rule tests check
    against the hand-written expectation)."""
    warehouse = tmp_path / "wh"
    with caplog.at_level(logging.INFO):
        for days in ([scenario.D3, scenario.D2], [scenario.D1, scenario.D1]):
            meet = _Rendezvous(
                {
                    s.name
                    for s in SOURCES
                    if all(
                        (scenario_run.landing / s.name / f"ingest_date={d}").is_dir() for d in days
                    )
                }
            )
            monkeypatch.setattr(faults, "point", meet)
            _run_in_parallel(spark, scenario_run.landing, warehouse, days, meet)
        run_all(spark, scenario_run.landing, warehouse, [scenario.D3])
    assert any("committed first" in r.getMessage() for r in caplog.records)  # a race was lost
    assert_same_tables(spark, scenario_run.warehouse, warehouse)
