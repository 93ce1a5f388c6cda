"""A hand-made landing zone with one small case per rule of the contract, over three days.

Every case uses its own keys, so one run of three dates exercises all of them; the expected
gold tables below are written out by hand from the contract's rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse.sources import APP_EVENTS, CRM, ORDERS, TICKETS
from lakehouse.tables import FACT_APP_EVENTS_DAILY, FACT_TICKET_EVENTS_DAILY
from tests.helpers import (
    CRM_HEADER,
    ORDER_HEADER,
    TICKET_HEADER,
    app_event,
    copy_warehouse,
    files_by_partition,
    run_all,
    write_csv,
    write_jsonl,
)

D1, D2, D3 = date(2025, 4, 1), date(2025, 4, 2), date(2025, 4, 3)
TS = datetime


def write_scenario(landing: Path) -> None:
    # --- CRM -------------------------------------------------------------------------
    write_csv(
        landing,
        CRM.name,
        D1,
        "crm_a.csv",
        f"""{CRM_HEADER}
201,A d1,a@x,bronze,2025-04-01 10:00,
202,B a,b@x,bronze,2025-04-01 10:00,
203,C,c@x,gold,2025-04-01 12:00,
204,D,d@x,bronze,2025-04-01 08:00,
205,,,,2025-04-01 12:00,true
206,F,f@x,bronze,2025-03-31 08:00,
abc,Bad,bad@x,gold,2025-04-01 09:00,
210,Bad date,x@x,gold,2025-02-30 10:00,
211,Bad flag,x@x,gold,2025-04-01 10:00,maybe""",
    )
    write_csv(
        landing,
        CRM.name,
        D1,
        "crm_b.csv",
        f"""{CRM_HEADER}
202,B b,b@x,silver,2025-04-01 10:00,
208,"Lee, Dana",dana@x,gold,2025-04-01 11:00,""",
    )
    # No is_deleted column at all: it is optional.
    write_csv(
        landing,
        CRM.name,
        D2,
        "crm.csv",
        """customer_id,full_name,email,tier,updated_at
201,A d2,a@x,silver,2025-04-01 10:00
203,C old,c@x,silver,2025-03-30 09:00
205,E,e@x,gold,2025-04-01 09:00""",
    )
    write_csv(
        landing,
        CRM.name,
        D2,
        "crm_deletes.csv",
        f"""{CRM_HEADER}
204,,,,2025-04-02 08:00,true
206,,,,2025-04-02 08:00,TRUE""",
    )
    write_csv(
        landing,
        CRM.name,
        D2,
        "crm_phone.csv",
        """customer_id,full_name,email,tier,updated_at,phone
207,G,g@x,bronze,2025-04-02 09:00,555-0101""",
    )
    write_jsonl(
        landing,
        CRM.name,
        D3,
        "crm.jsonl",
        [
            {
                "customer_id": 206,
                "full_name": "F back",
                "email": "f2@x",
                "tier": "gold",
                "updated_at": "2025-04-03T08:00:00",
            },
            {
                "customer_id": "209",
                "full_name": "H",
                "email": "h@x",
                "tier": "bronze",
                "updated_at": "2025-04-03 09:00",
                "loyalty": "L2",  # drift that D3 brings, after D2's `phone`
            },
        ],
    )
    # --- Orders ----------------------------------------------------------------------
    write_csv(
        landing,
        ORDERS.name,
        D1,
        "orders.csv",
        f"""{ORDER_HEADER}
9101,201,10.00,placed,2025-04-01 09:00
9101,201,10.00,shipped,2025-04-01 18:00
9102,202,-5.00,placed,2025-04-01 09:00
9103,202,12.5,placed,2025-04-01 09:30
9104,203,7,placed,2025-04-01 10:00
9104,203,7,placed,2025-04-01 10:00
9105,203,12.345,placed,2025-04-01 10:00
9106,203,abc,placed,2025-04-01 10:00
9107,203,1.00,,2025-04-01 10:00
9108,203,1.00""",
    )
    write_jsonl(
        landing,
        ORDERS.name,
        D2,
        "orders.jsonl",
        [
            {
                "order_id": 9103,
                "customer_id": 202,
                "order_total": 12.5,
                "status": "shipped",
                "updated_at": "2025-04-02 10:00",
                "channel": "web",
            },
            {
                "order_id": 9101,
                "customer_id": 201,
                "order_total": "10.00",
                "status": "placed",
                "updated_at": "2025-04-01 12:00",
            },
        ],
    )
    # --- App events ------------------------------------------------------------------
    write_jsonl(
        landing,
        APP_EVENTS.name,
        D1,
        "events.jsonl",
        [
            app_event(60001, "view_product", "2025-04-01 08:00", 201),
            app_event(60002, "add_to_cart", "2025-04-01 08:05", 201),
            "{broken",
        ],
    )
    write_jsonl(
        landing,
        APP_EVENTS.name,
        D2,
        "events.jsonl",
        [
            app_event(60001, "view_product", "2025-04-01 08:00", 201),
            app_event(60003, "view_product", "2025-04-02 09:00", 202),
            "[1, 2]",
        ],
    )
    write_csv(
        landing,
        APP_EVENTS.name,
        D2,
        "events_b.csv",
        """event_id,customer_id,event_type,event_ts
