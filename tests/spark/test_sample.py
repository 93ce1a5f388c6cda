"""The bundled sample: the seed's worked example, the range run against one run per date,
and reruns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import (
    GOLD_TABLES,
)
from tests.helpers import (
    SAMPLE_DATES,
    SAMPLE_LANDING,
    assert_same_tables,
    bronze_counts,
    copy_warehouse,
    gold_frames,
    read,
    run_all,
)
from tests.sample_expected import SAMPLE_GOLD

D = date


@pytest.mark.parametrize("table", [t.name for t in GOLD_TABLES])
def test_sample_gold_equals_the_worked_example(
    spark: SparkSession, sample_warehouse: Path, table: str
) -> None:
    """dim_customer_current and fact_order_current are answer 5 of the seed, row for row."""
    spec = next(t for t in GOLD_TABLES if t.name == table)
    assert_df_equality(
        read(spark, spec, sample_warehouse),
        gold_frames(spark, SAMPLE_GOLD)[table],
        ignore_row_order=True,
    )


def test_one_run_per_date_equals_the_range_and_a_rerun_changes_nothing(
    spark: SparkSession, sample_warehouse: Path, tmp_path: Path
) -> None:
    per_date = tmp_path / "per_date"
    run_all(spark, SAMPLE_LANDING, per_date, SAMPLE_DATES)
    assert_same_tables(spark, sample_warehouse, per_date)

    before = copy_warehouse(per_date, tmp_path / "before_rerun")
    counts = bronze_counts(spark, per_date)
    run_all(spark, SAMPLE_LANDING, per_date, [D(2025, 3, 2)])
    assert bronze_counts(spark, per_date) == counts
    assert_same_tables(spark, before, per_date, load_metadata=True)
