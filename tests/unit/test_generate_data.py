"""The benchmark's data generator: deterministic for a seed, in the contract's layout."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from tests.paths import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import generate_data


def _contents(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    kwargs = {"scale": 0.001}
    written = generate_data.generate(tmp_path / "a", date(2025, 1, 1), 3, seed=1, **kwargs)
    generate_data.generate(tmp_path / "b", date(2025, 1, 1), 3, seed=1, **kwargs)
    generate_data.generate(tmp_path / "c", date(2025, 1, 1), 3, seed=2, **kwargs)
    a = _contents(tmp_path / "a")
    assert a == _contents(tmp_path / "b")
    assert a != _contents(tmp_path / "c")
    assert sorted(a) == [
        f"{source}/ingest_date=2025-01-0{d}/{name}"
        for source, name in (
            ("app_events", "events.jsonl"),
            ("crm_customer_updates", "crm.csv"),
            ("order_updates", "orders.csv"),
            ("ticket_events", "tickets.csv"),
        )
        for d in (1, 2, 3)
    ]
    assert written == {
        "app_events": 3000,
        "crm_customer_updates": 300,
        "order_updates": 900,
        "ticket_events": 150,
    }
    crm_rows = sum(len(t.splitlines()) - 1 for k, t in a.items() if k.endswith("crm.csv"))
    assert crm_rows == written["crm_customer_updates"]
