"""Unit tests of the pure transforms: validation reasons, typing and ranking, no files."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.errors import MissingColumnsError
from lakehouse.silver import one_per_key, quarantined, typed, with_reason
from lakehouse.sources import APP_EVENTS, CRM, ORDERS, TICKETS, Source
from tests.helpers import Rows

S = T.StringType()
D1, D2 = date(2025, 3, 1), date(2025, 3, 2)


def bronze_rows(spark: SparkSession, source: Source, rows: Rows) -> DataFrame:
    """Bronze-shaped rows: the source's columns as strings, then parse error, file, day."""
    schema = T.StructType(
        [T.StructField(c, S) for c in source.column_names]
        + [
            T.StructField("_raw_record", S),
            T.StructField("_parse_error", S),
            T.StructField("_source_file", S),
            T.StructField("_load_time", T.TimestampType()),
            T.StructField("_run_id", S),
            T.StructField("_ingest_date", T.DateType()),
        ]
    )
    meta = (None, None, "f.csv", datetime(2025, 3, 1, 23, 0), "r1", D1)
    full = [r + meta[len(r) - len(source.column_names) :] for r in rows]
    return spark.createDataFrame(full, schema)


def reasons(frame: DataFrame, key: str) -> dict[object, object]:
    return {r[key]: r["_reason"] for r in frame.collect()}


def test_order_rules_name_the_column_and_the_rule(spark: SparkSession) -> None:
    rows = [
        ("1", "10", "45.00", "placed", "2025-03-01 09:00"),
        ("2", "10", "-5.00", "placed", "2025-03-01 09:00"),
        ("3", "10", "12.345", "placed", "2025-03-01 09:00"),
        ("4", "10", "abc", "placed", "2025-03-01 09:00"),
        ("5", "10", "123456789.00", "placed", "2025-03-01 09:00"),
        ("6", "10", "1.5", " ", "2025-03-01 09:00"),
        ("61", "10", "1.5", "\t", "2025-03-01 09:00"),
        ("62", "10", "1.5", " \r\n", "2025-03-01 09:00"),
        ("7", "x1", "1", "placed", "2025-03-01T09:00:59"),
        ("8", "10", "1", "placed", "2025-02-30 09:00"),
        ("81", "10", "1", "placed", "0000-06-15 09:00"),
        ("82", "10", "1", "placed", "0001-01-01 00:00"),
        ("83", "10", "1", "placed", "9999-12-31T23:59:59"),
        ("9", "10", "1", "placed", "01/03/2025 09:00"),
        ("99999999999", "10", "1", "placed", None),
        (None, "", None, None, ""),
        # A line break or tab is not the spaces a value may have around it, at either end.
        ("11\n", "10", "1", "placed", "2025-03-01 09:00"),
        ("12", "\n10", "10.5\n", "placed", "2025-03-01 09:00\n"),
        ("13", "10\t", "1.125\r\n", "placed", "2025-03-01 09:00:00\r"),
        (" 14 ", "10", " 10.5 ", "placed", " 2025-03-01 09:00 "),
    ]
    got = reasons(bronze_rows(spark, ORDERS, rows).transform(with_reason(ORDERS)), "order_id")
    assert got == {
        "1": None,
        "2": "order_total: negative",
        "3": "order_total: more than two fractional digits",
        "4": "order_total: not a decimal",
        "5": "order_total: out of range",
        "6": "status: empty",
        "61": "status: empty",
        "62": "status: empty",
        "7": "customer_id: not an integer",
        "8": "updated_at: no such date or time",
        "81": "updated_at: no such date or time",  # no year 0 in the calendar dates use
        "82": None,
        "83": None,
        "9": "updated_at: not a timestamp (YYYY-MM-DD HH:MM[:SS])",
        "99999999999": "order_id: integer out of range; updated_at: missing",
        None: "order_id: missing; customer_id: missing; order_total: missing; status: empty; "
        "updated_at: missing",
        "11\n": "order_id: not an integer",
        "12": "customer_id: not an integer; order_total: not a decimal; "
        "updated_at: not a timestamp (YYYY-MM-DD HH:MM[:SS])",
        "13": "customer_id: not an integer; order_total: not a decimal; "
        "updated_at: not a timestamp (YYYY-MM-DD HH:MM[:SS])",
        " 14 ": None,
    }


def test_a_parse_error_is_the_only_reason(spark: SparkSession) -> None:
    frame = bronze_rows(
        spark, APP_EVENTS, [(None, None, None, None, "{broken", "record: unparseable JSON")]
    )
    assert reasons(frame.transform(with_reason(APP_EVENTS)), "event_id") == {
        None: "record: unparseable JSON"
    }


def test_crm_deletion_flag(spark: SparkSession) -> None:
    rows = [
        ("1", "A", "a@x", "gold", "2025-03-01 09:00", "TRUE"),
        ("2", "B", "b@x", "gold", "2025-03-01 09:00", ""),
        ("3", "C", "c@x", "gold", "2025-03-01 09:00", None),
        ("4", "D", "d@x", "gold", "2025-03-01 09:00", "yes"),
        ("5", None, None, None, "2025-03-01 09:00", "false"),
    ]
    checked = bronze_rows(spark, CRM, rows).transform(with_reason(CRM))
    assert reasons(checked, "customer_id") == {
        "1": None,
        "2": None,
        "3": None,
        "4": "is_deleted: not true or false",
        "5": None,
    }
    flags = {r["customer_id"]: r["is_deleted"] for r in checked.transform(typed(CRM)).collect()}
    assert flags == {1: True, 2: False, 3: False, 5: False}


