"""Where the project and its bundled sample are: plain paths, no Spark, for every tier."""

from __future__ import annotations

from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LANDING = ROOT / "data" / "sample" / "landing"
SAMPLE_DATES = [date(2025, 3, d) for d in (1, 2, 3, 4)]
