"""The bundled sample: the seed's worked example, every gold table row for row. (One run per
date against the range, and a rerun, are tests/spark/test_catalog.py's, by name.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.tables import GOLD_TABLES, TableSpec
from tests.helpers import assert_gold
from tests.sample_expected import SAMPLE_GOLD


@pytest.mark.parametrize("spec", GOLD_TABLES, ids=lambda t: t.name)
def test_sample_gold_equals_the_worked_example(
    spark: SparkSession, sample_warehouse: Path, spec: TableSpec
) -> None:
    """Every gold table, row for row: dim_customer_current and fact_order_current are answer
    5 of the seed, the others its matching counts and timelines."""
    assert_gold(spark, sample_warehouse, spec, SAMPLE_GOLD[spec.name])
