"""The sample's dates run out of order (the late ticket day first) give the same gold."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import GOLD_TABLES
from tests.helpers import SAMPLE_LANDING, read, run_all
from tests.sample_expected import expected_gold


def test_dates_in_another_order_give_the_same_gold(spark: SparkSession, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    days = [date(2025, 3, d) for d in (4, 3, 1, 2)]
    run_all(spark, SAMPLE_LANDING, warehouse, days)
    expected = expected_gold(spark)
    for spec in GOLD_TABLES:
        assert_df_equality(read(spark, spec, warehouse), expected[spec.name], ignore_row_order=True)
