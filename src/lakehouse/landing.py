"""The landing zone edge: which files arrived on a day, and their rows as raw strings.

Files are listed and CSV headers read through Spark's own readers, so the same code works on
a local disk, HDFS or object storage, in classic Spark and over Spark Connect.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import reduce

from pyspark.errors import IllegalArgumentException
from pyspark.sql import Column, DataFrame, DataFrameReader, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import sql
from lakehouse.errors import first_line
from lakehouse.files import folder_key, glob_literal
from lakehouse.files import list_files as list_paths
from lakehouse.sources import Source
from lakehouse.tables import PARSE_ERROR, RAW_RECORD, SOURCE_FILE

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
_FOLDER = re.compile(r"ingest_date=\d{4}-\d{2}-\d{2}")
_CORRUPT = "_corrupt_record"
_NOT_UTF8 = "_not_utf8"


@dataclass(frozen=True, order=True)
class LandedFile:
    """A data file of one source and day. `name` (not the path) is its identity."""

    name: str
    path: str

    @property
    def is_csv(self) -> bool:
        return self.name.lower().endswith(CSV_SUFFIXES)


def _file_name() -> Column:
    """The name of the file a row came from, as the file system spells it: Spark gives it
    percent-encoded (`a b.csv` as `a%20b.csv`), which would not match the listed name, and
    bronze would load such a file again on every rerun. A `+` stays as it is."""
    return F.url_decode(F.replace(F.col("_metadata.file_name"), F.lit("+"), F.lit("%2B")))


# Hadoop's local file system opens `.<name>.crc` beside every file it reads, and a `:` in the
# name (`orders-10:00.csv`) makes that a path Hadoop refuses ("Relative path in absolute
# URI"). Its raw form reads the file alone; set for the landing's reads only, and uncached,
# so no other read of the session sees it.
_RAW_LOCAL_READ = {
    "fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "fs.file.impl.disable.cache": "true",
}


def _reader(spark: SparkSession, files: list[LandedFile]) -> DataFrameReader:
    """Spark's reader for landed files, whatever their names hold (on a local disk; another
    file system's reads are left as they are)."""
    local = all(f.path.startswith("file:") for f in files)
    return spark.read.options(**_RAW_LOCAL_READ) if local else spark.read


def day_folder(landing: str, source: Source, ingest_date: date) -> str:
    return f"{landing.rstrip('/')}/{source.name}/ingest_date={ingest_date.isoformat()}"


def list_files(
    spark: SparkSession, landing: str, source: Source, ingest_date: date
) -> list[LandedFile]:
    """Data files of one source and day, sorted by name; non-data files are skipped (the
    listing leaves out names starting with `_` or `.` itself)."""
    folder = day_folder(landing, source, ingest_date)
    here = folder_key(folder)
    files: list[LandedFile] = []
    nested: set[str] = set()
    for path in list_paths(spark, glob_literal(folder), nested=True):
        parent, _, name = path.rpartition("/")
        if folder_key(path) == here:  # a file where the day's folder belongs: said below
            continue
        if folder_key(parent) != here:
            nested.add(folder_key(parent).removeprefix(here).strip("/"))
            continue
        if not name.lower().endswith(CSV_SUFFIXES + JSONL_SUFFIXES):
            log.warning(
                "%s: ignoring %s: not %s",
                source.name,
                name,
                ", ".join(CSV_SUFFIXES + JSONL_SUFFIXES),
            )
            continue
        files.append(LandedFile(name=name, path=path))
    for name in sorted(nested):
        log.warning("%s: ignoring folder %s inside a day folder", source.name, name)
    if not files:
        _warn_on_misnamed_folders(spark, landing, source, ingest_date)
    return sorted(files)


def _warn_on_misnamed_folders(
    spark: SparkSession, landing: str, source: Source, ingest_date: date
) -> None:
    """A day with nothing landed: say so where the day's files sit in a folder named other than
    `ingest_date=YYYY-MM-DD` (found by the date in its name: one listing, whatever the
    history)."""
    root = f"{landing.rstrip('/')}/{source.name}"
    pattern = f"{glob_literal(root)}/*{ingest_date.isoformat()}*"
    try:
        found = list_paths(spark, pattern)
    except IllegalArgumentException as exc:
        # Hadoop's glob makes a path of every folder beside the ones it matches, and refuses
        # a name it cannot (one holding a `:`). The look is only a courtesy: the day has
        # nothing, and the run goes on.
        log.warning(
            "%s: could not look for folders named otherwise: %s", source.name, first_line(exc)
        )
        return
    here = folder_key(root)
    ignored = {}
    for path in found:
        parent, _, name = path.rpartition("/")
        if folder_key(parent) == here:  # `ingest_date=D` itself, or `D.csv`, as a file
            ignored[name] = "a file, not an ingest_date=YYYY-MM-DD folder"
        elif not _FOLDER.fullmatch(folder := parent.rpartition("/")[2]):
            ignored[folder] = "not an ingest_date=YYYY-MM-DD folder"
    for name, why in sorted(ignored.items()):
        log.warning("%s: ignoring %s: %s", source.name, name, why)


