"""The history tables (contract section 6): timelines by hand, late records that split an
interval, and the same timelines whatever the order and number of runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from datetime import datetime as TS
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import storage
from lakehouse.gold import timeline
from lakehouse.sources import CRM, ORDERS
from lakehouse.tables import DIM_CUSTOMER_HISTORY, FACT_ORDER_HISTORY, GOLD_TABLES, RUN_LOG
from tests.helpers import (
    CRM_HEADER,
    ORDER_HEADER,
    Rows,
    assert_gold,
    copy_warehouse,
    read,
    run_all,
    table_at,
    write_csv,
)

D1, D2, D3 = date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 3)


# --- the timeline transform alone (no tables) ------------------------------------------

_CHANGES = T.StructType(
    [
        T.StructField("customer_id", T.IntegerType()),
        T.StructField("full_name", T.StringType()),
        T.StructField("email", T.StringType()),
        T.StructField("tier", T.StringType()),
        T.StructField("updated_at", T.TimestampType()),
        T.StructField("is_deleted", T.BooleanType()),
    ]
)


def test_timeline_rules_for_deletions_no_ops_and_nulls(spark: SparkSession) -> None:
    changes = spark.createDataFrame(
        [
            # 1: a no-op (null email both times), a change, a deletion, a second deletion
            # (nothing in force: changes nothing), then the same attributes as before the
            # deletion, which open a new version all the same.
            (1, "A", None, "bronze", TS(2025, 1, 1), None),
            (1, "A", None, "bronze", TS(2025, 1, 2), False),
            (1, "A", None, "silver", TS(2025, 1, 3), None),
            (1, None, None, None, TS(2025, 1, 4), True),
            (1, None, None, None, TS(2025, 1, 5), True),
            (1, "A", None, "silver", TS(2025, 1, 6), None),
            # 2: a deletion with nothing in force changes nothing; the next record opens.
            (2, None, None, None, TS(2025, 1, 1), True),
            (2, "B", "b@x", "gold", TS(2025, 1, 2), None),
            # 3: deleted and never back: no current version.
            (3, "C", "c@x", "gold", TS(2025, 1, 1), None),
            (3, "C", "c@x", "gold", TS(2025, 1, 2), True),
        ],
        _CHANGES,
    )
    expected = spark.createDataFrame(
        [
            (1, "A", None, "bronze", TS(2025, 1, 1), TS(2025, 1, 3), False),
            (1, "A", None, "silver", TS(2025, 1, 3), TS(2025, 1, 4), False),
            (1, "A", None, "silver", TS(2025, 1, 6), None, True),
            (2, "B", "b@x", "gold", TS(2025, 1, 2), None, True),
            (3, "C", "c@x", "gold", TS(2025, 1, 1), TS(2025, 1, 2), False),
        ],
        DIM_CUSTOMER_HISTORY.schema,
    )
    got = changes.transform(timeline(CRM))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_timeline_of_orders_tracks_customer_total_and_status(spark: SparkSession) -> None:
    schema = T.StructType(
        [
            T.StructField("order_id", T.IntegerType()),
            T.StructField("customer_id", T.IntegerType()),
            T.StructField("order_total", T.DecimalType(10, 2)),
            T.StructField("status", T.StringType()),
            T.StructField("updated_at", T.TimestampType()),
        ]
    )
    changes = spark.createDataFrame(
        [
            (7, 1, Decimal("5.00"), "placed", TS(2025, 1, 1)),
            (7, 1, Decimal("6.00"), "placed", TS(2025, 1, 2)),  # the total changed
            (7, 1, Decimal("6.00"), "placed", TS(2025, 1, 3)),  # nothing changed
            (7, 2, Decimal("6.00"), "placed", TS(2025, 1, 4)),  # the customer changed
        ],
        schema,
    )
    expected = spark.createDataFrame(
        [
            (7, 1, Decimal("5.00"), "placed", TS(2025, 1, 1), TS(2025, 1, 2), False),
            (7, 1, Decimal("6.00"), "placed", TS(2025, 1, 2), TS(2025, 1, 4), False),
            (7, 2, Decimal("6.00"), "placed", TS(2025, 1, 4), None, True),
        ],
        FACT_ORDER_HISTORY.schema,
    )
    got = changes.transform(timeline(ORDERS))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


# --- whole runs ------------------------------------------------------------------------


def write_landing(landing: Path) -> None:
    """Customer 1 gets a late record that splits its first version; 2 a no-op update; 3 is
    deleted and comes back with its old attributes. Order 10 gets a late status between two
    others; order 11 two records with one `updated_at` (the later file wins)."""
    write_csv(
        landing,
        CRM.name,
        D1,
        "crm.csv",
        f"""{CRM_HEADER}
