"""``python -m otel_run``: the same as the ``otel-run`` command."""

from __future__ import annotations

import sys

from otel_run.cli import main

if __name__ == "__main__":
    sys.exit(main())
