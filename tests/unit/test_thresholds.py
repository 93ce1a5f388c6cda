"""A config's quality thresholds: bad ones are refused by name, before any JVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.config import load_settings
from lakehouse.errors import ConfigError


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("max_quarantined_share:\n  orders: 0.1\n", "unknown source max_quarantined_share.orders"),
        (
            "max_quarantined_share:\n  order_updates: 1.5\n",
            "max_quarantined_share.order_updates must be a number from 0 to 1",
        ),
        ("max_quarantined_share: 0.1\n", "key 'max_quarantined_share' must be a dict"),
    ],
)
def test_bad_thresholds_are_refused_by_name(tmp_path: Path, body: str, message: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"landing: l\nwarehouse: w\n{body}", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(config)
