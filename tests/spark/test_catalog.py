"""Tables by name: with a `catalog:` in the config every table is created and addressed as
`catalog.schema.table` (one schema per layer), managed by the catalog or external at the
warehouse's folders; without it, by path. Here in the shared session's own catalog; across
sessions with a Hive metastore in tests/process/test_metastore.py. The sample run one date at
a time by name against its range by path (`sample_warehouse`) also shows that a range gives
the tables of one run per date."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import ops, sql, storage
from lakehouse.config import Settings
from lakehouse.ddl import ensure_table
from lakehouse.files import folder_key
from lakehouse.run import run_date
from lakehouse.tables import EVENT_DATE, FACT_APP_EVENTS_DAILY, RUN_LOG, all_specs
from lakehouse.warehouse import Catalog, Warehouse, default_schemas
from tests.helpers import (
    EVERY_TABLE_BUT_THE_RUN_LOG,
    assert_same_rows,
    assert_same_tables,
    copy_warehouse,
    read,
    table_at,
)
from tests.paths import SAMPLE_DATES, SAMPLE_LANDING


def _fresh_catalog(*, managed: bool) -> Catalog:
    """Schemas of their own: the session's catalog outlives each test."""
    return Catalog(default_schemas(f"t{uuid.uuid4().hex[:10]}"), managed=managed)


def _listed(spark: SparkSession, catalog: Catalog) -> set[tuple[str, str]]:
    return {
        (schema, row["tableName"])
        for schema in set(catalog.schemas.values())
        for row in spark.sql(f"SHOW TABLES IN {sql.ident(schema)}").collect()
    }


def test_one_run_per_date_by_name_equals_the_range_by_path_and_a_rerun_changes_nothing(
    spark: SparkSession, sample_warehouse: Path
) -> None:
    """The sample, one run per date, with managed tables: every table the same as the range
    run by path, each in its layer's schema, and the run log telling the same story. A rerun
    of a date then changes nothing: no table but the run log gains a version."""
    catalog = _fresh_catalog(managed=True)
    settings = Settings(landing=str(SAMPLE_LANDING), warehouse="", catalog=catalog)
    for day in SAMPLE_DATES:
        run_date(spark, settings, day)

    assert_same_tables(spark, settings.tables, sample_warehouse)
    assert _listed(spark, catalog) == {(catalog.schemas[s.layer], s.name) for s in all_specs()}
    story = ["run_date", "source", "status", "rows_landed", "rows_kept", "event_dates_replaced"]
    assert_same_rows(
        read(spark, RUN_LOG, settings.tables).select(*story),
        read(spark, RUN_LOG, sample_warehouse).select(*story),
    )

    before = ops.versions_of(spark, settings.tables, EVERY_TABLE_BUT_THE_RUN_LOG)
    run_date(spark, settings, SAMPLE_DATES[1])
    assert ops.versions_of(spark, settings.tables, EVERY_TABLE_BUT_THE_RUN_LOG) == before


def test_a_warehouse_run_by_path_is_registered_by_name_as_it_is(
    spark: SparkSession, sample_warehouse: Path, tmp_path: Path
) -> None:
    """Turning the catalog on for a warehouse run by path until now: its tables are named
    where they are (external, history kept), and a rerun finds nothing to do."""
    warehouse = copy_warehouse(sample_warehouse, tmp_path / "wh")
    catalog = _fresh_catalog(managed=False)
    settings = Settings(landing=str(SAMPLE_LANDING), warehouse=str(warehouse), catalog=catalog)
    before = {
        s.qualified_name: storage.latest_version(spark, table_at(s, warehouse)) for s in all_specs()
    }

    result = run_date(spark, settings, SAMPLE_DATES[-1])

    # nothing to do: every source with data that day is unchanged (one has none)
    assert set(result.statuses.values()) == {"unchanged", "no_data"}
    assert _listed(spark, catalog) == {(catalog.schemas[s.layer], s.name) for s in all_specs()}
    for spec in all_specs():
        table = spec.table(settings.tables)
        detail = storage.table_detail(spark, table)
        assert folder_key(detail["location"]) == spec.path(str(warehouse)), spec.qualified_name
        if spec is not RUN_LOG:
            assert storage.latest_version(spark, table) == before[spec.qualified_name]
    assert_same_tables(spark, settings.tables, sample_warehouse)
    assert_same_rows(
        read(spark, RUN_LOG, settings.tables).where(F.col("run_id") != result.run_id),
        read(spark, RUN_LOG, sample_warehouse),
    )


def test_a_partition_overwrite_by_name_replaces_its_dates_and_takes_a_drifted_column(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The daily tables and the change histories are replaced a date at a time; by name that
    goes through the table's own overwrite by condition, which must keep the other dates and
    add the columns a source drifts into, as by path."""
    daily = FACT_APP_EVENTS_DAILY
    catalog = _fresh_catalog(managed=False)
    warehouse = Warehouse(str(tmp_path / "wh"), catalog)
    table = daily.table(warehouse)
    spark.sql(f"CREATE SCHEMA {table.schema_sql}")
    ensure_table(spark, daily, warehouse)
    first, second = date(2025, 3, 1), date(2025, 3, 2)
    storage.replace_partitions(
        table,
        spark.createDataFrame([(first, "view", 1), (second, "view", 2)], daily.schema),
        EVENT_DATE,
        [first, second],
    )
    drifted = T.StructType([*daily.schema.fields, T.StructField("channel", T.StringType())])
    storage.replace_partitions(
        table,
        spark.createDataFrame([(second, "click", 3, "app")], drifted),
        EVENT_DATE,
        [second],
        merge_schema=True,
    )
    assert_same_rows(
        storage.read(spark, table),
        spark.createDataFrame([(first, "view", 1, None), (second, "click", 3, "app")], drifted),
    )
    # A row outside the dates replaced is refused, as Delta's replaceWhere refuses it by path.
    with pytest.raises(AnalysisException) as refused:
        storage.replace_partitions(
            table, spark.createDataFrame([(first, "view", 9)], daily.schema), EVENT_DATE, [second]
        )
    assert refused.value.getCondition() == "DELTA_REPLACE_WHERE_MISMATCH"
