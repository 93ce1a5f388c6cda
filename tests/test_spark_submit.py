"""The real entry point through scripts/spark-submit.sh: a whole process, one date."""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import FACT_ORDER_CURRENT
from tests.helpers import ROOT, SAMPLE_LANDING, read


@pytest.mark.slow
def test_spark_submit_runs_a_date(spark: SparkSession, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    proc = subprocess.run(
        [
            str(ROOT / "scripts" / "spark-submit.sh"),
            "--driver-memory",
            "1g",
            str(ROOT / "jobs" / "daily.py"),
            "--run-date",
            "2025-03-02",
            "--landing",
            str(SAMPLE_LANDING),
            "--warehouse",
            str(warehouse),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = spark.createDataFrame(
        [
            (
                9001,
                101,
                Decimal("45.00"),
                "shipped",
                datetime(2025, 3, 2, 18, 40),
                date(2025, 3, 2),
            ),
            (9002, 102, Decimal("80.00"), "placed", datetime(2025, 3, 2, 9, 20), date(2025, 3, 2)),
        ],
        FACT_ORDER_CURRENT.schema,
    )
    assert_df_equality(read(spark, FACT_ORDER_CURRENT, warehouse), expected, ignore_row_order=True)
