"""SQL text the job builds, read back by Spark exactly as meant."""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakehouse import sql

AWKWARD = 'it\'s a \\ back`tick "quote"; DROP TABLE x; --'


def test_spark_reads_back_exactly_the_value_and_the_name(spark: SparkSession) -> None:
    """The escaping is Spark's own grammar: the value and the column name survive whole."""
    row = spark.sql(f"SELECT {sql.literal(AWKWARD)} AS {sql.ident(AWKWARD)}").first()
    assert row is not None
    assert row.asDict() == {AWKWARD: AWKWARD}
