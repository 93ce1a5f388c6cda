"""Named errors, so a caller (and a user) can tell what went wrong."""

from __future__ import annotations

from datetime import date


class LakehouseError(Exception):
    """Base of every error the job raises on purpose."""


class UsageError(LakehouseError):
    """A bad command line or config: the job exits 2 with this message, before Spark starts."""


class NoRunLogError(UsageError):
    """The warehouse named has no run log: no daily run wrote there, so there is nothing to
    report on or restore (most often a mistyped `--warehouse`)."""

    def __init__(self, where: str) -> None:
        super().__init__(f"no run log at {where}: no daily run has written this warehouse")


class InvalidRunDateError(UsageError):
    """A run date that is not a real calendar date in YYYY-MM-DD form."""

    def __init__(self, text: str) -> None:
        super().__init__(f"invalid run date {text!r}: expected a real date as YYYY-MM-DD")
        self.text = text


class ConfigError(UsageError):
    """A config file that cannot be read, or a key that is unknown, missing or mistyped."""


class MissingColumnsError(LakehouseError):
    """A DataFrame handed to a transform lacks columns the transform needs."""

    def __init__(self, where: str, missing: list[str]) -> None:
        super().__init__(f"{where}: missing column(s): {', '.join(sorted(missing))}")
        self.missing = sorted(missing)


class InjectedFault(LakehouseError):
    """Raised by the test-only fault hook (`LAKEHOUSE_FAULT_AT`) to simulate a crash."""


class ReconciliationError(LakehouseError):
    """Row counts of a run do not add up: a landed row would be lost or counted twice."""


class QualityThresholdError(LakehouseError):
    """A source's share of quarantined rows is over its configured threshold."""


class NoSessionError(LakehouseError):
    """No Spark to run in: the local JVM did not start, or the Spark Connect server did not
    give a session. Said in one line of the job's log: a traceback of the client's retries
    tells less."""


class ConcurrentRunError(LakehouseError):
    """Another run kept winning the commit race on a table; rerunning later is safe."""


class TableCreationInProgressError(LakehouseError):
    """Another run is creating this table at this moment: its log folder exists, its first
    commit not yet. A lost race like a commit conflict, so the step is retried."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path}: another run is creating this table (its _delta_log has no commit yet); "
            "if no other run is going, a creation was interrupted: remove that folder"
        )
        self.path = path


class SilverMovedError(LakehouseError):
    """Another writer committed to a silver table between the step's look at it and its own
    commit, so what the step decided from that look may be stale: a lost race, retried.
    `moved_off`: the event dates the step's own commit moved events off, which the step run
    again can no longer see."""

    def __init__(
        self, path: str, seen: int, now: int, moved_off: frozenset[date] = frozenset()
    ) -> None:
        super().__init__(
            f"{path}: another run committed while this step wrote (saw version {seen}, "
            f"now {now}); the step is computed again"
        )
        self.moved_off = moved_off


class NotADeltaTableError(LakehouseError):
    """A table's folder holds files but no Delta log: the job will not create a table over
    them (a later VACUUM would delete what is not the table's)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} holds files but is not a Delta table: refusing to create a table there "
            "(move them away, or point the warehouse elsewhere)"
        )
        self.path = path


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (Spark's run on with plans and stack traces), or
    its type's name when it says nothing: what one line of the job's log can hold."""
    return next(iter(str(exc).strip().splitlines()), "") or type(exc).__name__
