"""The suite's table comparison must fail on any difference chispa would report."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from tests.helpers import assert_same_rows

SCHEMA = T.StructType([T.StructField("id", T.IntegerType()), T.StructField("tier", T.StringType())])


def test_same_rows_in_another_order_are_equal(spark: SparkSession) -> None:
    left = spark.createDataFrame([(1, "a"), (2, None), (2, None)], SCHEMA)
    right = spark.createDataFrame([(2, None), (1, "a"), (2, None)], SCHEMA)
    assert_same_rows(left, right)


@pytest.mark.parametrize(
    "rows",
    [
        [(1, "a"), (2, None)],  # a duplicate row missing
        [(1, "a"), (2, None), (2, "")],  # null against empty text
        [(1, "a"), (2, None), (2, None), (3, "c")],  # a row too many
    ],
)
def test_any_difference_in_rows_fails(spark: SparkSession, rows: list[tuple[object, ...]]) -> None:
    left = spark.createDataFrame([(1, "a"), (2, None), (2, None)], SCHEMA)
    with pytest.raises(AssertionError):
        assert_same_rows(left, spark.createDataFrame(rows, SCHEMA))


def test_another_column_type_fails(spark: SparkSession) -> None:
    left = spark.createDataFrame([(1, "a")], SCHEMA)
    right = left.withColumn("id", left["id"].cast("long"))
    with pytest.raises(AssertionError, match="bigint"):
        assert_same_rows(left, right)
