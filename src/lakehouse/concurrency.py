"""Delta's optimistic concurrency, made usable: retry a step that lost a commit race.

A retry is safe only for a step that recomputes everything it writes from committed data
when called again; every caller here is such a step (see docs/design.md, "Concurrency").
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from pyspark.errors import PySparkException

from lakehouse.errors import ConcurrentRunError, SilverMovedError, TableCreationInProgressError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Delta's error conditions for a commit that lost to another writer's. Classified by
# condition, not by class: over Spark Connect the error arrives as a Connect exception
# carrying the same condition.
CONFLICT_CONDITIONS = frozenset(
    {
        "DELTA_CONCURRENT_APPEND",
        "DELTA_CONCURRENT_DELETE_DELETE",
        "DELTA_CONCURRENT_DELETE_READ",
        "DELTA_CONCURRENT_TRANSACTION",
        "DELTA_CONCURRENT_WRITE",
        "DELTA_METADATA_CHANGED",
        "DELTA_PROTOCOL_CHANGED",
    }
)
# Ours: two runs creating the same table at once; silver moved on between a step's decision
# and its commit.
RETRIED: tuple[type[BaseException], ...] = (TableCreationInProgressError, SilverMovedError)
try:
    # In classic Spark, PySpark raises an error class it does not know as a bare Py4J error;
    # delta-spark's Python package raises Delta's conflicts as its own classes instead, but
    # without their condition. Over Connect (no delta-spark needed) the condition arrives.
    import delta.exceptions as delta_errors

    RETRIED += (
        delta_errors.DeltaConcurrentModificationException,
        delta_errors.ConcurrentWriteException,
        delta_errors.MetadataChangedException,
        delta_errors.ProtocolChangedException,
        delta_errors.ConcurrentAppendException,
        delta_errors.ConcurrentDeleteReadException,
        delta_errors.ConcurrentDeleteDeleteException,
        delta_errors.ConcurrentTransactionException,
    )
except ImportError:  # the Spark Connect client alone
    pass
ATTEMPTS = 6


def condition_of(exc: BaseException) -> str | None:
    """Spark's error condition of `exc` without its sub-condition (`A.B` is `A`)."""
    if not isinstance(exc, PySparkException):
        return None
    condition = exc.getCondition()
    return condition.split(".", 1)[0] if condition else None


def _lost_merge_source(exc: BaseException) -> bool:
    """A MERGE that lost a commit race can surface as its materialised source's cache block
    gone missing (Delta releases the source after the failed attempt, then a retry inside
    the MERGE reads it): seen with OPTIMIZE committing beside a MERGE. Nothing was committed,
    so it is the same lost race. Spark gives that failure no condition of its own."""
    text = str(exc)
    return "Block rdd_" in text and "does not exist" in text


def is_conflict(exc: BaseException) -> bool:
    return (
        isinstance(exc, RETRIED)
        or condition_of(exc) in CONFLICT_CONDITIONS
        or _lost_merge_source(exc)
    )


def retry_on_conflict(what: str, step: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Run `step`; when another writer committed first, wait a little and run it again.

    Gives up with ConcurrentRunError after `attempts`, saying which table is contended.
    """
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except Exception as exc:
            if not is_conflict(exc):
                raise
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if attempt == attempts:
                raise ConcurrentRunError(
                    f"another run holds {what}: still conflicting after {attempts} attempts "
                    f"({type(exc).__name__}); rerun this date when the other run has finished"
                ) from exc
            log.warning(
                "%s: a concurrent run committed first (%s); retry %d of %d",
                what,
                first_line[:200],
                attempt,
                attempts - 1,
            )
            time.sleep(min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")
