"""Gold as analysts read it: delta-rs, Polars, pandas and DuckDB, outside Spark, each read
compared with Spark's own read of the same table, rows and types; and a gold table that an
earlier release wrote with deletion vectors, brought back within those readers by maintenance.

The readers live in a virtual environment of their own (tests/readers/requirements.txt, made
by `make test`); tests/readers/read_gold.py reads with them and writes each result as Parquet,
which keeps Arrow's types for Spark to compare.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse import sql, storage
from lakehouse.maintenance import MIN_RETAIN_HOURS, maintain_table, table_features
from lakehouse.tables import (
    DIM_CUSTOMER_CURRENT,
    DIM_CUSTOMER_HISTORY,
    FACT_ORDER_CURRENT,
    FACT_ORDER_HISTORY,
    FACT_TICKET_CURRENT,
    GOLD_FORBIDDEN_FEATURES,
    GOLD_TABLES,
    TableSpec,
)
from tests.helpers import by_path, copy_warehouse, read, run_process, table_at
from tests.paths import ROOT
from tests.scenario import ScenarioRun

READERS_PYTHON = Path(os.environ.get("READERS_PYTHON", ROOT / ".venv-readers" / "bin" / "python"))
READ_GOLD = ROOT / "tests" / "readers" / "read_gold.py"
READERS = ("deltalake", "polars", "pandas", "duckdb")
CHANGE_FEED = "deltalake-cdf"
# delta-rs gives the commit timestamp without a time zone (and Spark's is the file's time):
# the change feed is compared by its rows, change types and versions.
_NOT_COMPARED = ("_commit_timestamp",)
# The gold tables an earlier release created with deletion vectors (the MERGEd ones).
WITH_DELETION_VECTORS_BEFORE = (
    DIM_CUSTOMER_CURRENT,
    FACT_ORDER_CURRENT,
    FACT_TICKET_CURRENT,
    DIM_CUSTOMER_HISTORY,
    FACT_ORDER_HISTORY,
)


@dataclass(frozen=True)
class Reads:
    warehouse: Path
    out: Path

    def frame(self, spark: SparkSession, reader: str, spec: TableSpec) -> DataFrame:
        error = self.out / reader / f"{spec.name}.error"
        assert not error.exists(), f"{reader} cannot read {spec.name}: {error.read_text()}"
        return spark.read.parquet(str(self.out / reader / f"{spec.name}.parquet"))


def read_with_every_reader(
    warehouse: Path, out: Path, specs: tuple[TableSpec, ...] = GOLD_TABLES
) -> Reads:
    assert READERS_PYTHON.exists(), (
        f"{READERS_PYTHON} missing: `make test` makes the readers' environment "
        "(or set READERS_PYTHON to an interpreter with tests/readers/requirements.txt)"
    )
    paths = [spec.path(str(warehouse)) for spec in specs]
    run_process([str(READERS_PYTHON), str(READ_GOLD), str(out), *paths])
    return Reads(warehouse, out)


@pytest.fixture(scope="module")
def sample_reads(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Reads:
    return read_with_every_reader(sample_warehouse, tmp_path_factory.mktemp("reads"))


@pytest.fixture(scope="module")
def scenario_reads(scenario_run: ScenarioRun, tmp_path_factory: pytest.TempPathFactory) -> Reads:
    """The rule scenario's gold: drifted columns, and timestamps of the year 202 (valid by the
    contract's formats, outside the nanosecond range some Parquet encodings are read into)."""
    return read_with_every_reader(scenario_run.warehouse, tmp_path_factory.mktemp("reads"))


@dataclass(frozen=True)
class Legacy:
    """A gold table as an earlier release left it, before maintenance."""

    features: frozenset[str]
    deletion_vectors: int  # written into its files


def _with_deletion_vectors(spark: SparkSession, spec: TableSpec, warehouse: Path) -> Legacy:
    """Deletion vectors on, and one in its files: compacted into one file, then one row of it
    MERGEd onto itself (marked deleted in that file, written anew)."""
    path = spec.path(str(warehouse))
    spark.sql(
        f"ALTER TABLE {sql.delta_table(path)} "
        "SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')"
    )
    table = DeltaTable.forPath(spark, path)
    table.optimize().executeCompaction()
    same_row = reduce(
        lambda a, b: a & b, [F.col(f"t.{c}").eqNullSafe(F.col(f"s.{c}")) for c in spec.schema.names]
    )
    one_row = spark.createDataFrame(table.toDF().limit(1).collect(), table.toDF().schema)
    table.alias("t").merge(one_row.alias("s"), same_row).whenMatchedUpdateAll().execute()
    metrics = table.history(1).select("operationMetrics").first()
    assert metrics is not None
    return Legacy(
        table_features(spark, table_at(spec, warehouse)),
        int(metrics[0].get("numTargetDeletionVectorsAdded", 0)),
    )


