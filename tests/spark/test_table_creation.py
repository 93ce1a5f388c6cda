"""Two runs changing one table's definition at once. Creating it: the loser's failure is a
lost race, retried until the other's creation is there; a folder holding other files is never
made a table. Adding a drifted column: the one that finds it there already reads the table
again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse import concurrency, conditions, ddl, storage
from lakehouse.conditions import is_column_added_meanwhile
from lakehouse.ddl import ABANDONED_LOG_AFTER_SECONDS, ensure_table, ensure_tables
from lakehouse.errors import NotADeltaTableError, TableCreationInProgressError
from lakehouse.sources import APP_EVENTS, CRM
from lakehouse.tables import GOLD_TABLES, RUN_LOG, all_specs, bronze_spec, silver_spec
from lakehouse.warehouse import Table
from tests.fakes import DeltaSays, abandoned_log
from tests.helpers import by_path, fresh_warehouse


def test_a_table_another_run_is_creating_is_a_lost_race_and_retried(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run's creation caught between starting the log and its first commit (seen
    with two first runs at once on an empty warehouse): retried, and done once it is there."""
    monkeypatch.setattr(time, "sleep", lambda _: None)
    monkeypatch.setattr(ddl, "ABANDONED_LOG_AFTER_SECONDS", 3600.0)  # however slow this test
    log_dir = Path(RUN_LOG.path(str(tmp_path))) / "_delta_log"
    log_dir.mkdir(parents=True)
    (log_dir / ".00000000000000000000.json.tmp").write_text("")  # the other run's commit
    with pytest.raises(TableCreationInProgressError, match="another run is creating"):
        ensure_table(spark, RUN_LOG, by_path(tmp_path))
    elsewhere = tmp_path / "other"
    ensure_table(spark, RUN_LOG, by_path(elsewhere))
    first_commit = Path(RUN_LOG.path(str(elsewhere))) / "_delta_log" / f"{0:020d}.json"
    attempts: list[int] = []

    def create() -> None:
        attempts.append(1)
        if len(attempts) == 2:  # the other run's first commit lands while this one waits
            (log_dir / ".00000000000000000000.json.tmp").unlink()
            (log_dir / first_commit.name).write_bytes(first_commit.read_bytes())
        ensure_table(spark, RUN_LOG, by_path(tmp_path))

    concurrency.retry_on_conflict("the table definitions", create)
    assert len(attempts) == 2
    assert spark.read.format("delta").load(RUN_LOG.path(str(tmp_path))).schema == RUN_LOG.schema


