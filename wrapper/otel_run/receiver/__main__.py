"""``python -m otel_run.receiver``: the ``otel-run receive`` command without the main CLI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .foreground import run
from .render import DEFAULT_SETTLE


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and call ``run``; returns its exit code."""
    parser = argparse.ArgumentParser(
        prog="otel-run receive", description="Local OTLP receiver: prints traces as trees."
    )
    parser.add_argument(
        "--http", metavar="HOST:PORT", help="OTLP/HTTP address (default 127.0.0.1:4318; 'off')"
    )
    parser.add_argument(
        "--grpc", metavar="HOST:PORT", help="OTLP/gRPC address (default 127.0.0.1:4317; 'off')"
    )
    parser.add_argument(
        "--jsonl", metavar="FILE", help="also append one JSON line per span/log/metric to FILE"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=DEFAULT_SETTLE,
        metavar="SECONDS",
        help=f"print a trace once quiet this long (default {DEFAULT_SETTLE})",
    )
    args = parser.parse_args(argv)
    return run(args.http, args.grpc, args.jsonl, sys.stdout, args.settle)


if __name__ == "__main__":
    sys.exit(main())