@pytest.fixture(scope="module")
def migrated(
    spark: SparkSession, sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Reads, dict[str, Legacy]]:
    """The sample's gold as an earlier release left it, then maintained: each table before
    maintenance, and what the readers read after it."""
    base = tmp_path_factory.mktemp("legacy")
    warehouse = copy_warehouse(sample_warehouse, base / "wh")
    before = {}
    for spec in WITH_DELETION_VECTORS_BEFORE:
        before[spec.name] = _with_deletion_vectors(spark, spec, warehouse)
        maintain_table(spark, spec, by_path(warehouse), retain_hours=MIN_RETAIN_HOURS, vacuum=False)
    reads = read_with_every_reader(warehouse, base / "reads", WITH_DELETION_VECTORS_BEFORE)
    return reads, before


def _assert_read_as_spark_reads(
    spark: SparkSession, reads: Reads, reader: str, spec: TableSpec
) -> None:
    assert_df_equality(
        reads.frame(spark, reader, spec),
        read(spark, spec, reads.warehouse),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def _each_reader_and_gold_table(test: Callable[..., None]) -> Callable[..., None]:
    """One case per reader and gold table."""
    by_table = pytest.mark.parametrize("spec", GOLD_TABLES, ids=lambda spec: spec.name)
    cases: Callable[..., None] = pytest.mark.parametrize("reader", READERS)(by_table(test))
    return cases


@_each_reader_and_gold_table
def test_every_reader_reads_each_gold_table_as_spark_does(
    spark: SparkSession, sample_reads: Reads, reader: str, spec: TableSpec
) -> None:
    _assert_read_as_spark_reads(spark, sample_reads, reader, spec)


@_each_reader_and_gold_table
def test_every_reader_reads_the_rule_scenarios_gold_as_spark_does(
    spark: SparkSession, scenario_reads: Reads, reader: str, spec: TableSpec
) -> None:
    _assert_read_as_spark_reads(spark, scenario_reads, reader, spec)


@pytest.mark.parametrize("spec", GOLD_TABLES, ids=lambda spec: spec.name)
def test_delta_rs_reads_each_gold_change_feed_as_spark_does(
    spark: SparkSession, sample_reads: Reads, spec: TableSpec
) -> None:
    spark_feed = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", 0)
        .load(spec.path(str(sample_reads.warehouse)))
        .drop(*_NOT_COMPARED)
    )
    delta_rs_feed = sample_reads.frame(spark, CHANGE_FEED, spec).select(
        *[
            F.col(c).cast("long").alias(c) if c == "_commit_version" else F.col(c)
            for c in spark_feed.columns
        ]
    )
    assert_df_equality(delta_rs_feed, spark_feed, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("spec", GOLD_TABLES, ids=lambda spec: spec.name)
def test_gold_needs_no_reader_feature(
    spark: SparkSession, sample_warehouse: Path, spec: TableSpec
) -> None:
    """Reader version 1: any Delta reader can read gold (docs/reading-gold.md)."""
    detail = storage.table_detail(spark, table_at(spec, sample_warehouse))
    assert detail["minReaderVersion"] == 1
    assert not set(detail["tableFeatures"]) & set(GOLD_FORBIDDEN_FEATURES)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("spec", WITH_DELETION_VECTORS_BEFORE, ids=lambda spec: spec.name)
def test_maintenance_brings_gold_with_deletion_vectors_back_within_every_reader(
    spark: SparkSession,
    sample_warehouse: Path,
    migrated: tuple[Reads, dict[str, Legacy]],
    reader: str,
    spec: TableSpec,
) -> None:
    reads, before = migrated
    assert "deletionVectors" in before[spec.name].features
    assert before[spec.name].deletion_vectors > 0
    detail = storage.table_detail(spark, table_at(spec, reads.warehouse))
    assert detail["minReaderVersion"] == 1
    assert "deletionVectors" not in detail["tableFeatures"]
    _assert_read_as_spark_reads(spark, reads, reader, spec)
    # nothing lost or changed on the way
    assert_df_equality(
        read(spark, spec, reads.warehouse),
        read(spark, spec, sample_warehouse),
        ignore_row_order=True,
    )
