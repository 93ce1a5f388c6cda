"""What a restore plans to take back, from the run log's rows alone (no JVM)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lakehouse import ops, restore, run
from lakehouse.config import Settings
from lakehouse.run import SourceOutcome, log_values
from lakehouse.warehouse import Warehouse

D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
CRM, APP = "silver/crm_customer_updates", "silver/app_events"


def _row(
    run_id: str, day: date, minute: int, before: dict[str, int], after: dict[str, int]
) -> dict[str, object]:
    return {
        "run_id": run_id,
        "run_date": day,
        "started_at": datetime(2025, 3, 10, 8, minute),
        "table_versions_before": before,
        "table_versions": after,
    }


# D2's run failed on CRM and never reached app events (sources one at a time): its rows hold
# CRM's tables only. D3's run wrote both.
LOG = [
    _row("r1", D1, 0, {CRM: 0, APP: 0}, {CRM: 1, APP: 1}),
    _row("r2", D2, 1, {CRM: 1}, {CRM: 2}),
    _row("r3", D3, 2, {CRM: 2, APP: 1}, {CRM: 3, APP: 2}),
]


def _use_log(monkeypatch: pytest.MonkeyPatch, rows: list[dict[str, object]]) -> None:
    """The restore reads these run log rows, and every table at its latest version."""
    monkeypatch.setattr(restore, "_attempts", lambda spark, warehouse: rows)
    monkeypatch.setattr(restore, "_current_versions", lambda spark, warehouse: {CRM: 4, APP: 2})


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_log(monkeypatch, LOG)


def _targets(plan: restore.RestorePlan) -> dict[str, int]:
    return {step.table: step.target for step in plan.steps}


@pytest.mark.usefixtures("planned")
def test_a_restore_takes_back_a_table_that_only_a_later_undone_run_wrote() -> None:
    """Before r2: app events go back to before r3 too, though r2 recorded none of them."""
    plan = restore.plan_before_run(None, Warehouse("/wh"), "r2")  # type: ignore[arg-type]
    assert (_targets(plan), plan.undid_runs) == ({CRM: 1, APP: 1}, ["r2", "r3"])


@pytest.mark.usefixtures("planned")
def test_a_restore_to_a_date_takes_back_what_later_runs_wrote_of_every_table() -> None:
    plan = restore.plan_to_date(None, Warehouse("/wh"), D2)  # type: ignore[arg-type]
    assert (_targets(plan), plan.undid_runs) == ({CRM: 2, APP: 1}, ["r3"])


def test_a_run_beside_the_undone_one_that_committed_after_the_point_is_undone_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rA started first, rB read CRM at 2, then rA committed 4 after rB's 3: before rB, CRM
    goes back to 2, which takes rA's commit too, so rA must not stay counted as finished."""
    _use_log(
        monkeypatch,
        [
            _row("r1", D1, 0, {CRM: 0, APP: 0}, {CRM: 1, APP: 1}),
            _row("rA", D2, 1, {CRM: 1}, {CRM: 4}),
            _row("rB", D3, 2, {CRM: 2}, {CRM: 3}),
        ],
    )
    plan = restore.plan_before_run(None, Warehouse("/wh"), "rB")  # type: ignore[arg-type]
    assert (_targets(plan), plan.undid_runs) == ({CRM: 2}, ["rA", "rB"])


def test_versions_a_run_could_not_read_are_left_to_the_later_runs_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """r2's listing at its end failed: its row says nothing of its versions (not -1, "not
    created", which would leave every table as it is), and r3's "before" versions are what
    r2 left."""
    unread = log_values(
        "r2",
        D2,
        SourceOutcome("crm_customer_updates", datetime(2025, 3, 10), ("bronze",)),
        {},
        None,
    )
    assert unread["table_versions"] is None
    r2 = {**_row("r2", D2, 1, {CRM: 1, APP: 1}, {}), "table_versions": unread["table_versions"]}
    _use_log(
        monkeypatch,
        [
            _row("r1", D1, 0, {CRM: 0, APP: 0}, {CRM: 1, APP: 1}),
            r2,
            _row("r3", D3, 2, {CRM: 2, APP: 1}, {CRM: 4, APP: 2}),
        ],
    )
    plan = restore.plan_to_date(None, Warehouse("/wh"), D2)  # type: ignore[arg-type]
    assert (_targets(plan), plan.undid_runs) == ({CRM: 2, APP: 1}, ["r3"])


def test_a_run_whose_versions_cannot_be_listed_at_its_end_records_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not -1 for every table, which a restore would take for tables never created."""

    def fail(*_: object) -> dict[str, int]:
        raise OSError("listing failed")

    monkeypatch.setattr(ops, "versions_of", fail)
    assert run._versions(None, Settings(landing="", warehouse="/wh")) is None  # type: ignore[arg-type]