60004,202,checkout,2025-04-02 10:00
60005,202,,2025-04-02 10:00""",
    )
    write_jsonl(
        landing,
        APP_EVENTS.name,
        D3,
        "events.jsonl",
        [
            app_event(60006, "view_product", "2025-03-30 23:59", 203),
            # a valid timestamp with a year before 1000 (a typo of 2025, say)
            app_event(60007, "view_product", "0202-04-03 10:00", 203),
        ],
    )
    # --- Tickets ---------------------------------------------------------------------
    write_csv(
        landing,
        TICKETS.name,
        D1,
        "tickets.csv",
        f"""{TICKET_HEADER}
7101,201,opened,2025-04-01 08:00,2025-04-01 08:05""",
    )
    write_csv(
        landing,
        TICKETS.name,
        D2,
        "tickets.csv",
        f"""{TICKET_HEADER}
7101,201,resolved,2025-04-02 09:00,2025-04-02 09:05
7102,202,opened,2025-04-02 10:00,2025-04-02 10:01
7101,201,opened,2025-04-01 08:00,2025-04-02 09:30""",
    )
    write_csv(
        landing,
        TICKETS.name,
        D3,
        "tickets.csv",
        f"""{TICKET_HEADER}
7101,201,reopened,2025-04-01 12:00,2025-04-03 07:00
7103,203,opened,2025-03-29 10:00,2025-04-03 07:00
7104,204,opened,0202-04-03 08:00,2025-04-03 07:00""",
    )


# The gold tables the scenario must leave, written out by hand from the contract's rules.
_CUSTOMERS = [
    (201, "A d2", "a@x", "silver", TS(2025, 4, 1, 10), D2, None, None),
    (202, "B b", "b@x", "silver", TS(2025, 4, 1, 10), D1, None, None),
    (203, "C", "c@x", "gold", TS(2025, 4, 1, 12), D1, None, None),
    (206, "F back", "f2@x", "gold", TS(2025, 4, 3, 8), D3, None, None),
    (207, "G", "g@x", "bronze", TS(2025, 4, 2, 9), D2, None, "555-0101"),
    (208, "Lee, Dana", "dana@x", "gold", TS(2025, 4, 1, 11), D1, None, None),
    (209, "H", "h@x", "bronze", TS(2025, 4, 3, 9), D3, "L2", None),
]
_ORDERS = [
    (9101, 201, Decimal("10.00"), "shipped", TS(2025, 4, 1, 18), D1),
    (9103, 202, Decimal("12.50"), "shipped", TS(2025, 4, 2, 10), D2),
    (9104, 203, Decimal("7.00"), "placed", TS(2025, 4, 1, 10), D1),
]
_APP_DAILY = [
    (date(202, 4, 3), "view_product", 1),
    (date(2025, 3, 30), "view_product", 1),
    (D1, "view_product", 1),
    (D1, "add_to_cart", 1),
    (D2, "view_product", 1),
    (D2, "checkout", 1),
]
_TICKETS = [
    (7101, 201, "resolved", TS(2025, 4, 2, 9), D2),
    (7102, 202, "opened", TS(2025, 4, 2, 10), D2),
    (7103, 203, "opened", TS(2025, 3, 29, 10), D3),
    (7104, 204, "opened", TS(202, 4, 3, 8), D3),
]
_TICKET_DAILY = [
    (date(202, 4, 3), "opened", 1),
    (date(2025, 3, 29), "opened", 1),
    (D1, "opened", 1),
    (D1, "reopened", 1),
    (D2, "resolved", 1),
    (D2, "opened", 1),
]
# Timelines, by the contract's section 6: 203's late older record opens an earlier
# version; 204, 205 and 206 are closed by deletions (205's older update lands after
# its deletion and slots in before it); 206 comes back; 9101's late "placed" changes
# nothing (the same as the version in force); 9104's duplicate delivery counts once.
_CUSTOMER_HISTORY = [
    (201, "A d2", "a@x", "silver", TS(2025, 4, 1, 10), None, True),
    (202, "B b", "b@x", "silver", TS(2025, 4, 1, 10), None, True),
    (203, "C old", "c@x", "silver", TS(2025, 3, 30, 9), TS(2025, 4, 1, 12), False),
    (203, "C", "c@x", "gold", TS(2025, 4, 1, 12), None, True),
    (204, "D", "d@x", "bronze", TS(2025, 4, 1, 8), TS(2025, 4, 2, 8), False),
    (205, "E", "e@x", "gold", TS(2025, 4, 1, 9), TS(2025, 4, 1, 12), False),
    (206, "F", "f@x", "bronze", TS(2025, 3, 31, 8), TS(2025, 4, 2, 8), False),
    (206, "F back", "f2@x", "gold", TS(2025, 4, 3, 8), None, True),
    (207, "G", "g@x", "bronze", TS(2025, 4, 2, 9), None, True),
    (208, "Lee, Dana", "dana@x", "gold", TS(2025, 4, 1, 11), None, True),
    (209, "H", "h@x", "bronze", TS(2025, 4, 3, 9), None, True),
]
_ORDER_HISTORY = [
    (9101, 201, Decimal("10.00"), "placed", TS(2025, 4, 1, 9), TS(2025, 4, 1, 18), False),
    (9101, 201, Decimal("10.00"), "shipped", TS(2025, 4, 1, 18), None, True),
    (
        9103,
        202,
        Decimal("12.50"),
        "placed",
        TS(2025, 4, 1, 9, 30),
        TS(2025, 4, 2, 10),
        False,
    ),
    (9103, 202, Decimal("12.50"), "shipped", TS(2025, 4, 2, 10), None, True),
    (9104, 203, Decimal("7.00"), "placed", TS(2025, 4, 1, 10), None, True),
]

EXPECTED_GOLD: Mapping[str, Sequence[tuple[object, ...]]] = {
    "dim_customer_history": _CUSTOMER_HISTORY,
    "fact_order_history": _ORDER_HISTORY,
    "dim_customer_current": _CUSTOMERS,
    "fact_order_current": _ORDERS,
    "fact_app_events_daily": _APP_DAILY,
    "fact_ticket_current": _TICKETS,
    "fact_ticket_events_daily": _TICKET_DAILY,
}
# CRM's drifted columns (D2's crm_phone.csv, D3's crm.jsonl) follow into dim_customer_current,
# after its own columns in sorted order, whichever date brought them first.
GOLD_EXTRA_COLUMNS = {
    "dim_customer_current": [
        T.StructField("loyalty", T.StringType()),
        T.StructField("phone", T.StringType()),
    ]
}


EXPECTED_QUARANTINE: Mapping[str, set[tuple[str | None, str, str, date]]] = {
    CRM.name: {
        ("abc", "customer_id: not an integer", "crm_a.csv", D1),
        ("210", "updated_at: no such date or time", "crm_a.csv", D1),
        ("211", "is_deleted: not true or false", "crm_a.csv", D1),
    },
    ORDERS.name: {
        ("9102", "order_total: negative", "orders.csv", D1),
        ("9105", "order_total: more than two fractional digits", "orders.csv", D1),
        ("9106", "order_total: not a decimal", "orders.csv", D1),
        ("9107", "status: empty", "orders.csv", D1),
        ("9108", "record: wrong number of fields", "orders.csv", D1),
    },
    APP_EVENTS.name: {
        (None, "record: unparseable JSON", "events.jsonl", D1),
        (None, "record: JSON value is not an object", "events.jsonl", D2),
        ("60005", "event_type: empty", "events_b.csv", D2),
    },
    TICKETS.name: set(),
}


@dataclass
class ScenarioRun:
    landing: Path
    warehouse: Path  # D1, D2, D3 run in order
    after_d2: Path  # a copy of the warehouse as D1 and D2 left it
    ticket_files_before_d3: dict[date, set[str]]
    app_files_before_d3: dict[date, set[str]]


def run_in_order(spark: SparkSession, base: Path) -> ScenarioRun:
    """Land the scenario and run its three dates in order, keeping a copy after D2."""
    landing, warehouse = base / "landing", base / "wh"
    write_scenario(landing)
    run_all(spark, landing, warehouse, [D1, D2])
    after_d2 = copy_warehouse(warehouse, base / "after_d2")
    tickets = files_by_partition(spark, FACT_TICKET_EVENTS_DAILY, warehouse)
    apps = files_by_partition(spark, FACT_APP_EVENTS_DAILY, warehouse)
    run_all(spark, landing, warehouse, [D3])
    return ScenarioRun(landing, warehouse, after_d2, tickets, apps)
