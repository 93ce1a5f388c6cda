"""Data-quality thresholds: over the limit, nothing is lost and the run fails by name."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings
from lakehouse.errors import QualityThresholdError
from lakehouse.run import run_date
from lakehouse.sources import ORDERS, SOURCES
from lakehouse.tables import FACT_ORDER_CURRENT, REASON, RUN_LOG, quarantine_spec, silver_spec
from tests import scenario
from tests.helpers import assert_gold, read, write_csv

ORDERS_TEXT = """
order_id,customer_id,order_total,status,updated_at
1,10,5.00,placed,2025-04-01 10:00
2,10,-1.00,placed,2025-04-01 10:00
3,10,abc,placed,2025-04-01 10:00
4,10,5.00,,2025-04-01 10:00
"""


def test_over_the_threshold_fails_after_keeping_everything(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    write_csv(landing, ORDERS.name, scenario.D1, "orders.csv", ORDERS_TEXT)
    settings = Settings(
        landing=str(landing),
        warehouse=str(warehouse),
        max_quarantined_share={ORDERS.name: 0.5},
    )
    with pytest.raises(QualityThresholdError) as exc:
        run_date(spark, settings, scenario.D1)
    assert (
        str(exc.value) == "order_updates: 3 of 4 rows quarantined (75.0%), over the threshold 50.0%"
    )
    quarantined = read(spark, quarantine_spec(ORDERS), warehouse).collect()
    assert sorted((r["order_id"], r[REASON]) for r in quarantined) == [
        ("2", "order_total: negative"),
        ("3", "order_total: not a decimal"),
        ("4", "status: empty"),
    ]
    # held back from silver and so from gold
    assert read(spark, silver_spec(ORDERS), warehouse).collect() == []
    assert read(spark, FACT_ORDER_CURRENT, warehouse).collect() == []
    log = read(spark, RUN_LOG, warehouse).select("source", "status", "rows_landed")
    expected = spark.createDataFrame(
        [
            (s.name, "rejected" if s is ORDERS else "no_data", 4 if s is ORDERS else None)
            for s in SOURCES
        ],
        log.schema,
    )
    assert_df_equality(log, expected, ignore_row_order=True)

    # A gold step run as a task of its own judges the day by the same threshold: rejected
    # too, gold untouched, and the run log does not call the day done.
    with pytest.raises(QualityThresholdError):
        run_date(spark, settings, scenario.D1, steps=["gold"])
    assert read(spark, FACT_ORDER_CURRENT, warehouse).collect() == []
    orders_log = read(spark, RUN_LOG, warehouse).where(F.col("source") == ORDERS.name)
    assert [r["status"] for r in orders_log.collect()] == ["rejected", "rejected"]

    # Within a raised threshold the same date goes through: the rejected day is not "done".
    relaxed = Settings(
        landing=str(landing), warehouse=str(warehouse), max_quarantined_share={ORDERS.name: 0.8}
    )
    run_date(spark, relaxed, scenario.D1)
    placed = (1, 10, Decimal("5.00"), "placed", datetime(2025, 4, 1, 10, 0), scenario.D1)
    assert_gold(spark, warehouse, FACT_ORDER_CURRENT, [placed])
