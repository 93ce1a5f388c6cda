"""The Spark and Delta failures the job reacts to, told apart in one place by their error
condition (the same in classic Spark and over Spark Connect), never by message text; the one
exception is named below, with why."""

from __future__ import annotations

from pyspark.errors import PySparkException

# How Spark and Delta say a table is not there, by path or by name.
MISSING_TABLE = frozenset({"DELTA_TABLE_NOT_FOUND", "TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND"})
# Two runs creating one table (or its schema) at the same moment: the loser is told so.
CREATION_RACE = frozenset(
    {
        "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION",
        "DELTA_TABLE_NOT_FOUND",
        "TABLE_OR_VIEW_ALREADY_EXISTS",
        "SCHEMA_ALREADY_EXISTS",
    }
)
# Columns another run added to the table since this run read its schema: Spark says so as
# it plans the ALTER TABLE, Delta when its transaction reads the table anew.
COLUMN_ADDED_MEANWHILE = frozenset({"FIELD_ALREADY_EXISTS", "DELTA_DUPLICATE_COLUMNS_FOUND"})
# A commit that lost to another writer's, or a statement planned on a schema another writer
# has since widened (a run adding a drifted column beside this one's MERGE).
LOST_COMMIT = frozenset(
    {
        "DELTA_SCHEMA_CHANGE_SINCE_ANALYSIS",
        "DELTA_CONCURRENT_APPEND",
        "DELTA_CONCURRENT_DELETE_DELETE",
        "DELTA_CONCURRENT_DELETE_READ",
        "DELTA_CONCURRENT_TRANSACTION",
        "DELTA_CONCURRENT_WRITE",
        "DELTA_METADATA_CHANGED",
        "DELTA_PROTOCOL_CHANGED",
    }
)
_LOST_COMMIT_CLASSES: tuple[type[BaseException], ...] = ()
try:
    # In classic Spark, PySpark raises an error class it does not know as a bare Py4J error;
    # delta-spark's Python package raises Delta's conflicts as its own classes instead, but
    # without their condition. Over Connect (no delta-spark needed) the condition arrives.
    import delta.exceptions as delta_errors

    _LOST_COMMIT_CLASSES = (
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


def condition_of(exc: BaseException) -> str | None:
    """Spark's error condition of `exc` without its sub-condition (`A.B` is `A`)."""
    if not isinstance(exc, PySparkException):
        return None
    condition = exc.getCondition()
    return condition.split(".", 1)[0] if condition else None


def invalid_setting(exc: BaseException) -> str | None:
    """What is wrong with a setting Spark refused (`spark_conf` in the config), or None when
    `exc` is about something else."""
    if condition_of(exc) != "INVALID_CONF_VALUE":
        return None
    assert isinstance(exc, PySparkException)
    given = exc.getMessageParameters() or {}
    name, value, kind = (given.get(k) for k in ("confName", "confValue", "confType"))
    return f"{name}: {value!r} is not a valid value" + (f" (expected {kind})" if kind else "")


def connect_status(exc: BaseException) -> str | None:
    """The gRPC status of a Spark Connect call the server never answered with an error
    condition of its own (`UNAVAILABLE`: nothing answers at the address), else None."""
    status_of = getattr(exc, "getGrpcStatusCode", None)
    if status_of is None or condition_of(exc) is not None:
        return None
    status = status_of()
    return str(getattr(status, "name", status))


def is_missing_table(exc: BaseException) -> bool:
    return condition_of(exc) in MISSING_TABLE


def is_missing_path(exc: BaseException) -> bool:
    return condition_of(exc) == "PATH_NOT_FOUND"


def is_missing_schema(exc: BaseException) -> bool:
    return condition_of(exc) == "SCHEMA_NOT_FOUND"


def is_creation_race(exc: BaseException) -> bool:
    return condition_of(exc) in CREATION_RACE


def is_column_added_meanwhile(exc: BaseException) -> bool:
    return condition_of(exc) in COLUMN_ADDED_MEANWHILE


def _lost_merge_source(exc: BaseException) -> bool:
    """A MERGE that lost a commit race can surface as its materialised source's cache block
    gone missing (Delta releases the source after the failed attempt, then a retry inside
    the MERGE reads it): seen with OPTIMIZE committing beside a MERGE. Nothing was committed,
    so it is the same lost race. Spark gives that failure no condition: the one failure told
    by its text."""
    text = str(exc)
    return "Block rdd_" in text and "does not exist" in text


def is_lost_commit(exc: BaseException) -> bool:
    """Another writer committed first: the step may be computed again from committed data."""
    return (
        isinstance(exc, _LOST_COMMIT_CLASSES)
        or condition_of(exc) in LOST_COMMIT
        or _lost_merge_source(exc)
    )
