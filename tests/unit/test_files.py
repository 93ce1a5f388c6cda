"""A folder a killed writer abandoned is removed; a folder in use never is."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lakehouse.files import (
    folder_key,
    is_relative_uri,
    is_uri,
    local_path,
    remove_abandoned_folder,
)
from tests.fakes import abandoned_log, last_changed

IDLE = 10.0


def tree(root: Path) -> list[tuple[str, int]]:
    """Every entry under `root` with its inode: what must stay as it was."""
    return sorted((str(p.relative_to(root)), p.lstat().st_ino) for p in root.rglob("*"))


def test_a_folder_holding_only_folders_and_hidden_files_idle_long_enough_is_removed(
    tmp_path: Path,
) -> None:
    log_dir = abandoned_log(tmp_path, idle_for=IDLE + 5)
    assert remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "extra",
    [
        "_last_checkpoint",  # a file that is not temporary: never removed
        "00000000000000000000.json",
        "_staged_commits/00000000000000000000.4f2a.json",
    ],
)
def test_a_folder_holding_a_file_is_left_as_it_is(tmp_path: Path, extra: str) -> None:
    log_dir = abandoned_log(tmp_path, idle_for=IDLE + 5, extra=extra)
    before = tree(tmp_path)
    assert not remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert tree(tmp_path) == before


def test_a_folder_changed_a_moment_ago_anywhere_in_it_is_left_as_it_is(tmp_path: Path) -> None:
    """A live run's creation: its commit comes in a moment."""
    log_dir = abandoned_log(tmp_path, idle_for=IDLE + 5)
    last_changed(log_dir / "_staged_commits", IDLE - 5)
    before = tree(tmp_path)
    assert not remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert tree(tmp_path) == before


def test_a_folder_that_is_not_there_is_a_link_or_holds_a_link_is_left(tmp_path: Path) -> None:
    assert not remove_abandoned_folder(str(tmp_path / "none"), idle_seconds=IDLE)
    log_dir = abandoned_log(tmp_path / "table", idle_for=IDLE + 5)
    (log_dir / "_staged_commits" / "elsewhere").symlink_to(tmp_path / "table")
    (tmp_path / "linked").symlink_to(log_dir)
    last_changed(tmp_path, IDLE + 5)
    before = tree(tmp_path)
    assert not remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert not remove_abandoned_folder(str(tmp_path / "linked"), idle_seconds=IDLE)
    assert tree(tmp_path) == before


def test_a_folder_made_anew_between_the_look_and_the_removal_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process removed the abandoned folder after this one looked at it, and a
    creating run has just made it again: the new folder stays where its run expects it."""
    log_dir = abandoned_log(tmp_path, idle_for=IDLE + 5)
    rename = os.rename

    def remade_first(src: str, dst: str) -> None:
        if not remade:
            shutil.rmtree(log_dir)
            (log_dir / "_staged_commits").mkdir(parents=True)
            remade.extend(tree(tmp_path))
        rename(src, dst)

    remade: list[tuple[str, int]] = []
    monkeypatch.setattr(os, "rename", remade_first)
    assert not remove_abandoned_folder(str(log_dir), idle_seconds=IDLE)
    assert tree(tmp_path) == remade


@pytest.mark.parametrize(
    ("path", "local"),
    [
        ("/data/wh/_delta_log", "/data/wh/_delta_log"),
        ("file:/data/wh/_delta_log", "/data/wh/_delta_log"),
        ("file:///data/wh/_delta_log", "/data/wh/_delta_log"),
        ("file://localhost/data/wh", "/data/wh"),
        ("file://otherhost/data/wh", None),
        ("FILE:/data/wh", "/data/wh"),
        ("file:/data/a#b?c/wh", "/data/a#b?c/wh"),  # characters a URI parser would split at
        ("wh/_delta_log", "wh/_delta_log"),
        ("s3a://bucket/wh/_delta_log", None),
        ("abfss://c@account.dfs.core.windows.net/wh", None),
        ("dbfs:/mnt/wh", None),
        ("hdfs://namenode:8020/wh", None),
    ],
)
def test_only_paths_on_this_machine_are_local(path: str, local: str | None) -> None:
    assert local_path(path) == local


@pytest.mark.parametrize(
    ("path", "uri", "relative_uri"),
    [
        ("s3:/bucket/x", True, False),
        ("S3A://bucket/x", True, False),
        ("dbfs:/mnt/x", True, False),
        ("file:relative", False, True),  # refused: Hadoop's paths cannot take it
        ("backup:2024/x", False, True),
        ("C:/data", False, False),  # a one-letter scheme is a drive letter
        ("~/data", False, False),
        ("data/x:y", False, False),
    ],
)
def test_a_path_names_its_file_system_by_a_scheme_and_a_slash(
    path: str, uri: bool, relative_uri: bool
) -> None:
    assert (is_uri(path), is_relative_uri(path)) == (uri, relative_uri)


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("file:///data/wh/", "/data/wh"),
        ("file:/data/wh", "/data/wh"),
        ("file://localhost/data/wh", "/data/wh"),
        ("/data/wh/", "/data/wh"),
        ("s3a://bucket/wh/", "s3a://bucket/wh"),
        ("file:/", "/"),
    ],
)
def test_a_folder_has_one_key_however_it_is_spelled(path: str, key: str) -> None:
    assert folder_key(path) == key
