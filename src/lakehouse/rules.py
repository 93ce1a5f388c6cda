"""Validity rules as Column expressions with reasons, and the orders that rank records."""

from __future__ import annotations

from pyspark.sql import Column as SparkColumn
from pyspark.sql import functions as F

from lakehouse import sql
from lakehouse.sources import Column, Kind, Source
from lakehouse.tables import INGEST_DATE, RECORD_HASH, SOURCE_FILE, SPARK_TYPES

# Java's regular expressions (Spark's `rlike`): each ends in `\z`, the end of the text, since
# `$` also matches before a final line break, which Spark's casts then ignore.
_INT = r"^[+-]?[0-9]+\z"
_DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\z"
_OVER_TWO_FRACTIONAL_DIGITS = r"\.[0-9]{3,}\z"
_TS_MINUTES = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}\z"
_TS_SECONDS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}\z"


def _blank(value: SparkColumn) -> SparkColumn:
    """No value, or whitespace alone: tabs and line breaks too, not only the spaces `trim`
    takes off."""
    return value.isNull() | value.rlike(r"^\s*$")


def _first_failure(*checks: tuple[SparkColumn, str]) -> SparkColumn:
    """The reason of the first check that fails, else null (one reason per column)."""
    expr = F.when(checks[0][0], F.lit(checks[0][1]))
    for failed, reason in checks[1:]:
        expr = expr.when(failed, F.lit(reason))
    return expr


def parse_timestamp(raw: SparkColumn) -> SparkColumn:
    """`YYYY-MM-DD HH:MM[:SS]`, space or `T`; anything else (Feb 30 included) is null, and so
    is the year 0000: Spark would take it as 1 BC, which Python, pandas and Arrow's dates do
    not hold, so years run from 0001 to 9999."""
    value = F.trim(raw)
    text = F.regexp_replace(value, "T", " ")
    return (
        F.when(value.startswith("0000"), F.lit(None).cast("timestamp"))
        .when(value.rlike(_TS_SECONDS), F.try_to_timestamp(text, F.lit("yyyy-MM-dd HH:mm:ss")))
        .when(value.rlike(_TS_MINUTES), F.try_to_timestamp(text, F.lit("yyyy-MM-dd HH:mm")))
    )


def parse_value(column: Column, raw: SparkColumn) -> SparkColumn:
    """The typed value of a raw string; null where the rules reject it."""
    value = F.trim(raw)
    if column.kind is Kind.KEY:
        return F.when(value.rlike(_INT), value.try_cast(SPARK_TYPES[Kind.KEY]))
    if column.kind is Kind.DECIMAL:
        return F.when(
            value.rlike(_DECIMAL) & ~value.rlike(_OVER_TWO_FRACTIONAL_DIGITS),
            value.try_cast(SPARK_TYPES[Kind.DECIMAL]),
        )
    if column.kind is Kind.TIMESTAMP:
        return parse_timestamp(raw)
    if column.kind is Kind.FLAG:
        return F.when(_blank(raw), F.lit(False)).otherwise(
            F.when(F.lower(value) == "true", F.lit(True)).when(
                F.lower(value) == "false", F.lit(False)
            )
        )
    return no_empty_text(raw)


def no_empty_text(raw: SparkColumn) -> SparkColumn:
    """Text as it arrived, but an empty value is no value: CSV has no null, so an empty field
    (quoted or not) is read as null, and a JSON `""` means the same."""
    return F.nullif(raw, F.lit(""))


def failure_reason(column: Column, raw: SparkColumn) -> SparkColumn | None:
    """`<column>: <rule>` for the first rule the raw value breaks, else null."""
    name = column.name
    value = F.trim(raw)
    if column.kind is Kind.KEY:
        return _first_failure(
            (_blank(raw), f"{name}: missing"),
            (~value.rlike(_INT), f"{name}: not an integer"),
            (value.try_cast("int").isNull(), f"{name}: integer out of range"),
        )
    if column.kind is Kind.DECIMAL:
        number = value.try_cast("decimal(38,10)")
        return _first_failure(
            (_blank(raw), f"{name}: missing"),
            (~value.rlike(_DECIMAL), f"{name}: not a decimal"),
            (value.rlike(_OVER_TWO_FRACTIONAL_DIGITS), f"{name}: more than two fractional digits"),
            (number < F.lit(0), f"{name}: negative"),
            (value.try_cast(SPARK_TYPES[Kind.DECIMAL]).isNull(), f"{name}: out of range"),
        )
    if column.kind is Kind.TIMESTAMP:
        return _first_failure(
            (_blank(raw), f"{name}: missing"),
            (
                ~(value.rlike(_TS_MINUTES) | value.rlike(_TS_SECONDS)),
                f"{name}: not a timestamp (YYYY-MM-DD HH:MM[:SS])",
            ),
            (parse_timestamp(raw).isNull(), f"{name}: no such date or time"),
        )
    if column.kind is Kind.REQUIRED_TEXT:
        return _first_failure((_blank(raw), f"{name}: empty"))
    if column.kind is Kind.FLAG:
        return _first_failure(
            (
                ~_blank(raw) & ~F.lower(value).isin("true", "false"),
                f"{name}: not true or false",
            )
        )
    return None


def record_reason(source: Source, parse_error: SparkColumn) -> SparkColumn:
    """Why a bronze row is bad, or null when it is valid.

    A row that could not be parsed carries only that reason; otherwise every failing column
    is listed, in schema order, separated by '; '.
    """
    reasons = [
        r for c in source.columns if (r := failure_reason(c, F.col(sql.ident(c.name)))) is not None
    ]
    joined = F.concat_ws("; ", *reasons)
    return F.when(parse_error.isNotNull(), parse_error).when(joined != F.lit(""), joined)


def rank_chain(source: Source) -> list[tuple[str, bool]]:
    """The columns that rank a key's records, first decides first, each with whether the
    higher value wins. Mutable sources: latest by their order column (`updated_at`), then
    later ingest date, then later file name. Immutable events: earliest ingest date, then
    earliest file name. The record fingerprint last makes the order total, so no
    partitioning can change the pick. Both the window that ranks a day's rows (`rank_order`)
    and the MERGE condition against stored rows (`outranks`) read it."""
    if source.mutable:
        return [(c, True) for c in (source.order_column, INGEST_DATE, SOURCE_FILE, RECORD_HASH)]
    return [(c, False) for c in (INGEST_DATE, SOURCE_FILE, RECORD_HASH)]


def rank_order(source: Source) -> list[SparkColumn]:
    """The rank chain as a window's order: the winner first."""
    return [F.col(c).desc() if higher else F.col(c).asc() for c, higher in rank_chain(source)]


def outranks(source: Source, new: str, old: str) -> str:
    """Whether the record aliased `new` beats the stored one aliased `old` (strictly), as SQL:
    the condition of silver's MERGE, and (through `F.expr`) of its joins."""
    result: str | None = None
    for name, higher_wins in reversed(rank_chain(source)):
        a, b = sql.column(name, new), sql.column(name, old)
        beats = f"{a} {'>' if higher_wins else '<'} {b}"
        result = beats if result is None else f"{beats} OR ({a} = {b} AND ({result}))"
    assert result is not None
    return result
