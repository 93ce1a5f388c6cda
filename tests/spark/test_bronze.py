"""Landing -> bronze: every row kept as it arrived, exactly once, whatever the format."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from lakehouse import bronze
from lakehouse.landing import NAMELESS_VALUE
from lakehouse.sources import APP_EVENTS, CRM, ORDERS, TICKETS, Source
from lakehouse.tables import DIM_CUSTOMER_CURRENT, bronze_spec
from tests.helpers import (
    by_path,
    day_dir,
    fresh_warehouse,
    read,
    run_all,
    settings_for,
    write_csv,
    write_jsonl,
)

DAY = date(2025, 3, 5)
COLS = ["customer_id", "full_name", "email", "tier", "updated_at", "is_deleted"]


def load(
    spark: SparkSession, landing: Path, warehouse: Path, source: Source = CRM, day: date = DAY
) -> bronze.BronzeResult:
    fresh_warehouse(spark, warehouse)
    return bronze.load(
        spark,
        landing_root=str(landing),
        warehouse=by_path(warehouse),
        source=source,
        ingest_date=day,
        run_id="run-1",
    )


def bad_line(raw: str, reason: str) -> tuple[object, ...]:
    """A line of b.jsonl kept whole in bronze, every column null."""
    return (*[None] * (len(COLS) + 1), raw, reason, "b.jsonl", DAY)


def test_csv_and_jsonl_side_by_side_with_drift_quotes_and_bad_lines(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    write_csv(
        landing,
        CRM.name,
        DAY,
        "a.csv",
        "customer_id,full_name,email,tier,updated_at,Phone\n"
        '101,"Patel, Ava",ava@ex.com,gold,2025-03-05 09:10,555-0101\n'
        "102,Ben,ben@ex.com\n",
    )
    write_jsonl(
        landing,
        CRM.name,
        DAY,
        "b.jsonl",
        [
            {"customer_id": 103, "full_name": "Choi", "updated_at": "2025-03-05 10:00"},
            "{broken",
            "[1, 2]",
            "",
            " \t ",  # JSON's whitespace alone: a blank line, as an empty one is
            '"just a string"',
            # Spark's JSON parser would take the first object of each of these lines.
            '{"customer_id": 104}{"customer_id": 105}',
            '{"customer_id": 106} junk',
            "{'customer_id': 107}",
            '{"customer_id": 108, "full_name": "tab\tinside"}',  # a raw tab: not JSON
            '{"customer_id": 109, "customer_id": 110}',
            # A bare CR is JSON's whitespace, not a line end: one row, not two broken ones.
            '{"customer_id": 113,\r"full_name": "Cr"}',
            '{"customer_id": 114, "full_name": "raw\rCR"}',  # a raw CR inside a string: not JSON
        ],
    )
    folder = landing / CRM.name / f"ingest_date={DAY}"
    # Spark's CSV reader skips an empty first line: so does the lookup of the header.
    (folder / "c.csv").write_text(
        "\ncustomer_id,full_name,email,tier,updated_at\n111,Dee,dee@ex.com,gold,2025-03-05 11:00\n"
    )
    (folder / "_SUCCESS").write_text("")
    (folder / ".a.csv.crc").write_text("junk")
    # Not data either, though Spark's own listing keeps a `_` name with a `=` in it.
    (folder / "_part=1.csv").write_text("customer_id,updated_at\n112,2025-03-05 12:00\n")
    result = load(spark, landing, warehouse)
    assert (result.files_seen, result.files_loaded) == (3, 3)

    got = read(spark, bronze_spec(CRM), warehouse).select(
        *COLS, "phone", "_raw_record", "_parse_error", "_source_file", "_ingest_date"
    )
    expected = spark.createDataFrame(
        [
            (
                "101",
                "Patel, Ava",
                "ava@ex.com",
                "gold",
                "2025-03-05 09:10",
                None,
                "555-0101",
                None,
                None,
                "a.csv",
                DAY,
            ),
            (
                "102",
                "Ben",
                "ben@ex.com",
                None,
                None,
                None,
                None,
                "102,Ben,ben@ex.com",
                "record: wrong number of fields",
                "a.csv",
                DAY,
            ),
            ("103", "Choi", None, None, "2025-03-05 10:00", None, None, None, None, "b.jsonl", DAY),
            bad_line("{broken", "record: unparseable JSON"),
            bad_line("[1, 2]", "record: JSON value is not an object"),
            bad_line('"just a string"', "record: JSON value is not an object"),
            bad_line('{"customer_id": 104}{"customer_id": 105}', "record: unparseable JSON"),
            bad_line('{"customer_id": 106} junk', "record: unparseable JSON"),
            bad_line("{'customer_id': 107}", "record: unparseable JSON"),
            bad_line(
                '{"customer_id": 108, "full_name": "tab\tinside"}', "record: unparseable JSON"
            ),
            bad_line(
                '{"customer_id": 109, "customer_id": 110}',
                "record: key named twice: customer_id",
            ),
            ("113", "Cr", None, None, None, None, None, None, None, "b.jsonl", DAY),
            bad_line('{"customer_id": 114, "full_name": "raw\rCR"}', "record: unparseable JSON"),
            (
                "111",
                "Dee",
                "dee@ex.com",
                "gold",
                "2025-03-05 11:00",
                None,
                None,
                None,
                None,
                "c.csv",
                DAY,
            ),
        ],
        ", ".join(
            f"{c} string" for c in [*COLS, "phone", "_raw_record", "_parse_error", "_source_file"]
        )
        + ", _ingest_date date",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    assert load(spark, landing, warehouse).files_loaded == 0


def test_header_problems_and_non_utf8_bytes(spark: SparkSession, tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    folder = landing / TICKETS.name / f"ingest_date={DAY}"
    write_csv(
        landing,
        TICKETS.name,
        DAY,
        "no_status.csv",
        "ticket_id,customer_id,event_ts,ingested_at\n1,2,2025-03-05 09:00,2025-03-05 09:00",
    )
    write_csv(
        landing,
        TICKETS.name,
        DAY,
        "twice.csv",
        "ticket_id,customer_id,status,status,event_ts,ingested_at\n3,4,a,b,2025-03-05 09:00,x",
    )
    (folder / "latin1.csv").write_bytes(
        b"ticket_id,customer_id,status,event_ts,ingested_at\n5,6,r\xe9solu,2025-03-05 09:00,x\n"
        # U+FFFD written as text is UTF-8 like any other character, even beside a bad byte
        b'7,8,"r\xc3\xa9solu \xef\xbf\xbd\n\xe2\x82\xac",2025-03-05 09:00,x\n'
    )
    (folder / "empty.csv").write_bytes(b"")
    (folder / "bom.jsonl").write_bytes(b"\xef\xbb\xbf \t\n")  # a byte order mark, blank: no row
    write_csv(
        landing,
        TICKETS.name,
        DAY,
        "header_only.csv",
        "ticket_id,customer_id,status,event_ts,ingested_at",
    )
    load(spark, landing, warehouse, TICKETS)
    got = sorted(
        (r["_source_file"], r["ticket_id"], r["status"], r["_parse_error"])
        for r in read(spark, bronze_spec(TICKETS), warehouse).collect()
    )
    assert got == [  # a list, not a mapping: a row loaded twice shows
        ("latin1.csv", "5", "r\ufffdsolu", "record: not valid UTF-8"),
        ("latin1.csv", "7", "r\u00e9solu \ufffd\n\u20ac", None),
        ("no_status.csv", "1", None, "file: header lacks column(s) status"),
        ("twice.csv", "3", "a", "file: header names column(s) twice: status"),
    ]


def test_names_that_differ_in_case_or_are_spark_s_own_load_as_any_drift(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A CSV header naming a column twice in two cases is a header naming it twice; `_`
    names (Spark's `_metadata`, the job's `_source_file`) are drifted columns like any other;
    JSON keys that differ only in case are one column, whichever line holds which, and a line
    holding both names it twice."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    write_csv(
        landing,
        CRM.name,
        DAY,
        "a.csv",
        "customer_id,full_name,email,tier,Tier,updated_at\n1,A,a@x,gold,GOLD,2025-03-05 09:00",
    )
    write_csv(
        landing,
        CRM.name,
        DAY,
        "b.csv",
        "customer_id,full_name,email,tier,updated_at,_metadata,_source_file\n"
        "2,B,b@x,silver,2025-03-05 09:00,m,s",
    )
    write_jsonl(
        landing,
        CRM.name,
        DAY,
        "c.jsonl",
        [
            {"customer_id": 3, "full_name": "C", "email": "c@x", "Tier": "gold", "phone": "1"},
            {"Customer_ID": 4, "full_name": "D", "email": "d@x", "tier": "bronze", "Phone": 2},
            {"customer_id": 5, "full_name": "E", "tier": "gold", "Tier": "GOLD"},
        ],
    )
    load(spark, landing, warehouse)
    assert_df_equality(
        read(spark, bronze_spec(CRM), warehouse).select(
            "customer_id", "tier", "phone", "metadata", "source_file", "_parse_error"
        ),
        spark.createDataFrame(
            [
                ("1", "gold", None, None, None, "file: header names column(s) twice: tier"),
                ("2", "silver", None, "m", "s", None),
                ("3", "gold", "1", None, None, None),
                ("4", "bronze", "2", None, None, None),
                (None, None, None, None, None, "record: key named twice: Tier, tier"),
            ],
            ", ".join(
                f"{c} string"
                for c in ["customer_id", "tier", "phone", "metadata", "source_file", "_parse_error"]
            ),
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_name_in_any_script_is_its_own_column_and_a_nameless_one_holds_no_value(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Names in other scripts stay apart (`電話`, `住所`) as far as gold; a spreadsheet's
    empty trailing header fields hold nothing; a value under one, or under a name written
    twice, makes its row bad, and the row is kept whole, so no value is lost."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    crm = "customer_id,full_name,email,tier,updated_at"
    write_csv(
        landing,
        CRM.name,
        DAY,
        "a.csv",
        f"{crm},電話,住所,,\n"
        "1,A,a@x,gold,2025-03-05 09:00,090-1111,Tokyo,,\n"
        "2,B,b@x,gold,2025-03-05 09:00,090-2222,Osaka,oops,",
    )
    write_csv(
        landing,
        CRM.name,
        DAY,
        "b.csv",
        f"{crm},Home Phone,home_phone\n3,C,c@x,gold,2025-03-05 09:00,111,222",
    )
    nameless_json = '{"customer_id": 5, "full_name": "E", "": "y"}'
    write_jsonl(
        landing,
        CRM.name,
        DAY,
        "c.jsonl",
        [
            '{"customer_id": 4, "full_name": "D", "email": "d@x", "tier": "gold", '
            '"updated_at": "2025-03-05 09:00", "電話": "090-4444", "住所": "Kyoto", '
            '"#": "x", "": ""}',
            nameless_json,
        ],
    )
    run_all(spark, landing, warehouse, [DAY])

    columns = ["customer_id", "電話", "住所", "home_phone", "unnamed_23"]
    nameless = NAMELESS_VALUE
    assert_df_equality(
        read(spark, bronze_spec(CRM), warehouse).select(*columns, "_parse_error", "_raw_record"),
        spark.createDataFrame(
            [
                ("1", "090-1111", "Tokyo", None, None, None, None),
                (
                    "2",
                    "090-2222",
                    "Osaka",
                    None,
                    None,
                    nameless,
                    "2,B,b@x,gold,2025-03-05 09:00,090-2222,Osaka,oops,",
                ),
                (
                    "3",
                    None,
                    None,
                    "111",
                    None,
                    "file: header names column(s) twice: home_phone",
                    "3,C,c@x,gold,2025-03-05 09:00,111,222",
                ),
                ("4", "090-4444", "Kyoto", None, "x", None, None),
                (None, None, None, None, None, nameless, nameless_json),
            ],
            ", ".join(f"`{c}` string" for c in [*columns, "_parse_error", "_raw_record"]),
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert_df_equality(
        read(spark, DIM_CUSTOMER_CURRENT, warehouse).select(
            "customer_id", "電話", "住所", "unnamed_23"
        ),
        spark.createDataFrame(
            [(1, "090-1111", "Tokyo", None), (4, "090-4444", "Kyoto", "x")],
            "customer_id int, `電話` string, `住所` string, unnamed_23 string",
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_rerun_loads_nothing_twice_and_picks_up_a_late_file(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    events = [
        {"event_id": i, "customer_id": 1, "event_type": "view", "event_ts": "2025-03-05 09:00"}
        for i in range(3)
    ]
    write_jsonl(landing, APP_EVENTS.name, DAY, "one.jsonl", events)
    assert load(spark, landing, warehouse, APP_EVENTS).files_loaded == 1
    first = read(spark, bronze_spec(APP_EVENTS), warehouse).collect()
    assert load(spark, landing, warehouse, APP_EVENTS).files_loaded == 0
    assert_df_equality(
        read(spark, bronze_spec(APP_EVENTS), warehouse),
        spark.createDataFrame(first, read(spark, bronze_spec(APP_EVENTS), warehouse).schema),
        ignore_row_order=True,
    )
    write_jsonl(landing, APP_EVENTS.name, DAY, "late.jsonl", events[:1])
    assert load(spark, landing, warehouse, APP_EVENTS).files_loaded == 1
    per_file = (
        read(spark, bronze_spec(APP_EVENTS), warehouse).groupBy("_source_file").count().collect()
    )
    assert {r[0]: r[1] for r in per_file} == {"one.jsonl": 3, "late.jsonl": 1}


def test_bronze_refuses_updates_and_deletes(spark: SparkSession, tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    write_csv(
        landing, CRM.name, DAY, "a.csv", "customer_id,full_name,email,tier,updated_at\n1,a,b,c,d"
    )
    load(spark, landing, warehouse)
    table = DeltaTable.forPath(spark, bronze_spec(CRM).path(str(warehouse)))
    with pytest.raises(Exception, match=r"(?i)append"):
        table.delete("customer_id = '1'")
    with pytest.raises(Exception, match=r"(?i)append"):
        table.update("customer_id = '1'", {"tier": "'x'"})
    assert read(spark, bronze_spec(CRM), warehouse).count() == 1


def test_a_day_without_folders_loads_nothing(spark: SparkSession, tmp_path: Path) -> None:
    result = load(spark, tmp_path / "landing", tmp_path / "wh")
    assert (result.files_seen, result.files_loaded, result.has_rows) == (0, 0, False)
    assert read(spark, bronze_spec(CRM), tmp_path / "wh").count() == 0


def test_file_names_with_glob_characters_are_read_as_they_are(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Spark's readers expand globs and percent-encode file names, and Hadoop takes the text
    before a `:` for a scheme: `g[1] {a,b}.csv` and `crm-10:00.csv` must still be read,
    recorded under their own names, and not loaded again by a rerun."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    write_csv(landing, CRM.name, DAY, "g[1] {a,b}.csv", f"{','.join(COLS[:5])}\n1,a,b,c,d")
    write_jsonl(landing, CRM.name, DAY, "h?*^+%.jsonl", [{"customer_id": "2", "tier": "t"}])
    write_csv(landing, CRM.name, DAY, "crm-10:00.csv", f"{','.join(COLS[:5])}\n3,a,b,e,d")
    write_jsonl(landing, CRM.name, DAY, "a:b.jsonl", [{"customer_id": "4", "tier": "u"}])
    assert load(spark, landing, warehouse).files_loaded == 4
    got = read(spark, bronze_spec(CRM), warehouse).select("customer_id", "tier", "_source_file")
    expected = spark.createDataFrame(
        [
            ("1", "c", "g[1] {a,b}.csv"),
            ("2", "t", "h?*^+%.jsonl"),
            ("3", "e", "crm-10:00.csv"),
            ("4", "u", "a:b.jsonl"),
        ],
        "customer_id string, tier string, _source_file string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    assert load(spark, landing, warehouse).files_loaded == 0


def test_day_folders_named_otherwise_are_ignored_and_said(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Files of the day in a folder not named `ingest_date=YYYY-MM-DD`, or in a folder inside
    the day's, or a file in the day folder's place, are not loaded, and the log says where
    they are; a folder whose name Hadoop's glob refuses (a `:` in it) does not fail the day
    either."""
    landing = tmp_path / "landing"
    odd = landing / CRM.name / f"ingest_date={DAY}T10:00"
    odd.mkdir(parents=True)
    (odd / "a.csv").write_text(f"{','.join(COLS[:5])}\n1,a,b,c,d\n")
    write_csv(landing, TICKETS.name, date(2025, 3, 4), "t.csv", "ticket_id\n1")
    (landing / TICKETS.name / "2025-03-05").mkdir()
    (landing / TICKETS.name / "2025-03-05" / "t.csv").write_text("ticket_id\n2\n")
    (landing / APP_EVENTS.name).mkdir()
    (landing / APP_EVENTS.name / f"ingest_date={DAY}").write_text("event_id\n1\n")
    write_csv(landing, ORDERS.name, DAY, "o.csv", "order_id\n1")
    for inside in ("sub", "part=1"):
        (day_dir(landing, ORDERS.name, DAY) / inside).mkdir()
        write_csv(landing, ORDERS.name, DAY, f"{inside}/o.csv", "order_id\n2")
    with caplog.at_level(logging.WARNING, logger="lakehouse.landing"):
        loaded = [
            load(spark, landing, tmp_path / s.name, source=s)
            for s in (CRM, TICKETS, APP_EVENTS, ORDERS)
        ]
    assert [(r.files_seen, r.files_loaded, r.has_rows) for r in loaded] == [
        (0, 0, False),
        (0, 0, False),
        (0, 0, False),
        (1, 1, True),
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "crm_customer_updates: could not look for folders named otherwise: "
        "java.net.URISyntaxException: Relative path in absolute URI: "
        f"ingest_date={DAY}T10:00",
        "ticket_events: ignoring 2025-03-05: not an ingest_date=YYYY-MM-DD folder",
        f"app_events: ignoring ingest_date={DAY}: a file, not an ingest_date=YYYY-MM-DD folder",
        "order_updates: ignoring folder part=1 inside a day folder",
        "order_updates: ignoring folder sub inside a day folder",
    ]


