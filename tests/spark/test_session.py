"""Settings for one block of work in a session that outlives it."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from lakehouse.session import runtime_settings

NEVER_SET = "spark.databricks.delta.optimize.maxFileSize"
ALREADY_SET = "spark.sql.shuffle.partitions"


def test_runtime_settings_apply_inside_the_block_and_are_put_back_after_a_failure(
    spark: SparkSession,
) -> None:
    before = spark.conf.get(ALREADY_SET)
    assert spark.conf.get(NEVER_SET, None) is None
    with (
        pytest.raises(RuntimeError),
        runtime_settings(spark, {NEVER_SET: "1024", ALREADY_SET: "7"}),
    ):
        assert (spark.conf.get(NEVER_SET), spark.conf.get(ALREADY_SET)) == ("1024", "7")
        raise RuntimeError("the block fails")
    assert spark.conf.get(NEVER_SET, None) is None  # unset again: Delta's default applies
    assert spark.conf.get(ALREADY_SET) == before
