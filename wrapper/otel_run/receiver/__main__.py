"""``python -m otel_run.receiver``: the ``otel-run receive`` command without the main CLI."""

from __future__ import annotations

import sys

from .command import main

if __name__ == "__main__":
    sys.exit(main())
