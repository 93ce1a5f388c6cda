"""Counts a run relies on. A MERGE whose row counts Delta did not return is unknown, never
"nothing inserted": a rerun that landed a late file must not be taken for one that changed
nothing. Silver's counts must reconcile, or the step stops."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import Row

from lakehouse import storage
from lakehouse.bronze import BronzeResult
from lakehouse.errors import ReconciliationError
from lakehouse.pending import PendingEventDates
from lakehouse.run import GoldOutcome, _unchanged, gold_summary
from lakehouse.silver import SilverCounts
from lakehouse.sources import APP_EVENTS, ORDERS, Source
from tests.fakes import frame, session_answering

ALL_STEPS = ["bronze", "silver", "gold"]


def test_delta_s_row_counts_are_read_from_the_merge_s_result_row() -> None:
    row = Row(num_affected_rows=5, num_updated_rows=2, num_deleted_rows=0, num_inserted_rows=3)
    counts = storage._merge(session_answering(row), frame(), lambda view: f"MERGE {view}")
    assert counts == {"inserted": 3, "updated": 2, "deleted": 0}


def test_a_merge_that_returned_no_row_has_no_counts() -> None:
    assert storage._merge(session_answering(None), frame(), lambda view: "MERGE") == {}


@pytest.mark.parametrize(
    "row",
    [
        Row(num_affected_rows=2, num_updated_rows=2, num_deleted_rows=0, num_inserted_rows=None),
        Row(num_affected_rows=2, num_updated_rows=2, num_deleted_rows=0),
    ],
    ids=["null", "missing"],
)
def test_a_count_delta_left_null_or_out_is_unknown_not_zero(row: Row) -> None:
    counts = storage._merge(session_answering(row), frame(), lambda view: "MERGE")
    assert counts == {"updated": 2, "deleted": 0}


@pytest.mark.parametrize(("rows_inserted", "unchanged"), [(0, True), (None, False), (4, False)])
def test_only_a_load_known_to_have_inserted_nothing_leaves_the_day_unchanged(
    rows_inserted: int | None, unchanged: bool
) -> None:
    landed = BronzeResult(
        "app_events", 3, 1, has_rows=True, in_bronze=2, rows_inserted=rows_inserted
    )
    assert _unchanged(ALL_STEPS, landed, {2}, PendingEventDates()) is unchanged


def test_a_day_with_event_dates_still_pending_is_never_unchanged() -> None:
    """A concurrent attempt moved events and crashed before its gold step, after the attempt
    that finished had read the pending dates: the rerun must recompute them."""
    landed = BronzeResult("app_events", 3, 1, has_rows=True, in_bronze=2, rows_inserted=0)
    moved = PendingEventDates(frozenset({date(2025, 3, 1)}), ("2025-03-02-crashed",))
    assert _unchanged(ALL_STEPS, landed, {2}, moved) is False


@pytest.mark.parametrize(
    ("source", "rows", "line"),
    [
        (
            ORDERS,
            {"inserted": 1, "updated": 2, "deleted": 0},
            "1 inserted, 2 updated, 0 deleted, 0 event date(s) replaced",
        ),
        (ORDERS, {}, "rows not counted by Delta, 0 event date(s) replaced"),
        (APP_EVENTS, {}, "2 event date(s) replaced"),
    ],
    ids=["counted", "not-counted", "no-current-state-table"],
)
def test_the_gold_log_line_gives_counts_only_where_there_are_some(
    source: Source, rows: dict[str, int], line: str
) -> None:
    """App events feed no current-state table: their line has no counts to give, not `None`."""
    event_dates = (date(2025, 3, 1), date(2025, 3, 2)) if source.event_time else ()
    assert gold_summary(source, GoldOutcome(rows, event_dates)) == line


@pytest.mark.parametrize(
    ("landed", "valid", "kept", "reconciles"),
    [
        (5, 3, 2, True),  # 2 quarantined, 1 duplicate
        (6, 3, 2, False),  # a row lost between the two materialisations
        (4, 3, 2, False),  # a row counted twice
        (5, 3, 4, False),  # more kept than valid
    ],
)
def test_counts_that_do_not_reconcile_stop_the_step(
    landed: int, valid: int, kept: int, reconciles: bool
) -> None:
    counts = SilverCounts(landed, {"bad_email": 2}, valid, kept, valid - kept)
    if reconciles:
        counts.check("crm_customer_updates")
    else:
        with pytest.raises(ReconciliationError, match="crm_customer_updates: landed"):
            counts.check("crm_customer_updates")