def test_csv_follows_rfc_4180_quoting(spark: SparkSession, tmp_path: Path) -> None:
    """Doubled quotes, a backslash at the end of a quoted field, a line break inside one."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    write_csv(
        landing,
        CRM.name,
        DAY,
        "q.csv",
        f"{','.join(COLS[:5])}\n"
        '1,"say ""hi""",a@ex.com,gold,2025-03-05 09:00\n'
        '2,"C:\\dir\\",b@ex.com,gold,2025-03-05 09:00\n'
        '3,"two\nlines",c@ex.com,gold,2025-03-05 09:00\n'
        "4,Dee,d@ex.com,gold,2025-03-05 09:00",
    )
    load(spark, landing, warehouse)
    got = read(spark, bronze_spec(CRM), warehouse).select(
        "customer_id", "full_name", "_parse_error"
    )
    expected = spark.createDataFrame(
        [
            ("1", 'say "hi"', None),
            ("2", "C:\\dir\\", None),
            ("3", "two\nlines", None),
            ("4", "Dee", None),
        ],
        "customer_id string, full_name string, _parse_error string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_line_of_more_fields_than_spark_s_csv_parser_takes_is_a_bad_row(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Spark's CSV parser fails the whole read on a line of more than 20,480 fields by
    default: such a line is a bad row kept whole, and the file's other rows load."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    wide = ",".join(["9"] * 30_000)
    write_csv(
        landing,
        CRM.name,
        DAY,
        "w.csv",
        f"{','.join(COLS[:5])}\n"
        "1,Ann,a@ex.com,gold,2025-03-05 09:00\n"
        f"{wide}\n"
        "2,Ben,b@ex.com,gold,2025-03-05 09:00\n",
    )
    load(spark, landing, warehouse)
    columns = [*COLS[:5], "_raw_record", "_parse_error"]
    got = read(spark, bronze_spec(CRM), warehouse).select(*columns)
    expected = spark.createDataFrame(
        [
            ("1", "Ann", "a@ex.com", "gold", "2025-03-05 09:00", None, None),
            # as a line of too few fields is: the first values under the header's names
            ("9", "9", "9", "9", "9", wide, "record: wrong number of fields"),
            ("2", "Ben", "b@ex.com", "gold", "2025-03-05 09:00", None, None),
        ],
        ", ".join(f"{c} string" for c in columns),
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_any_other_file(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Files as spreadsheets and Windows tools write them: a UTF-8 byte order mark, CRLF line
    ends (RFC 4180's own). The header is found, and no value keeps a stray CR: the last column
    is where it would land."""
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    bom, crlf = "\ufeff", "\r\n"
    csv_lines = [",".join(COLS[:5]), "1,Ann,a@ex.com,gold,2025-03-05 09:00", '2,"B, Jr",,,x']
    json_lines = ['{"customer_id": 3, "full_name": "Cy", "updated_at": "2025-03-05 10:00"}'] * 2
    folder = day_dir(landing, CRM.name, DAY)
    for name, lines in (("excel.csv", csv_lines), ("windows.jsonl", json_lines)):
        (folder / name).write_bytes((bom + crlf.join(lines) + crlf).encode("utf-8"))
    # Line ends mixed in one file: the reader splits by the first one (LF), a CRLF follows.
    mixed = f"{csv_lines[0]}\n4,Di,d@ex.com,silver,2025-03-05 11:00{crlf}"
    (folder / "mixed.csv").write_bytes(mixed.encode("utf-8"))

    load(spark, landing, warehouse)

    got = read(spark, bronze_spec(CRM), warehouse).select(
        "customer_id", "full_name", "tier", "updated_at", "_parse_error"
    )
    expected = spark.createDataFrame(
        [
            ("1", "Ann", "gold", "2025-03-05 09:00", None),
            ("2", "B, Jr", None, "x", None),
            ("3", "Cy", None, "2025-03-05 10:00", None),
            ("3", "Cy", None, "2025-03-05 10:00", None),
            ("4", "Di", "silver", "2025-03-05 11:00", None),
        ],
        "customer_id string, full_name string, tier string, updated_at string, _parse_error string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


# Each value's text, and what the rules say of it: the same in a CSV field and a JSON number.
_NUMBERS = [
    ("45.100", "order_total: more than two fractional digits"),
    ("45.0000000000000001", "order_total: more than two fractional digits"),
    ("45.5", None),
    ("45.50", None),
    ("1e2", "order_total: not a decimal"),
]
_BIG_ID = "9007199254740993"  # 2^53 + 1: a double would round it to 2^53


def test_a_json_number_is_judged_by_its_text_as_a_csv_value_is(
    spark: SparkSession, tmp_path: Path
) -> None:
    from decimal import Decimal

    from lakehouse.run import run_date
    from lakehouse.sources import ORDERS
    from lakehouse.tables import quarantine_spec, silver_spec

    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    ts = "2025-03-05 09:00"
    csv_rows = [f"{i},7,{text},placed,{ts}" for i, (text, _) in enumerate(_NUMBERS, start=1)]
    write_csv(
        landing,
        ORDERS.name,
        DAY,
        "a.csv",
        "\n".join(["order_id,customer_id,order_total,status,updated_at", *csv_rows]),
    )
    # Each line also nests the key, ahead of its own value: only the top level's counts.
    nested = '"meta": {"order_total": 1, "deeper": [{"order_total": 2}, "]}"]}'
    json_rows = [
        f'{{{nested}, "order_id": {i}, "customer_id": 7, "order_total": {text}, '
        f'"status": "placed", "updated_at": "{ts}"}}'
        for i, (text, _) in enumerate(_NUMBERS, start=11)
    ]
    big = (
        f'{{"order_id":{_BIG_ID},"customer_id":7,"order_total":1,"status":"x","updated_at":"{ts}"}}'
    )
    # Nested 40 levels deep, an object in an array in an object...: still read at its top level.
    deep = '{"order_total": 3, "a": [' * 20 + "1" + "]}" * 20
    deepest = f'{{"meta": {deep}, "order_id": 31, "customer_id": 7, "order_total": 12.50, '
    deepest += f'"status": "placed", "updated_at": "{ts}"}}'
    write_jsonl(landing, ORDERS.name, DAY, "b.jsonl", [*json_rows, big, deepest])
    # The key spelled with escapes is the same key, its number as written too.
    escaped = [
        f'{{"order_id": {i}, "customer_id": 7, "order\\u005Ftotal": {text}, '
        f'"stat\\u0075s": "placed", "updated_at": "{ts}"}}'
        for i, (text, _) in enumerate(_NUMBERS, start=21)
    ]
    write_jsonl(landing, ORDERS.name, DAY, "c.jsonl", escaped)
    run_date(spark, settings_for(spark, landing, warehouse), DAY)

    def by_file(first: int, file: str) -> list[tuple[str, str, str | None, str]]:
        return [
            (str(i), text, reason, file)
            for i, (text, reason) in enumerate(_NUMBERS, start=first)
            if reason
        ]

    assert_df_equality(
        read(spark, quarantine_spec(ORDERS), warehouse).select(
            "order_id", "order_total", "_reason", "_source_file"
        ),
        spark.createDataFrame(
            [
                *by_file(1, "a.csv"),
                *by_file(11, "b.jsonl"),
                *by_file(21, "c.jsonl"),
                (_BIG_ID, "1", "order_id: integer out of range", "b.jsonl"),
            ],
            "order_id string, order_total string, _reason string, _source_file string",
        ),
        ignore_row_order=True,
    )
    assert_df_equality(
        read(spark, silver_spec(ORDERS), warehouse).select("order_id", "order_total"),
        spark.createDataFrame(
            [
                (i, Decimal(t))
                for first in (1, 11, 21)
                for i, (t, r) in enumerate(_NUMBERS, first)
                if not r
            ]
            + [(31, Decimal("12.50"))],
            "order_id int, order_total decimal(10,2)",
        ),
        ignore_row_order=True,
    )
    # bronze keeps each JSON number's text as it arrived
    assert sorted(
        r[0]
        for r in read(spark, bronze_spec(ORDERS), warehouse)
        .where("_source_file != 'a.csv'")
        .select("order_total")
        .collect()
    ) == sorted([t for t, _ in _NUMBERS] * 2 + ["1", "12.50"])