@dataclass(frozen=True)
class CsvHead:
    """A CSV file's header line, and its size in bytes: a bound on the fields of any line."""

    line: str
    size: int


def first_lines(spark: SparkSession, files: list[LandedFile]) -> dict[str, CsvHead]:
    """The header line and size of each CSV file by file name, in one Spark job: its first
    line that is not empty (BOM and line end stripped), as Spark's CSV reader skips empty lines
    before the header; a file of empty lines has none. Only the first block of each file is
    read, and within it the line read first."""
    if not files:
        return {}
    line = F.regexp_replace("value", "^\ufeff|\r$", "")
    rows = (
        _reader(spark, files)
        .text([glob_literal(f.path) for f in files])
        .where(F.input_file_block_start() == 0)
        .select(
            _file_name().alias("name"),
            line.alias("line"),
            F.col("_metadata.file_size").alias("size"),
            F.monotonically_increasing_id().alias("i"),
        )
        .where(F.col("line") != F.lit(""))
        .groupBy("name")
        .agg(F.min_by("line", "i").alias("line"), F.max("size").alias("size"))
        .collect()
    )
    return {r["name"]: CsvHead(r["line"], r["size"]) for r in rows}


# Spark's CSV parser holds at most `maxColumns` fields a line (20,480 by default) and fails the
# whole read on a line with more, where a line of too many fields is a bad row like any other.
# A line has at most one field more than its file has bytes, so that bound is taken for the
# files' read, up to a cap: the parser allocates its arrays by it, once per file.
_SPARK_MAX_COLUMNS = 20_480
MAX_CSV_FIELDS = 1 << 20


def csv_max_columns(file_sizes: list[int]) -> int:
    """`maxColumns` for reading files of these sizes: enough for any line of theirs (up to
    `MAX_CSV_FIELDS`), and never below Spark's default."""
    return min(max(_SPARK_MAX_COLUMNS, max(file_sizes, default=0) + 1), MAX_CSV_FIELDS)


# A value under a header field or JSON key that is empty: a spreadsheet's trailing empty
# columns hold none, and a value there belongs to no column, so its row is kept whole.
NAMELESS_VALUE = "record: a value under a column with no name"


def is_nameless(name: str) -> bool:
    return not name.strip()


def normalize_name(name: str) -> str:
    """Column names as Delta accepts them: lower case, letters and digits of any script kept,
    runs of other characters as `_`. So `Customer ID` meets `customer_id`, and `電話` and
    `住所` stay two columns; a name of symbols alone is kept as its hex (`#`: `unnamed_23`)."""
    cleaned = re.sub(r"\W+", "_", name.strip().lower()).strip("_")
    return cleaned or "unnamed_" + name.strip().encode().hex()


def parse_header(line: str) -> list[str]:
    """The header's field names as they are written (RFC 4180 quoting honoured)."""
    return next(csv.reader([line]))


def _string_schema(names: list[str]) -> T.StructType:
    return T.StructType([T.StructField(n, T.StringType(), True) for n in names])


