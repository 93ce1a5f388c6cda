"""Entry points run inside the test session: what they say where the warehouse is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.cli import report_main, restore_main


@pytest.mark.parametrize("empty_run_log_folder", [False, True], ids=["no-folder", "empty-folder"])
@pytest.mark.parametrize(
    ("prog", "entry", "argv"),
    [
        ("report.py", report_main, ["--run-date", "2025-03-01"]),
        ("restore.py", restore_main, ["--to-date", "2025-03-01", "--dry-run"]),
    ],
    ids=["report", "restore"],
)
def test_a_folder_no_daily_run_wrote_is_a_usage_error_naming_its_run_log(
    spark: SparkSession,
    tmp_path: Path,
    prog: str,
    entry: Callable[[list[str]], int],
    argv: list[str],
    empty_run_log_folder: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A folder that is there but holds no warehouse (a path mistyped one level off): exit 2
    and one line, as for any bad command line, not a failure with Spark's trace."""
    run_log = tmp_path / "ops" / "run_log"
    if empty_run_log_folder:
        run_log.mkdir(parents=True)
    assert entry([*argv, "--warehouse", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"{prog}: error: no run log at {run_log}: no daily run has written this warehouse\n"
    )