1,A,a@x,bronze,2025-05-01 10:00,
2,B,b@x,bronze,2025-05-01 10:00,
3,C,c@x,bronze,2025-05-01 10:00,""",
    )
    write_csv(
        landing,
        CRM.name,
        D2,
        "crm.csv",
        f"""{CRM_HEADER}
1,A,a@x,gold,2025-05-02 10:00,
2,B,b@x,bronze,2025-05-02 10:00,
3,,,,2025-05-02 10:00,true""",
    )
    write_csv(
        landing,
        CRM.name,
        D3,
        "crm.csv",
        f"""{CRM_HEADER}
1,A,a@x,silver,2025-05-01 18:00,
3,C,c@x,bronze,2025-05-03 10:00,""",
    )
    write_csv(
        landing, ORDERS.name, D1, "orders.csv", f"{ORDER_HEADER}\n10,1,5.00,placed,2025-05-01 09:00"
    )
    write_csv(
        landing,
        ORDERS.name,
        D2,
        "orders.csv",
        f"{ORDER_HEADER}\n10,1,5.00,shipped,2025-05-02 09:00",
    )
    write_csv(
        landing,
        ORDERS.name,
        D3,
        "a.csv",
        f"{ORDER_HEADER}\n10,1,5.00,packed,2025-05-01 20:00\n11,2,7.00,placed,2025-05-03 09:00",
    )
    write_csv(
        landing, ORDERS.name, D3, "b.csv", f"{ORDER_HEADER}\n11,2,8.00,placed,2025-05-03 09:00"
    )


HISTORY_GOLD: Mapping[str, Rows] = {
    "dim_customer_history": [
        (1, "A", "a@x", "bronze", TS(2025, 5, 1, 10), TS(2025, 5, 1, 18), False),
        (1, "A", "a@x", "silver", TS(2025, 5, 1, 18), TS(2025, 5, 2, 10), False),
        (1, "A", "a@x", "gold", TS(2025, 5, 2, 10), None, True),
        (2, "B", "b@x", "bronze", TS(2025, 5, 1, 10), None, True),
        (3, "C", "c@x", "bronze", TS(2025, 5, 1, 10), TS(2025, 5, 2, 10), False),
        (3, "C", "c@x", "bronze", TS(2025, 5, 3, 10), None, True),
    ],
    "fact_order_history": [
        (10, 1, Decimal("5.00"), "placed", TS(2025, 5, 1, 9), TS(2025, 5, 1, 20), False),
        (10, 1, Decimal("5.00"), "packed", TS(2025, 5, 1, 20), TS(2025, 5, 2, 9), False),
        (10, 1, Decimal("5.00"), "shipped", TS(2025, 5, 2, 9), None, True),
        (11, 2, Decimal("8.00"), "placed", TS(2025, 5, 3, 9), None, True),
    ],
}


def _keys_by_file(spark: SparkSession, warehouse: Path) -> dict[str, set[int]]:
    """The customers whose history rows each data file of the table holds."""
    rows = (
        read(spark, DIM_CUSTOMER_HISTORY, warehouse)
        .select("customer_id", F.col("_metadata.file_path").alias("file"))
        .collect()
    )
    keys: dict[str, set[int]] = {}
    for row in rows:
        keys.setdefault(row["file"], set()).add(row["customer_id"])
    return keys


@dataclass
class HistoryRun:
    landing: Path
    warehouse: Path


@pytest.fixture(scope="module")
def history_run(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HistoryRun]:
    base = tmp_path_factory.mktemp("history")
    landing, warehouse = base / "landing", base / "wh"
    write_landing(landing)
    run_all(spark, landing, warehouse, [D1, D2, D3])
    yield HistoryRun(landing, warehouse)


def test_timelines_in_order_match_the_rules(spark: SparkSession, history_run: HistoryRun) -> None:
    for spec in (DIM_CUSTOMER_HISTORY, FACT_ORDER_HISTORY):
        assert_gold(spark, history_run.warehouse, spec, HISTORY_GOLD[spec.name])


def test_a_file_without_a_key_the_run_touched_is_not_rewritten(
    spark: SparkSession, history_run: HistoryRun, tmp_path: Path
) -> None:
    """Gold copies on write (no deletion vectors, for outside readers): a run rewrites the
    files that hold a key it changed, and no other. Customer 4 arrives alone, so its history
    row has a file of its own; the next day changes customer 1 only."""
    landing = Path(shutil.copytree(history_run.landing, tmp_path / "landing"))
    warehouse = copy_warehouse(history_run.warehouse, tmp_path / "wh")
    d4, d5 = date(2025, 5, 4), date(2025, 5, 5)
    write_csv(landing, CRM.name, d4, "crm.csv", f"{CRM_HEADER}\n4,D,d@x,bronze,2025-05-04 10:00,")
    write_csv(landing, CRM.name, d5, "crm.csv", f"{CRM_HEADER}\n1,A,a@x,gold,2025-05-05 10:00,")
    run_all(spark, landing, warehouse, [d4])
    before = _keys_by_file(spark, warehouse)
    run_all(spark, landing, warehouse, [d5])
    after = _keys_by_file(spark, warehouse)

    rewritten = {file for file in before if file not in after}
    assert rewritten  # customer 1's file was rewritten (copy on write)
    assert all(1 in before[file] for file in rewritten)
    (own_file,) = [file for file, keys in before.items() if keys == {4}]
    assert after[own_file] == {4}


def test_change_feed_shows_one_runs_changes_by_the_run_log_versions(
    spark: SparkSession, history_run: HistoryRun
) -> None:
    """What docs/operations.md shows: the versions D3's run recorded bound its changes to
    the table."""
    name = DIM_CUSTOMER_HISTORY.qualified_name
    entry = (
        read(spark, RUN_LOG, history_run.warehouse)
        .where((F.col("run_date") == F.lit(D3)) & (F.col("source") == CRM.name))
        .select(
            F.col("table_versions_before")[name].alias("before"),
            F.col("table_versions")[name].alias("after"),
        )
        .first()
    )
    assert entry is not None
    changes = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", entry["before"] + 1)
        .option("endingVersion", entry["after"])
        .load(DIM_CUSTOMER_HISTORY.path(str(history_run.warehouse)))
        .select("customer_id", "tier", "valid_from", "valid_to", "_change_type")
    )
    schema = T.StructType(
        [
            T.StructField("customer_id", T.IntegerType()),
            T.StructField("tier", T.StringType()),
            T.StructField("valid_from", T.TimestampType()),
            T.StructField("valid_to", T.TimestampType()),
            T.StructField("_change_type", T.StringType()),
        ]
    )
    # 1's first version is cut short by the late record, which opens the version after it;
    # 3 comes back.
    expected = spark.createDataFrame(
        [
            (1, "bronze", TS(2025, 5, 1, 10), TS(2025, 5, 2, 10), "update_preimage"),
            (1, "bronze", TS(2025, 5, 1, 10), TS(2025, 5, 1, 18), "update_postimage"),
            (1, "silver", TS(2025, 5, 1, 18), TS(2025, 5, 2, 10), "insert"),
            (3, "bronze", TS(2025, 5, 3, 10), None, "insert"),
        ],
        schema,
    )
    assert_df_equality(changes, expected, ignore_row_order=True, ignore_nullable=True)


def test_any_order_and_reruns_give_the_in_order_timelines(
    spark: SparkSession, history_run: HistoryRun, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh"
    run_all(spark, history_run.landing, warehouse, [D3, D1, D3, D2, D1])
    for spec in (DIM_CUSTOMER_HISTORY, FACT_ORDER_HISTORY):
        assert_df_equality(
            read(spark, spec, warehouse),
            read(spark, spec, history_run.warehouse),
            ignore_row_order=True,
            ignore_nullable=True,
        )


def test_every_gold_table_publishes_its_change_feed(
    spark: SparkSession, history_run: HistoryRun
) -> None:
    for spec in GOLD_TABLES:
        detail = storage.table_detail(spark, table_at(spec, history_run.warehouse))
        assert detail["properties"].get("delta.enableChangeDataFeed") == "true", spec.name
