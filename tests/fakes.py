"""Stand-ins for what Spark, Delta or a killed run would leave or raise: no JVM needed."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import Row


class DeltaSays(AnalysisException):
    """Delta's error as the session raises it, classic or over Connect: known by its
    condition."""

    def __init__(self, condition: str) -> None:
        super().__init__(message=f"[{condition}] something")
        self._condition = condition

    def getCondition(self) -> str:
        return self._condition


def abandoned_log(table: Path, *, idle_for: float, extra: str | None = None) -> Path:
    """A table's log folder as a run killed between making it and its first commit leaves
    it (Delta makes `_staged_commits` at once; the commit's temporary file may be begun),
    last changed `idle_for` seconds ago; `extra`: a file that is not hidden, under it."""
    log_dir = table / "_delta_log"
    (log_dir / "_staged_commits").mkdir(parents=True)
    (log_dir / ".00000000000000000000.json.4f2a.tmp").write_text('{"commitInfo"')
    if extra is not None:
        (log_dir / extra).write_text("{}")
    last_changed(log_dir, idle_for)
    return log_dir


def last_changed(folder: Path, seconds_ago: float) -> None:
    """Date everything under `folder`, and the folder, `seconds_ago` (links themselves)."""
    when = time.time() - seconds_ago
    for path in (*folder.rglob("*"), folder):
        os.utime(path, (when, when), follow_symlinks=False)


def session_answering(row: Row | None) -> Any:
    """A session whose every SQL statement returns `row` as its only result row (None: no
    row), with a catalog that drops temporary views."""
    return SimpleNamespace(
        sql=lambda statement: SimpleNamespace(first=lambda: row),
        catalog=SimpleNamespace(dropTempView=lambda name: True),
    )


def frame() -> Any:
    """A DataFrame that can only be named as a temporary view."""
    return SimpleNamespace(createOrReplaceTempView=lambda name: None)
