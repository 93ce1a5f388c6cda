"""Print every gold table: `spark-submit jobs/show_gold.py [--config F] [--warehouse W]`."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from lakehouse.cli import show_gold_main
except ModuleNotFoundError as missing:
    if missing.name != "lakehouse":  # a dependency missing: said as it is, not hidden
        raise
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # a plain checkout
    from lakehouse.cli import show_gold_main

if __name__ == "__main__":
    sys.exit(show_gold_main())
