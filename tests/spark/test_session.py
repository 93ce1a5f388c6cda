"""Settings for one block of work in a session that outlives it."""

from __future__ import annotations

from pathlib import Path

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


def test_a_setting_spark_refuses_is_a_bad_config_that_exits_2(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Said in one line before any work, naming the setting; the session is left as it was."""
    from lakehouse.cli import main

    before = spark.conf.get(ALREADY_SET)
    config = tmp_path / "bad.yaml"
    config.write_text(
        f"landing: {tmp_path}\nwarehouse: {tmp_path / 'wh'}\nspark_conf:\n  {ALREADY_SET}: abc\n"
    )
    assert main(["--run-date", "2025-03-01", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"daily.py: error: spark_conf: {ALREADY_SET}: 'abc' is not a valid value (expected int)\n"
    )
    assert spark.conf.get(ALREADY_SET) == before
    assert not (tmp_path / "wh").exists()
