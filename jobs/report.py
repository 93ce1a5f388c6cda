"""SLA report entry point: `spark-submit jobs/report.py --run-date D [--format json]`."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from lakehouse.cli import report_main
except ModuleNotFoundError:  # a checkout without `pip install`: use the package beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from lakehouse.cli import report_main

if __name__ == "__main__":
    sys.exit(report_main())
