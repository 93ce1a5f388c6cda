"""The bundled sample's expected gold rows: answer 5 of the seed for customers and orders;
the counts and tickets that follow from the sample rows plus the late ticket event of question
6 (landing on 2025-03-04)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date as D
from datetime import datetime as TS
from decimal import Decimal

_CUSTOMERS = [
    (101, "Ava Patel", "ava.p@ex.com", "silver", TS(2025, 3, 2, 8, 30), D(2025, 3, 2)),
    (102, "Ben Ruiz", "ben@ex.com", "gold", TS(2025, 3, 3, 9, 20), D(2025, 3, 3)),
    (103, "Choi Lee", "choi@ex.com", "bronze", TS(2025, 3, 2, 11, 45), D(2025, 3, 2)),
]
_ORDERS = [
    (9001, 101, Decimal("45.00"), "shipped", TS(2025, 3, 2, 18, 40), D(2025, 3, 2)),
    (9002, 102, Decimal("80.00"), "cancelled", TS(2025, 3, 3, 12, 30), D(2025, 3, 3)),
    (9003, 103, Decimal("25.00"), "placed", TS(2025, 3, 3, 8, 10), D(2025, 3, 3)),
]
_APP_DAILY = [
    (D(2025, 3, 2), "view_product", 2),
    (D(2025, 3, 2), "add_to_cart", 1),
    (D(2025, 3, 3), "checkout", 1),
]
_TICKETS = [
    (7001, 101, "reopened", TS(2025, 3, 2, 12, 30), D(2025, 3, 4)),
    (7002, 102, "opened", TS(2025, 3, 3, 8, 40), D(2025, 3, 3)),
]
_TICKET_DAILY = [
    (D(2025, 3, 2), "opened", 1),
    (D(2025, 3, 2), "resolved", 1),
    (D(2025, 3, 2), "reopened", 1),
    (D(2025, 3, 3), "opened", 1),
]
# The timelines: every change of the sample's customers and orders, each closed by the next.
_CUSTOMER_HISTORY = [
    (
        101,
        "Ava Patel",
        "ava@ex.com",
        "bronze",
        TS(2025, 3, 1, 9, 10),
        TS(2025, 3, 2, 8, 30),
        False,
    ),
    (101, "Ava Patel", "ava.p@ex.com", "silver", TS(2025, 3, 2, 8, 30), None, True),
    (
        102,
        "Ben Ruiz",
        "ben@ex.com",
        "silver",
        TS(2025, 3, 1, 10),
        TS(2025, 3, 3, 9, 20),
        False,
    ),
    (102, "Ben Ruiz", "ben@ex.com", "gold", TS(2025, 3, 3, 9, 20), None, True),
    (103, "Choi Lee", "choi@ex.com", "bronze", TS(2025, 3, 2, 11, 45), None, True),
]
_ORDER_HISTORY = [
    (
        9001,
        101,
        Decimal("45.00"),
        "placed",
        TS(2025, 3, 2, 9, 5),
        TS(2025, 3, 2, 18, 40),
        False,
    ),
    (9001, 101, Decimal("45.00"), "shipped", TS(2025, 3, 2, 18, 40), None, True),
    (
        9002,
        102,
        Decimal("80.00"),
        "placed",
        TS(2025, 3, 2, 9, 20),
        TS(2025, 3, 3, 12, 30),
        False,
    ),
    (9002, 102, Decimal("80.00"), "cancelled", TS(2025, 3, 3, 12, 30), None, True),
    (9003, 103, Decimal("25.00"), "placed", TS(2025, 3, 3, 8, 10), None, True),
]

SAMPLE_GOLD: Mapping[str, Sequence[tuple[object, ...]]] = {
    "dim_customer_history": _CUSTOMER_HISTORY,
    "fact_order_history": _ORDER_HISTORY,
    "dim_customer_current": _CUSTOMERS,
    "fact_order_current": _ORDERS,
    "fact_app_events_daily": _APP_DAILY,
    "fact_ticket_current": _TICKETS,
    "fact_ticket_events_daily": _TICKET_DAILY,
}