def _judged_as_utf8(columns: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Each value's bytes, read one character per byte, taken back and read as UTF-8, with
    `_not_utf8` telling whether any value of the row was not (such a value keeps U+FFFD
    where its bad bytes were, as a UTF-8 reader would show them)."""

    def judge(raw: DataFrame) -> DataFrame:
        arrived = {c: F.encode(F.col(sql.ident(c)), "ISO-8859-1").cast("string") for c in columns}
        not_utf8 = reduce(
            lambda acc, c: acc | ~F.coalesce(F.is_valid_utf8(arrived[c]), F.lit(True)),
            columns,
            F.lit(False),
        )
        return raw.select(
            *[F.make_valid_utf8(arrived[c]).alias(c) for c in columns],
            not_utf8.alias(_NOT_UTF8),
            SOURCE_FILE,
        )

    return judge


def read_csv_group(
    spark: SparkSession,
    source: Source,
    files: list[LandedFile],
    header: list[str],
    max_columns: int,
) -> DataFrame:
    """Rows of CSV files sharing one header, every value a string.

    A line with the wrong number of fields keeps its raw text; a header lacking a schema
    column, or naming one twice, makes every row of its file bad with that reason. A header
    field left empty names no column: a row with a value there is bad. Where a row's values
    have no column each (a name twice, a nameless field), the row is kept whole as text.
    """
    # Reading under the file's own names keeps Spark's header check quiet; positional
    # names stand in where a name would trip Spark: repeated in any case (names resolve
    # case-insensitively), empty, quoted with a backtick, or named like Spark's and the
    # job's own columns (`_metadata`, `_source_file`, `_corrupt_record`: every `_` name).
    unique = len({n.lower() for n in header}) == len(header) and all(
        n and not n.startswith("_") and "`" not in n for n in header
    )
    positional = list(header) if unique else [f"_c{i}" for i in range(len(header))]
    fields = list(zip(positional, header, strict=True))
    nameless = [pos for pos, n in fields if is_nameless(n)]
    named = [(pos, normalize_name(n)) for pos, n in fields if not is_nameless(n)]
    normalized = [name for _, name in named]
    raw = (
        _reader(spark, files)
        .schema(_string_schema([*positional, _CORRUPT]))
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        # Byte for byte: ISO-8859-1 reads each byte as one character, and CSV's commas,
        # quotes and line breaks are the same bytes in UTF-8 (no byte of a multi-byte
        # character is ASCII). Read as UTF-8, a byte that is not UTF-8 would become U+FFFD,
        # which a file may hold as text too.
        .option("encoding", "ISO-8859-1")
        # RFC 4180: a quote inside a quoted field is doubled (Spark's default escape is a
        # backslash), and a quoted field may hold a line break.
        .option("escape", '"')
        .option("multiLine", True)
        .option("maxColumns", max_columns)
        .csv([glob_literal(f.path) for f in files])
        .select("*", _file_name().alias(SOURCE_FILE))
        .transform(_judged_as_utf8([*positional, _CORRUPT]))
    )
    seen: dict[str, str] = {}
    for pos, name in named:
        seen.setdefault(name, pos)
    duplicated = sorted({n for n in normalized if normalized.count(n) > 1})
    missing = [c for c in source.required_columns if c not in seen]
    file_error = None
    if missing:
        file_error = f"file: header lacks column(s) {', '.join(missing)}"
    elif duplicated:
        file_error = f"file: header names column(s) twice: {', '.join(duplicated)}"

    # The reader splits lines by the ending it finds first: a CRLF line in a file that began
    # with LF ones would keep its CR at the end of its last value.
    last = positional[-1]
    values = [
        (
            F.regexp_replace(F.col(sql.ident(pos)), "\r$", "")
            if pos == last
            else F.col(sql.ident(pos))
        ).alias(name)
        for name, pos in seen.items()
    ]
    nameless_value = reduce(
        lambda acc, c: acc | F.col(sql.ident(c)).isNotNull(), nameless, F.lit(False)
    )
    error = (
        F.lit(file_error)
        if file_error
        else F.when(F.col(_CORRUPT).isNotNull(), F.lit("record: wrong number of fields"))
        .when(F.col(_NOT_UTF8), F.lit("record: not valid UTF-8"))
        .when(nameless_value, F.lit(NAMELESS_VALUE))
    )
    whole_row = F.to_csv(F.struct(*[F.col(sql.ident(pos)) for pos in positional]))
    raw_record = (
        whole_row if duplicated else F.coalesce(F.col(_CORRUPT), F.when(nameless_value, whole_row))
    )
    return raw.select(
        *values,
        raw_record.alias(RAW_RECORD),
        error.cast("string").alias(PARSE_ERROR),
        F.col(SOURCE_FILE),
    )


# A JSON number as written (RFC 8259's grammar), right after its key at the object's top level.
# A `"` that opens a key follows `{` or `,` unescaped, which cannot happen inside a string
# (a quote there is always `\"`).
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
# The top level of a line: a nested object or array holding no other is dropped (a string is
# matched whole first, so brackets inside one stay); repeated, the nesting goes innermost out,
# leaving `"key":,` where a nested value was, and a nested key's number out of reach.
_STRING = r'"(?:[^"\\]++|\\.)*+"'
_NESTED = rf'({_STRING})|([:,\[]\s*)[{{\[](?:[^{{}}\[\]"]++|{_STRING})*+[}}\]]'
_MAY_NEST = r"[:,\[]\s*[{\[]"
_TOP_LEVEL = "_top_level"
_KEYS = "_keys"
_PARSED = "_parsed"
# A line is one JSON object and nothing else (RFC 8259), checked on its top level: Spark's JSON
# parser stops after the first value, so `{..}{..}` and `{..} junk` would pass it. A member's
# value is empty where `_top_level` dropped a nested one.
_WS = r"[ \t\r\n]*"
_MEMBER = rf"{_STRING}{_WS}:{_WS}(?:{_STRING}|{_NUMBER}|true|false|null)?{_WS}"
_ONE_OBJECT = rf"^\ufeff?{_WS}\{{{_WS}(?:{_MEMBER}(?:,{_WS}{_MEMBER})*+)?\}}{_WS}$"
UNPARSEABLE_JSON = "record: unparseable JSON"


def _top_level(line: Column) -> Column:
    """The line with every nested object and array dropped, innermost first, however deep.
    Each pass drops every innermost level; from the first pass that changed nothing on, the
    rest only carry the result. The passes are as many as the line's brackets outside its
    strings, a bound on its levels (brackets inside strings, which no pass drops, would make
    a long escaped JSON text cost a pass each)."""
    structure = F.regexp_replace(line, _STRING, "")
    brackets = F.length(structure) - F.length(F.translate(structure, "{[", ""))
    passes = F.sequence(F.lit(1), F.greatest(brackets, F.lit(1)))

    def state(before: Column, text: Column, done: bool) -> Column:
        return F.struct(before.alias("before"), text.alias("text"), F.lit(done).alias("done"))

    def one_pass(now: Column, _: Column) -> Column:
        before, text = now["before"], now["text"]
        return (
            F.when(now["done"], now)
            .when(before.eqNullSafe(text), state(before, text, True))
            .otherwise(state(text, F.regexp_replace(text, _NESTED, "$1$2"), False))
        )

    start = state(F.lit(None).cast("string"), line, False)
    stripped = F.aggregate(passes, start, one_pass, lambda last: last["text"])
    return F.when(line.rlike(_MAY_NEST), stripped).otherwise(line)


# A character of a JSON string written by its short escape as well as by `\uXXXX`.
_SHORT_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "\b": "b",
    "\f": "f",
    "\n": "n",
    "\r": "r",
    "\t": "t",
}


def _spelled(key: str) -> str:
    r"""A pattern for `key` as a JSON string may write it: each character as itself or escaped
    (`order\u005ftotal` is `order_total`), hex digits in either case."""

    def hex_unit(unit: int) -> str:
        return "\\\\u" + "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{unit:04x}")

    parts = []
    for ch in key:
        code = ord(ch)
        units = [code] if code < 0x10000 else [0xD7C0 + (code >> 10), 0xDC00 | (code & 0x3FF)]
        ways = ["".join(hex_unit(u) for u in units)]
        if ch in _SHORT_ESCAPES:
            ways.append("\\\\" + re.escape(_SHORT_ESCAPES[ch]))
        if ch not in '"\\' and code >= 0x20:
            ways.append(ch if ch.isalnum() else "\\" + ch)
        parts.append(f"(?:{'|'.join(ways)})")
    return "".join(parts)


def _as_written(parsed: Column, key: str) -> Column:
    """The value of `key` as its text arrived: `from_json` turns a number into a double first
    (`45.100` -> `45.1`, `45.0000000000000001` -> `45.0`, integers past 2^53 rounded), so a
    number's text is taken from the line's top level itself, the key however it is spelled;
    strings, booleans and nulls are already as written."""
    pattern = rf'[{{,]\s*"{_spelled(key)}"\s*:\s*({_NUMBER})\s*[,}}]'
    number = F.regexp_extract(F.col(_TOP_LEVEL), pattern, 1)
    value = parsed.getItem(key)
    return F.when(value.isNotNull() & (number != F.lit("")), number).otherwise(value)


def read_jsonl(spark: SparkSession, files: list[LandedFile]) -> DataFrame:
    """Rows of JSON Lines files, every value the text it arrived as; a line that is not a JSON
    object keeps its raw text."""
    lines = (
        _reader(spark, files)
        # Lines end at LF alone (a CRLF's CR taken off below): a bare CR is JSON's whitespace
        # between tokens, where Hadoop's default reader would end a line and make one row two.
        .option("lineSep", "\n")
        .text([glob_literal(f.path) for f in files])
        .select(
            F.regexp_replace("value", r"\r\z", "").alias("value"), _file_name().alias(SOURCE_FILE)
        )
        # A blank line, in JSON's whitespace (Hadoop's line reader drops a byte order mark).
        .where(~F.col("value").rlike(rf"^{_WS}\z"))
    )
    found = sorted(
        {
            str(r[0])
            for r in lines.select(F.explode(F.json_object_keys("value"))).distinct().collect()
            if r[0] is not None
        }
    )
    by_name: dict[str, list[str]] = {}
    for key in found:
        if not is_nameless(key):
            by_name.setdefault(normalize_name(key), []).append(key)
    # Each line parsed once: its top level, keys and values as columns the checks below read,
    # not expressions each check would evaluate again.
    staged = lines.select(
        "*",
        _top_level(F.col("value")).alias(_TOP_LEVEL),
        F.json_object_keys("value").alias(_KEYS),
        # A map, not a struct: a key is found by its exact spelling, so keys that differ only
        # in case (`Phone`, `phone`) are two keys, where a struct's fields would resolve
        # ambiguously. Strict where Spark is lenient by default: single quotes are not JSON.
        F.from_json("value", "map<string,string>", {"allowSingleQuotes": "false"}).alias(_PARSED),
    )
    keys, parsed = F.col(_KEYS), F.col(_PARSED)
    values = [
        F.coalesce(*[_as_written(parsed, k) for k in originals]).alias(name)
        for name, originals in by_name.items()
    ]
    trimmed = F.trim("value")
    twice = F.array_distinct(F.filter(keys, lambda k: F.size(F.filter(keys, lambda o: o == k)) > 1))
    error = (
        F.when(~F.is_valid_utf8("value"), F.lit("record: not valid UTF-8"))
        .when(keys.isNull() & trimmed.startswith("{"), F.lit(UNPARSEABLE_JSON))
        .when(
            keys.isNull() & F.json_array_length(trimmed).isNotNull(),
            F.lit("record: JSON value is not an object"),
        )
        .when(
            keys.isNull()
            & trimmed.rlike(r'^(-?[0-9][0-9.eE+-]*|true|false|null|"([^"\\]|\\.)*")$'),
            F.lit("record: JSON value is not an object"),
        )
        .when(keys.isNull(), F.lit(UNPARSEABLE_JSON))
        # Spark's key listing takes lines its parser refuses (a raw tab inside a string).
        .when(parsed.isNull() | ~F.col(_TOP_LEVEL).rlike(_ONE_OBJECT), F.lit(UNPARSEABLE_JSON))
        # Which of two values a key means is anyone's guess (RFC 8259): neither is taken.
        .when(
            F.size(keys) > F.size(F.array_distinct(keys)),
            F.concat(F.lit("record: key named twice: "), F.array_join(twice, ", ")),
        )
    )
    # Two spellings of one column on one line (`tier`, `Tier`) are a key named twice too, as
    # they are in a CSV header: which value the line means is as unclear.
    for originals in (o for o in by_name.values() if len(o) > 1):
        spelled = F.array_sort(F.array_intersect(keys, F.array(*map(F.lit, originals))))
        error = error.when(
            F.size(spelled) > 1,
            F.concat(F.lit("record: key named twice: "), F.array_join(spelled, ", ")),
        )
    for key in (k for k in found if is_nameless(k)):
        error = error.when(
            F.coalesce(parsed.getItem(key), F.lit("")) != F.lit(""), F.lit(NAMELESS_VALUE)
        )
    judged = staged.withColumn(PARSE_ERROR, error)
    bad = F.col(PARSE_ERROR).isNotNull()
    return judged.select(
        *[F.when(~bad, v).alias(str(n)) for v, n in zip(values, by_name, strict=True)],
        F.when(bad, F.make_valid_utf8("value")).alias(RAW_RECORD),
        F.col(PARSE_ERROR),
        F.col(SOURCE_FILE),
    )


def read_files(spark: SparkSession, source: Source, files: list[LandedFile]) -> DataFrame | None:
    """All rows of the given files as strings; None when they hold no rows at all."""
    frames: list[DataFrame] = []
    by_header: dict[tuple[str, ...], list[LandedFile]] = {}
    csv_files = [f for f in files if f.is_csv]
    heads = first_lines(spark, csv_files)
    for f in csv_files:
        head = heads.get(f.name)
        if head is None:
            log.info("%s: %s is empty", source.name, f.name)
            continue
        by_header.setdefault(tuple(parse_header(head.line)), []).append(f)
    for header, group in sorted(by_header.items(), key=lambda kv: kv[1][0].name):
        max_columns = csv_max_columns([heads[f.name].size for f in group])
        frames.append(read_csv_group(spark, source, group, list(header), max_columns))
    jsonl = [f for f in files if not f.is_csv]
    if jsonl:
        frames.append(read_jsonl(spark, jsonl))
    if not frames:
        return None
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
