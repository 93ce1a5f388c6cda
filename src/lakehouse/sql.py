"""SQL text for the statements that reach Delta the same way in classic Spark and over Spark
Connect (MERGE, CREATE, RESTORE, OPTIMIZE, VACUUM, DESCRIBE): Delta's Python `DeltaTable`
API needs a server plugin over Connect, its SQL only Delta's SQL extension.

Text is built here only from identifiers the code declares, paths from the validated config,
and parsed values (`int`, `bool`, `date`): each is quoted or rendered by the one function for
its kind, so no raw input ever becomes SQL syntax.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from pyspark.sql import Column
from pyspark.sql import functions as F


def ident(name: str) -> str:
    """An identifier (a column, a view, a path) quoted so that any character stays a name."""
    return "`" + name.replace("`", "``") + "`"


def column(name: str, alias: str | None = None) -> str:
    return f"{alias}.{ident(name)}" if alias else ident(name)


def delta_table(path: str) -> str:
    """The table at `path`, addressed as Delta's SQL does (no metastore needed)."""
    return f"delta.{ident(path)}"


def literal(value: bool | int | date | str) -> str:
    """A parsed value as a SQL literal; strings with every quote and backslash escaped."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, datetime):
        raise TypeError("timestamps are not rendered as SQL here")
    if isinstance(value, date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def date_value(day: date) -> Column:
    """A date as a Column. PySpark's own conversion of a `date` writes a year before 1000
    unpadded (`202-03-01`), which the JVM refuses; ISO text cast to DATE holds every year."""
    return F.lit(day.isoformat()).cast("date")


def all_of(conditions: Iterable[str]) -> str:
    parts = [f"({c})" for c in conditions]
    return " AND ".join(parts) if parts else "TRUE"


def null_safe_equal(columns: Sequence[str], new: str, old: str) -> str:
    """Every column equal between the rows aliased `new` and `old`, nulls equal to nulls."""
    return all_of(f"{column(c, new)} <=> {column(c, old)}" for c in columns)


def in_list(name: str, values: Iterable[bool | int | date | str], alias: str | None = None) -> str:
    rendered = sorted({literal(v) for v in values})
    if not rendered:
        return "FALSE"
    return f"{column(name, alias)} IN ({', '.join(rendered)})"
