"""The ``otel-run receive`` command line: one parser for ``otel-run receive`` and
``python -m otel_run.receiver``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from .facade import DEFAULT_GRPC, DEFAULT_HTTP
from .foreground import run
from .render import DEFAULT_SETTLE


def parser() -> argparse.ArgumentParser:
    """The argument parser, with every default shown in ``--help``."""
    result = argparse.ArgumentParser(
        prog="otel-run receive",
        description="A local OTLP receiver (HTTP protobuf/JSON and gRPC). Prints traces as trees, "
        "and logs and metrics as a compact summary.",
    )
    for flag, (host, port), what in (
        ("--http", DEFAULT_HTTP, "OTLP/HTTP"),
        ("--grpc", DEFAULT_GRPC, "OTLP/gRPC"),
    ):
        result.add_argument(
            flag, metavar="HOST:PORT", help=f"{what} address, or 'off' (default: {host}:{port})"
        )
    result.add_argument("--no-grpc", action="store_true", help="do not listen for gRPC (same as --grpc off)")
    result.add_argument(
        "--jsonl", metavar="FILE", help="also append every span, log and metric to FILE (default: none)"
    )
    result.add_argument(
        "--settle",
        type=float,
        default=DEFAULT_SETTLE,
        metavar="SECONDS",
        help="print a trace once no span of it arrived for this long (default: %(default)s)",
    )
    result.add_argument("--logs", action="store_true", help="print every log record, not a summary")
    result.add_argument("--metrics", action="store_true", help="print every metrics export, not a summary")
    return result


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Parse ``argv`` and serve until stopped; returns the exit code."""
    options = parser().parse_args(None if argv is None else list(argv))
    return run(
        http=options.http,
        grpc="off" if options.no_grpc else options.grpc,
        jsonl=options.jsonl,
        out=out if out is not None else sys.stdout,
        settle=options.settle,
        show_logs=options.logs,
        show_metrics=options.metrics,
    )
