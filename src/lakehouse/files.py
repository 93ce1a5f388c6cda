"""Files and folders as Spark's own file index lists them: the same code on a local disk,
HDFS or object storage, in classic Spark and over Spark Connect (no Hadoop API from Python).
One exception works on the local disk alone: removing a folder a killed writer abandoned."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Sequence
from urllib.parse import unquote

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from lakehouse import conditions


def list_files(spark: SparkSession, pattern: str, *, nested: bool = False) -> list[str]:
    """The files under `pattern` (a path or a Hadoop glob; none when nothing matches), as
    decoded paths, sorted. Names starting with `_` or `.` are left out: Spark's listing leaves
    out most, but keeps a `_` name holding a `=` (`_part=1.csv`), which it takes for a
    partition folder's. Files in a folder below are listed when it is named like a partition
    (`k=v`), or with `nested` whatever its name."""
    return _listing(spark, pattern, nested=nested) or []


def exists(spark: SparkSession, path: str) -> bool:
    """Whether a file or folder is at `path` (a folder holding only hidden files counts)."""
    return _listing(spark, glob_literal(path)) is not None


def _listing(spark: SparkSession, pattern: str, *, nested: bool = False) -> list[str] | None:
    """Spark's own file index (the `binaryFile` source, asked only for its file list: no
    Spark job, no file opened). None: nothing there. The pattern goes in twice: Spark then
    skips its probe for a streaming sink's metadata, which logs a stack trace for every path
    that does not exist."""
    try:
        reader = spark.read.format("binaryFile")
        if nested:
            reader = reader.option("recursiveFileLookup", "true")
        found = reader.load([pattern, pattern]).inputFiles()
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
    local = local_path(path)
    return (path if local is None else local).rstrip("/") or "/"


# A scheme of two letters or more, then a slash: `s3a://b/x`, `dbfs:/x`, `file:/x`.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
# A scheme and no slash after it (`file:x`): a URI with a relative path, which Hadoop's
# paths refuse, and no local path either.
_SCHEME_WITHOUT_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:(?!/)")


def is_uri(path: str) -> bool:
    """A path that names its file system (`s3a://...`, `abfss://...`, `dbfs:/...`,
    `file:/...`): never resolved against a local folder."""
    return bool(_URI.match(path))


def is_relative_uri(path: str) -> bool:
    """`file:x`, `s3a:bucket`: a scheme with no absolute path after it."""
    return bool(_SCHEME_WITHOUT_PATH.match(path))


def local_path(path: str) -> str | None:
    """`path` as this machine's file system names it: a `file:` URI (`file:/x`, `file:///x`,
    `file://localhost/x`), or a path with no scheme; None for another machine's or another
    file system's (HDFS, object storage, DBFS), which Python does not reach. Written out by
    hand: a URI parser would take a `#` or `?` in a folder's name for a fragment or query."""
    if not is_uri(path):
        return path
    scheme, _, rest = path.partition(":")
    if scheme.lower() != "file":
        return None
    if not rest.startswith("//"):
        return rest
    host, _, folder = rest[2:].partition("/")
    return f"/{folder}" if host in ("", "localhost") else None


def remove_abandoned_folder(path: str, *, idle_seconds: float) -> bool:
    """Remove the local folder `path` if it holds nothing but folders and hidden files (a
    writer's temporary ones), no link, and nothing in it has changed for `idle_seconds`: what
    a process killed while starting the folder leaves. A folder in use is left alone: it
    holds a file, or it changed a moment ago.

    The folder is first claimed by renaming it to a hidden name of its own, which only one
    process can do, and looked at again there: if it is not the folder looked at before
    (another process removed that one and has just made it anew) or holds a file now, it is
    put back. Returns whether this call removed it."""
    seen = _abandoned(path, idle_seconds)
    if seen is None:
        return False
    claimed = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}")
    try:
        os.rename(path, claimed)
    except OSError:  # another process claimed it first
        return False
    if _abandoned(claimed, 0) != seen:
        with contextlib.suppress(OSError):  # made anew and written to meanwhile: left aside
            os.rename(claimed, path)
        return False
    shutil.rmtree(claimed, ignore_errors=True)
    return True


def _abandoned(path: str, idle_seconds: float) -> tuple[int, int, int] | None:
    """The folder's identity (device, inode, last change) if it holds nothing but folders
    and hidden files, no link, and nothing under it changed for `idle_seconds`; else None."""
    try:
        if not os.path.isdir(path):  # a link to one is found below
            return None
        newest = 0
        for folder, subfolders, names in os.walk(path, onerror=_raise):
            if any(not n.startswith(".") for n in names):
                return None
            for entry in (folder, *(os.path.join(folder, n) for n in (*names, *subfolders))):
                status = os.lstat(entry)
                if stat.S_ISLNK(status.st_mode):
                    return None
                newest = max(newest, status.st_mtime_ns)
        if time.time_ns() - newest < idle_seconds * 1e9:
            return None
        top = os.lstat(path)
    except OSError:  # removed meanwhile, or not readable
        return None
    return top.st_dev, top.st_ino, top.st_mtime_ns


def _raise(error: OSError) -> None:
    raise error


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
