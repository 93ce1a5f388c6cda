"""A folder a killed writer abandoned is removed; a folder in use never is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lakehouse.files import local_path, remove_abandoned_folder
from tests.fakes import abandoned_log

IDLE = 10.0


def test_a_folder_holding_only_folders_and_hidden_files_idle_long_enough_is_removed(
    tmp_path: Path,
) -> None:
    log_dir = abandoned_log(tmp_path, idle_for=IDLE + 5)
    assert remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("idle_for", "extra"),
    [
        (IDLE - 5, None),  # a live run's creation: its commit comes in a moment
        (IDLE + 5, "_last_checkpoint"),  # a file that is not temporary: never removed
        (IDLE + 5, "00000000000000000000.json"),
    ],
)
def test_a_folder_in_use_or_holding_a_file_is_left_as_it_is(
    tmp_path: Path, idle_for: float, extra: str | None
) -> None:
    log_dir = abandoned_log(tmp_path, idle_for=idle_for, extra=extra)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert not remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_folder_that_is_not_there_or_holds_a_link_is_left(tmp_path: Path) -> None:
    assert not remove_abandoned_folder(str(tmp_path / "none"), idle_seconds=IDLE)
    log_dir = abandoned_log(tmp_path / "table", idle_for=IDLE + 5)
    link = log_dir / "_staged_commits" / "elsewhere"
    link.symlink_to(tmp_path / "table")
    long_ago = time.time() - IDLE - 5
    for path in (link, link.parent):
        os.utime(path, (long_ago, long_ago), follow_symlinks=False)
    assert not remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert (log_dir / "_staged_commits" / "elsewhere").is_symlink()


@pytest.mark.parametrize(
    ("path", "local"),
    [
        ("/data/wh/_delta_log", "/data/wh/_delta_log"),
        ("file:/data/wh/_delta_log", "/data/wh/_delta_log"),
        ("file:///data/wh/_delta_log", "/data/wh/_delta_log"),
        ("wh/_delta_log", "wh/_delta_log"),
        ("s3a://bucket/wh/_delta_log", None),
        ("abfss://c@account.dfs.core.windows.net/wh", None),
        ("dbfs:/mnt/wh", None),
        ("hdfs://namenode:8020/wh", None),
    ],
)
def test_only_paths_on_this_machine_are_local(path: str, local: str | None) -> None:
    assert local_path(path) == local
