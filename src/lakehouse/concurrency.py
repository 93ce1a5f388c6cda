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

from lakehouse import conditions
from lakehouse.errors import ConcurrentRunError, SilverMovedError, TableCreationInProgressError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Ours: two runs creating the same table at once; silver moved on between a step's decision
# and its commit.
RETRIED: tuple[type[BaseException], ...] = (TableCreationInProgressError, SilverMovedError)
ATTEMPTS = 6


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, RETRIED) or conditions.is_lost_commit(exc)


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
