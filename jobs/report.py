"""SLA report entry point: `spark-submit jobs/report.py --run-date D [--format json]`."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from lakehouse.cli import report_main
except ModuleNotFoundError as missing:
    if missing.name != "lakehouse":  # a dependency missing: said as it is, not hidden
        raise
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # a plain checkout
    from lakehouse.cli import report_main

if __name__ == "__main__":
    sys.exit(report_main())
