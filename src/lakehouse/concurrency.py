"""Delta's optimistic concurrency, made usable: retry a step that lost a commit race.

A retry is safe only for a step that recomputes everything it writes from committed data
when called again; every caller here is such a step (see docs/design.md, "Concurrency").
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

from lakehouse import conditions
from lakehouse.errors import (
    ConcurrentRunError,
    SilverMovedError,
    TableCreationInProgressError,
    first_line,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

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
            if attempt == attempts:
                raise ConcurrentRunError(
                    f"another run holds {what}: still conflicting after {attempts} attempts "
                    f"({type(exc).__name__}); rerun this date when the other run has finished"
                ) from exc
            log.warning(
                "%s: a concurrent run committed first (%s); retry %d of %d",
                what,
                first_line(exc)[:200],
                attempt,
                attempts - 1,
            )
            time.sleep(min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")


def at_once(action: Callable[[T], R], items: Iterable[T], *, threads: int) -> list[R]:
    """`action` for every item, `threads` at a time, results in the items' order: for work on
    tables that mostly waits on their logs, files or the catalog. Every item has its turn;
    then the first failure, in the items' order, is raised, and every other one logged."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # not pool.map: its results stop at the first failure and cancel the items not begun
        futures = [pool.submit(action, item) for item in items]
        wait(futures)
    errors = [e for f in futures if (e := f.exception()) is not None]
    for extra in errors[1:]:
        log.error("another one failed too: %s: %s", type(extra).__name__, extra)
    if errors:
        raise errors[0]
    return [f.result() for f in futures]
