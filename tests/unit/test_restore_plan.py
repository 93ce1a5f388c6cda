"""What a restore plans to take back, from the run log's rows alone (no JVM)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lakehouse import restore
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


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore, "_attempts", lambda spark, warehouse: LOG)
    monkeypatch.setattr(restore, "_current_versions", lambda spark, warehouse: {CRM: 3, APP: 2})


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
