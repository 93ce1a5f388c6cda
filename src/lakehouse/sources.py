"""The landing sources, each declared once: its columns, how its records are identified and
ordered, and which gold tables it feeds and how. Tables, layers, the report and the config
read this; adding a source is one declaration here (and its rows' rules, if a new kind).
The benchmark's data generator and DuckDB reference (`scripts/`, `bench/`) spell the sources
out on their own, on purpose: an independent reference checks the job, it does not share it.

Plain Python, no Spark: the command line validates source names before any JVM starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeVar


class Kind(Enum):
    """How a column of a source is typed and validated."""

    KEY = "integer key"  # INT, not null
    DECIMAL = "decimal(10,2)"  # not null, >= 0, at most two fractional digits
    TIMESTAMP = "timestamp"  # not null, one of the contract's formats
    REQUIRED_TEXT = "non-empty text"
    TEXT = "text"  # free text, may be empty
    FLAG = "optional true/false"  # missing or empty means false


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    optional_in_file: bool = False  # may be absent from a file's header without error


@dataclass(frozen=True)
class CurrentState:
    """A gold table by MERGE, one row per `key`: the latest record's `attributes`, when it
    happened (`last_<time>`) and the ingest date of the run that brought it (`load_date`).
    A record the source flags as a deletion removes the row."""

    table: str
    key: str
    attributes: tuple[str, ...]
    time: str  # the source column the latest record is taken by
    with_drift: bool = False  # the source's drifted columns follow into the table

    @property
    def time_column(self) -> str:
        return f"last_{self.time}"


@dataclass(frozen=True)
class DailyCounts:
    """A gold table of event counts per event date and `dimension`, partitions replaced."""

    table: str
    dimension: str


@dataclass(frozen=True)
class History:
    """A gold timeline of versions per key (contract section 6): a version opens when one of
    the `tracked` attributes changes."""

    table: str
    tracked: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """One landing source: its schema, how its records are identified and ordered, and the
    gold tables it feeds."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # A mutable source's records: "latest wins" by this column. None: the first arrival of a
    # key wins (immutable events).
    latest_by: str | None = None
    event_time: str | None = None  # events: the column whose date partitions silver and gold
    current: CurrentState | None = None
    daily: DailyCounts | None = None
    history: History | None = None

    @property
    def mutable(self) -> bool:
        return self.latest_by is not None

    @property
    def keeps_changes(self) -> bool:
        """A change history (`silver/<source>_changes`) is kept for the timelines it feeds,
        and only for them."""
        return self.history is not None

    @property
    def order_column(self) -> str:
        """The column a mutable source's records are ranked by; asking an immutable source is
        a bug, said at once."""
        if self.latest_by is None:
            raise ValueError(f"{self.name} keeps the first arrival: it has no order column")
        return self.latest_by

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.optional_in_file]

    @property
    def deletion_flag(self) -> str | None:
        """The column whose `true` says the record deletes its key, if the source has one."""
        return next((c.name for c in self.columns if c.kind is Kind.FLAG), None)


CRM = Source(
    "crm_customer_updates",
    (
        Column("customer_id", Kind.KEY),
        Column("full_name", Kind.TEXT),
        Column("email", Kind.TEXT),
        Column("tier", Kind.TEXT),
        Column("updated_at", Kind.TIMESTAMP),
        Column("is_deleted", Kind.FLAG, optional_in_file=True),
    ),
    key=("customer_id",),
    latest_by="updated_at",
    current=CurrentState(
        "dim_customer_current",
        "customer_id",
        ("full_name", "email", "tier"),
        "updated_at",
        with_drift=True,
    ),
    history=History("dim_customer_history", ("full_name", "email", "tier")),
)
ORDERS = Source(
    "order_updates",
    (
        Column("order_id", Kind.KEY),
        Column("customer_id", Kind.KEY),
        Column("order_total", Kind.DECIMAL),
        Column("status", Kind.REQUIRED_TEXT),
        Column("updated_at", Kind.TIMESTAMP),
    ),
    key=("order_id",),
    latest_by="updated_at",
    current=CurrentState(
        "fact_order_current", "order_id", ("customer_id", "order_total", "status"), "updated_at"
    ),
    history=History("fact_order_history", ("customer_id", "order_total", "status")),
)
APP_EVENTS = Source(
    "app_events",
    (
        Column("event_id", Kind.KEY),
        Column("customer_id", Kind.KEY),
        Column("event_type", Kind.REQUIRED_TEXT),
        Column("event_ts", Kind.TIMESTAMP),
    ),
    key=("event_id",),
    event_time="event_ts",
    daily=DailyCounts("fact_app_events_daily", "event_type"),
)
TICKETS = Source(
    "ticket_events",
    (
        Column("ticket_id", Kind.KEY),
        Column("customer_id", Kind.KEY),
        Column("status", Kind.REQUIRED_TEXT),
        Column("event_ts", Kind.TIMESTAMP),
        Column("ingested_at", Kind.TIMESTAMP),
    ),
    key=("ticket_id", "event_ts"),
    event_time="event_ts",
    current=CurrentState("fact_ticket_current", "ticket_id", ("customer_id", "status"), "event_ts"),
    daily=DailyCounts("fact_ticket_events_daily", "status"),
)
SOURCES: tuple[Source, ...] = (CRM, ORDERS, APP_EVENTS, TICKETS)
SOURCE_NAMES: tuple[str, ...] = tuple(s.name for s in SOURCES)

_Feed = TypeVar("_Feed", CurrentState, DailyCounts, History)


def declared(feed: _Feed | None, source: Source) -> _Feed:
    """A gold table `source` declares (its `current`, `daily` or `history`); asking a source
    for one it does not feed is a bug, said at once."""
    if feed is None:
        raise ValueError(f"{source.name} declares no such gold table")
    return feed