def test_delta_reporting_a_table_half_created_by_another_run_is_a_lost_race_and_retried(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    monkeypatch.setattr(ddl, "ABANDONED_LOG_AFTER_SECONDS", 3600.0)  # however slow this test
    log_dir = Path(RUN_LOG.path(str(tmp_path))) / "_delta_log"
    log_dir.mkdir(parents=True)
    create = spark.sql
    attempts: list[str] = []

    def sql(statement: str) -> object:
        if statement.startswith("CREATE TABLE") and not attempts:
            attempts.append(statement)
            raise DeltaSays("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION")
        return create(statement)

    monkeypatch.setattr(spark, "sql", sql)
    with pytest.raises(TableCreationInProgressError, match="another run is creating"):
        ensure_table(spark, RUN_LOG, by_path(tmp_path))
    elsewhere = tmp_path / "other"  # the other run's first commit lands
    ensure_table(spark, RUN_LOG, by_path(elsewhere))
    first_commit = Path(RUN_LOG.path(str(elsewhere))) / "_delta_log" / f"{0:020d}.json"
    (log_dir / first_commit.name).write_bytes(first_commit.read_bytes())
    concurrency.retry_on_conflict(
        "the table definitions", lambda: ensure_table(spark, RUN_LOG, by_path(tmp_path))
    )
    assert spark.read.format("delta").load(RUN_LOG.path(str(tmp_path))).schema == RUN_LOG.schema


def test_log_folders_a_run_killed_while_creating_tables_left_are_created_over(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A run killed between making a table's log folder and its first commit: the next run
    creates the table there, as a clean first run does, instead of waiting for a creation
    that will never finish."""
    killed = tmp_path / "killed"
    left_behind = (RUN_LOG, GOLD_TABLES[0], silver_spec(APP_EVENTS))
    for spec in left_behind:
        abandoned_log(Path(spec.path(str(killed))), idle_for=ABANDONED_LOG_AFTER_SECONDS + 5)
    versions = ensure_tables(spark, by_path(killed))
    assert versions == {spec.qualified_name: 0 for spec in all_specs()}
    clean = fresh_warehouse(spark, tmp_path / "clean")
    for spec in left_behind:
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{spec.path(str(killed))}`")
        expected = spark.sql(f"DESCRIBE DETAIL delta.`{spec.path(str(clean))}`")
        columns = ["format", "partitionColumns", "properties", "minReaderVersion"]
        assert detail.select(columns).collect() == expected.select(columns).collect()
        assert spark.read.format("delta").load(spec.path(str(killed))).schema == spec.schema


def test_a_folder_holding_other_files_is_not_made_a_table(
    spark: SparkSession, tmp_path: Path
) -> None:
    table_dir = Path(RUN_LOG.path(str(tmp_path)))
    table_dir.mkdir(parents=True)
    (table_dir / "notes.txt").write_text("not a table")
    with pytest.raises(NotADeltaTableError, match="holds files but is not a Delta table"):
        concurrency.retry_on_conflict(
            "the table definitions", lambda: ensure_table(spark, RUN_LOG, by_path(tmp_path))
        )
    assert [p.name for p in table_dir.iterdir()] == ["notes.txt"]


@pytest.fixture
def crm_bronze(spark: SparkSession, tmp_path: Path) -> tuple[Table, T.StructType]:
    """A fresh warehouse's CRM bronze table, and its declared schema."""
    table = bronze_spec(CRM).table(by_path(fresh_warehouse(spark, tmp_path / "wh")))
    return table, storage.read(spark, table).schema


@pytest.mark.parametrize(
    ("found_by", "others_add"),
    [
        ("FIELD_ALREADY_EXISTS", ["phone"]),
        ("DELTA_DUPLICATE_COLUMNS_FOUND", ["phone"]),
        ("FIELD_ALREADY_EXISTS", ["phone", "loyalty"]),  # a third run, one look later
    ],
)
def test_a_drifted_column_other_runs_added_meanwhile_is_taken_as_there(
    spark: SparkSession,
    crm_bronze: tuple[Table, T.StructType],
    monkeypatch: pytest.MonkeyPatch,
    found_by: str,
    others_add: list[str],
) -> None:
    """Runs bringing the same drifted columns: another run's ALTER TABLE lands between this
    run's look at the schema and its own, at each of its looks. Spark finds the column there
    as it plans the statement (FIELD_ALREADY_EXISTS); Delta, when its transaction reads the
    table anew (DELTA_DUPLICATE_COLUMNS_FOUND, raised here for it)."""
    table, declared = crm_bronze
    batch = T.StructType(
        [*declared.fields, *(T.StructField(c, T.StringType()) for c in ("phone", "loyalty"))]
    )
    run_sql = spark.sql
    waiting = list(others_add)
    caught: list[str | None] = []

    def another_run_first(statement: str) -> object:
        if statement.startswith("ALTER TABLE") and waiting:
            column = T.StructField(waiting.pop(0), T.StringType())
            now = storage.read(spark, table).schema.fieldNames()
            _, added = storage.placed_columns(now, table.declared, [column])
            run_sql(f"ALTER TABLE {table.sql} ADD COLUMNS ({', '.join(added)})")
            if found_by == "DELTA_DUPLICATE_COLUMNS_FOUND":
                raise DeltaSays(found_by)
        return run_sql(statement)

    def recorded(exc: BaseException) -> bool:
        caught.append(conditions.condition_of(exc))
        return is_column_added_meanwhile(exc)

    monkeypatch.setattr(spark, "sql", another_run_first)
    monkeypatch.setattr(conditions, "is_column_added_meanwhile", recorded)
    columns = storage.add_missing_columns(spark, table, batch)
    expected = [*declared.fieldNames(), "loyalty", "phone"]
    assert caught == [found_by] * len(others_add)
    assert columns == expected
    assert storage.read(spark, table).schema.fieldNames() == expected


def test_a_duplicate_column_no_other_run_added_is_raised(
    spark: SparkSession, crm_bronze: tuple[Table, T.StructType], monkeypatch: pytest.MonkeyPatch
) -> None:
    table, declared = crm_bronze
    batch = T.StructType([*declared.fields, T.StructField("phone", T.StringType())])
    run_sql = spark.sql
    statements: list[str] = []

    def duplicate(statement: str) -> object:
        if statement.startswith("ALTER TABLE"):
            statements.append(statement)
            raise DeltaSays("DELTA_DUPLICATE_COLUMNS_FOUND")
        return run_sql(statement)

    monkeypatch.setattr(spark, "sql", duplicate)
    with pytest.raises(DeltaSays):
        storage.add_missing_columns(spark, table, batch)
    assert len(statements) == 1
    assert storage.read(spark, table).schema == declared


def test_a_column_placed_against_an_older_look_is_moved_into_order(
    spark: SparkSession, crm_bronze: tuple[Table, T.StructType]
) -> None:
    """Two runs look at the table, one bringing `loyalty`, the other `phone`; the `phone`
    run's ALTER TABLE, placed against its look, lands second: `phone` goes in before
    `loyalty`, and is put back in order (a column moved keeps its values)."""
    table, declared = crm_bronze
    with_drift = [*declared.fields, T.StructField("loyalty", T.StringType())]
    storage.add_missing_columns(spark, table, T.StructType(with_drift))
    spark.sql(f"INSERT INTO {table.sql} (customer_id, loyalty) VALUES ('C1', 'gold')")
    phone = T.StructType([*declared.fields, T.StructField("phone", T.StringType())])
    columns = storage.add_missing_columns(spark, table, phone, current=declared)
    expected = [*declared.fieldNames(), "loyalty", "phone"]
    assert columns == expected
    stored = storage.read(spark, table)
    assert stored.columns == expected
    assert stored.select("customer_id", "loyalty", "phone").collect() == [("C1", "gold", None)]
