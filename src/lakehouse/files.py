"""Files and folders as Spark's own file index lists them: the same code on a local disk,
HDFS or object storage, in classic Spark and over Spark Connect (no Hadoop API from Python)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from lakehouse import conditions


def list_files(spark: SparkSession, pattern: str) -> list[str]:
    """The files under `pattern` (a path or a Hadoop glob; none when nothing matches), as
    decoded paths, sorted. Names starting with `_` or `.` are left out: Spark's listing leaves
    out most, but keeps a `_` name holding a `=` (`_part=1.csv`), which it takes for a
    partition folder's."""
    return _listing(spark, pattern) or []


def exists(spark: SparkSession, path: str) -> bool:
    """Whether a file or folder is at `path` (a folder holding only hidden files counts)."""
    return _listing(spark, glob_literal(path)) is not None


def _listing(spark: SparkSession, pattern: str) -> list[str] | None:
    """Spark's own file index (the `binaryFile` source, asked only for its file list: no
    Spark job, no file opened). None: nothing there. The pattern goes in twice: Spark then
    skips its probe for a streaming sink's metadata, which logs a stack trace for every path
    that does not exist."""
    try:
        found = spark.read.format("binaryFile").load([pattern, pattern]).inputFiles()
    except AnalysisException as exc:
        if conditions.is_missing_path(exc):
            return None
        raise
    paths = {unquote(f) for f in found}
    return sorted(p for p in paths if not _hidden(p))


def _hidden(path: str) -> bool:
    return path.rpartition("/")[2].startswith(("_", "."))


def folder_key(path: str) -> str:
    """A folder as one string however it is spelled: the file index says `file:///x`, the
    config `/x`."""
    path = path.rstrip("/")
    for prefix in ("file://", "file:"):
        if path.startswith(prefix):
            return path[len(prefix) :] or "/"
    return path


_GLOB_CHARS = re.compile(r"([\\\[\]{}*?^,])")


def glob_literal(path: str) -> str:
    """`path` with Hadoop's glob characters escaped: Spark's readers expand globs, so a file
    named `g[1].csv` would otherwise be looked for as `g1.csv` and not be found."""
    return _GLOB_CHARS.sub(r"\\\1", path)


def split_common_parent(paths: Sequence[str]) -> tuple[str, list[str]]:
    """The folder all `paths` lie in, and each path below it: a glob's alternation must not
    begin the pattern, so `{/a/x,/a/y}` is written `/a/{x,y}`."""
    parts = [p.rstrip("/").split("/") for p in paths]
    shared = 0
    while shared < min(len(p) for p in parts) - 1 and len({p[shared] for p in parts}) == 1:
        shared += 1
    return "/".join(parts[0][:shared]), ["/".join(p[shared:]) for p in parts]
