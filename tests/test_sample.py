"""The bundled sample: the seed's worked example, reruns and run order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import GOLD_TABLES
from tests.helpers import (
    SAMPLE_DATES,
    SAMPLE_LANDING,
    assert_all_tables_identical,
    bronze_counts,
    copy_warehouse,
    read,
    run_all,
)
from tests.sample_expected import expected_gold

D = date


@pytest.fixture(scope="module")
def sample_wh(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    warehouse = tmp_path_factory.mktemp("sample") / "wh"
    run_all(spark, SAMPLE_LANDING, warehouse, SAMPLE_DATES)
    yield warehouse


@pytest.mark.parametrize("table", [t.name for t in GOLD_TABLES])
def test_sample_gold_equals_the_worked_example(
    spark: SparkSession, sample_wh: Path, table: str
) -> None:
    """dim_customer_current and fact_order_current are answer 5 of the seed, row for row."""
    spec = next(t for t in GOLD_TABLES if t.name == table)
    assert_df_equality(
        read(spark, spec, sample_wh), expected_gold(spark)[table], ignore_row_order=True
    )


def test_rerunning_a_date_changes_nothing(
    spark: SparkSession, sample_wh: Path, tmp_path: Path
) -> None:
    rerun = copy_warehouse(sample_wh, tmp_path / "rerun")
    counts = bronze_counts(spark, rerun)
    run_all(spark, SAMPLE_LANDING, rerun, [D(2025, 3, 2)])
    assert bronze_counts(spark, rerun) == counts
    assert_all_tables_identical(spark, sample_wh, rerun)
