"""spark-submit entry point: `spark-submit jobs/daily.py --run-date YYYY-MM-DD [options]`."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from lakehouse.cli import main
except ModuleNotFoundError:  # a checkout without `pip install`: use the package beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main())
