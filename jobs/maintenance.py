"""Table maintenance: `spark-submit jobs/maintenance.py [--retain-hours 168] [--no-vacuum]`."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from lakehouse.cli import maintenance_main
except ModuleNotFoundError:  # a checkout without `pip install`: use the package beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from lakehouse.cli import maintenance_main

if __name__ == "__main__":
    sys.exit(maintenance_main())
