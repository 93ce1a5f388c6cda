"""Which failures count as a lost commit race (retried) and which do not (raised at once)."""

from __future__ import annotations

import time

import pytest

from lakehouse import concurrency
from tests.fakes import DeltaSays


def _failing_once(error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def step() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return "done"

    return calls, step


def test_a_merge_whose_materialised_source_vanished_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    calls, step = _failing_once(RuntimeError("SparkException: Block rdd_39229_0 does not exist"))
    assert concurrency.retry_on_conflict("silver x", step) == "done"  # type: ignore[arg-type]
    assert len(calls) == 2


def test_any_other_error_is_raised_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    calls, step = _failing_once(RuntimeError("Table does not exist"))
    with pytest.raises(RuntimeError, match="Table does not exist"):
        concurrency.retry_on_conflict("silver x", step)  # type: ignore[arg-type]
    assert len(calls) == 1


@pytest.mark.parametrize(
    "condition",
    [
        "DELTA_CONCURRENT_APPEND.WITH_PARTITION_HINT",
        "DELTA_METADATA_CHANGED",
        # seen from bronze's MERGE while a parallel run added a drifted column to the table
        "DELTA_SCHEMA_CHANGE_SINCE_ANALYSIS",
    ],
)
def test_a_delta_conflict_is_known_by_its_condition_and_retried(
    monkeypatch: pytest.MonkeyPatch, condition: str
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    calls, step = _failing_once(DeltaSays(condition))
    assert concurrency.retry_on_conflict("silver x", step) == "done"  # type: ignore[arg-type]
    assert len(calls) == 2


def test_another_condition_is_raised_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    calls, step = _failing_once(DeltaSays("DELTA_TABLE_NOT_FOUND"))
    with pytest.raises(DeltaSays):
        concurrency.retry_on_conflict("silver x", step)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_work_at_once_gives_every_item_its_turn_then_raises_the_first_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run's sources, maintenance and restore rely on it: a failing item does not keep the
    others from their turn, the error raised is the first in the items' order, and every
    other failure is logged."""
    done: list[str] = []

    def action(table: str) -> str:
        done.append(table)
        if table in ("b", "d"):
            raise ValueError(f"{table} failed")
        return table.upper()

    assert concurrency.at_once(action, ["a", "c"], threads=2) == ["A", "C"]
    done.clear()
    with pytest.raises(ValueError, match=r"^b failed$"):
        concurrency.at_once(action, ["a", "b", "c", "d", "e"], threads=2)
    assert sorted(done) == ["a", "b", "c", "d", "e"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "another one failed too: ValueError: d failed"
    ]
