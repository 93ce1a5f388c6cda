"""Files and folders as Spark's own file index lists them: the same code on a local disk,
HDFS or object storage, in classic Spark and over Spark Connect (no Hadoop API from Python).
One exception works on the local disk alone: removing a folder a killed writer abandoned."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
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


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def local_path(path: str) -> str | None:
    """`path` as this machine's file system names it; None for another file system's (HDFS,
    object storage, DBFS), which Python does not reach."""
    if path.startswith("file:"):
        return folder_key(path)
    return None if _SCHEME.match(path) else path


def remove_abandoned_folder(path: str, *, idle_seconds: float) -> bool:
    """Remove the local folder `path` if it holds nothing but folders and hidden files (a
    writer's temporary ones) and nothing in it has changed for `idle_seconds`: what a
    process killed while starting the folder leaves. A folder in use is left alone: it holds
    a file, or it changed a moment ago, or a writer puts a file in it before it is removed
    (`rmdir` refuses a folder that is not empty). Returns whether this call removed it."""
    try:
        found = _abandoned_contents(path)
        if found is None or time.time() - found.newest < idle_seconds:
            return False
        for file in found.hidden_files:
            os.unlink(file)
        for folder in found.folders:  # the deepest first
            os.rmdir(folder)
    except OSError:  # another process removed it first, or a writer came back to it
        return False
    return True


@dataclass(frozen=True)
class _Contents:
    folders: list[str]  # the deepest first
    hidden_files: list[str]
    newest: float  # the latest change to any of them, in seconds since the epoch


def _abandoned_contents(path: str) -> _Contents | None:
    """The folders and hidden files under `path`; None if it is no folder (or a link to one)
    or holds a file that is not hidden."""
    if not os.path.isdir(path) or os.path.islink(path):
        return None
    folders: list[str] = []
    hidden_files: list[str] = []
    newest = os.lstat(path).st_mtime
    for folder, subfolders, names in os.walk(path, topdown=False):
        entries = [os.path.join(folder, n) for n in (*names, *subfolders)]
        if any(not n.startswith(".") for n in names):
            return None  # a link to a folder is listed, not followed: `rmdir` then refuses
        hidden_files += entries[: len(names)]
        folders.append(folder)
        newest = max([newest, *(os.lstat(e).st_mtime for e in entries)])
    return _Contents(folders, hidden_files, newest)


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
