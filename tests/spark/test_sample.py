"""The bundled sample: the seed's worked example, every gold table row for row. (One run per
date against the range, and a rerun, are tests/spark/test_catalog.py's, by name.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import GOLD_TABLES
from tests.helpers import gold_frames, read
from tests.sample_expected import SAMPLE_GOLD


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