def test_an_empty_text_is_no_value_as_in_csv_where_an_empty_field_is_null(
    spark: SparkSession,
) -> None:
    """A JSON `""` and an empty CSV field (read as null) are the same record, in the schema's
    text columns and in drifted ones; a blank that is not empty stays as it arrived."""
    ts = "2025-03-01 09:00"
    rows = [("1", "A", "", "gold", ts, None), ("2", "B", None, " ", ts, None)]
    drifted = bronze_rows(spark, CRM, rows).withColumn(
        "phone", F.when(F.col("customer_id") == "1", F.lit("")).otherwise(F.lit("5"))
    )
    out = drifted.transform(with_reason(CRM)).transform(typed(CRM))
    assert_df_equality(
        out.select("customer_id", "email", "tier", "phone"),
        spark.createDataFrame(
            [(1, None, "gold", None), (2, None, " ", "5")],
            "customer_id int, email string, tier string, phone string",
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_typed_rows_carry_types_rank_and_event_date(spark: SparkSession) -> None:
    rows = [
        ("7001", "101", "opened", "2025-03-02T07:30", " 2025-03-02 07:45:10 "),
        ("7001", "101", "", "2025-03-02 07:30", "2025-03-02 07:45"),
    ]
    checked = bronze_rows(spark, TICKETS, rows).transform(with_reason(TICKETS))
    out = checked.transform(typed(TICKETS)).drop("_record_hash")
    expected = spark.createDataFrame(
        [
            (
                7001,
                101,
                "opened",
                datetime(2025, 3, 2, 7, 30),
                datetime(2025, 3, 2, 7, 45, 10),
                D1,
                "f.csv",
                D2,
            )
        ],
        "ticket_id int, customer_id int, status string, event_ts timestamp, "
        "ingested_at timestamp, _ingest_date date, _source_file string, event_date date",
    )
    assert_df_equality(out, expected, ignore_nullable=True)
    bad = checked.transform(quarantined(TICKETS))
    assert [(r["status"], r["_reason"], r["_source_file"]) for r in bad.collect()] == [
        ("", "status: empty", "f.csv")
    ]


def test_decimal_keeps_two_digits(spark: SparkSession) -> None:
    rows = [
        ("1", "10", "12.5", "placed", "2025-03-01 09:00"),
        ("2", "10", "7", "x", "2025-03-01 09:00"),
    ]
    checked = bronze_rows(spark, ORDERS, rows).transform(with_reason(ORDERS))
    totals = {r["order_id"]: r["order_total"] for r in checked.transform(typed(ORDERS)).collect()}
    assert totals == {1: Decimal("12.50"), 2: Decimal("7.00")}


def _ranked(spark: SparkSession, source: Source, rows: Rows) -> DataFrame:
    schema = (
        "k int, updated_at timestamp, _ingest_date date, _source_file string, "
        "_record_hash string, v string"
    )
    frame = spark.createDataFrame(rows, schema).withColumnRenamed("k", source.key[0])
    return frame.repartition(3).transform(one_per_key(source)).select(source.key[0], "v")


def test_latest_wins_with_the_full_tie_break_chain(spark: SparkSession) -> None:
    t, t_later = datetime(2025, 3, 1, 9), datetime(2025, 3, 1, 10)
    rows = [
        (1, t, D1, "a.csv", "h1", "older"),
        (1, t_later, D1, "a.csv", "h1", "latest updated_at"),
        (2, t, D2, "a.csv", "h1", "later ingest date"),
        (2, t, D1, "z.csv", "h9", "earlier ingest date"),
        (3, t, D1, "b.csv", "h1", "later file"),
        (3, t, D1, "a.csv", "h9", "earlier file"),
        (4, t, D1, "a.csv", "h2", "larger fingerprint"),
        (4, t, D1, "a.csv", "h1", "smaller fingerprint"),
    ]
    got = {r[0]: r[1] for r in _ranked(spark, ORDERS, rows).collect()}
    assert got == {
        1: "latest updated_at",
        2: "later ingest date",
        3: "later file",
        4: "larger fingerprint",
    }


def test_events_keep_the_first_arrival(spark: SparkSession) -> None:
    t = datetime(2025, 3, 1, 9)
    rows = [
        (1, t, D2, "a.jsonl", "h1", "second day"),
        (1, t, D1, "b.jsonl", "h9", "first day"),
        (2, t, D1, "b.jsonl", "h1", "later file"),
        (2, t, D1, "a.jsonl", "h9", "earlier file"),
    ]
    got = {r[0]: r[1] for r in _ranked(spark, APP_EVENTS, rows).collect()}
    assert got == {1: "first day", 2: "earlier file"}


def test_missing_columns_are_named(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("1",)], "order_id string")
    with pytest.raises(MissingColumnsError, match="customer_id, order_total"):
        frame.transform(with_reason(ORDERS))
