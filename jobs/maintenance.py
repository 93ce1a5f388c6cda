"""Table maintenance: `spark-submit jobs/maintenance.py [--retain-hours 168] [--no-vacuum]`."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from lakehouse.cli import maintenance_main
except ModuleNotFoundError as missing:
    if missing.name != "lakehouse":  # a dependency missing: said as it is, not hidden
        raise
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # a plain checkout
    from lakehouse.cli import maintenance_main

if __name__ == "__main__":
    sys.exit(maintenance_main())
