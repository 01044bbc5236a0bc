"""Shared fixtures: a real OTLP receiver on free 127.0.0.1 ports, and app launchers."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

# tests/ holds helper modules (receiver_fixture, apps) imported by test files.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from receiver_fixture import receiver  # noqa: F401 - re-exported fixture
from services import postgres, redis_server  # noqa: F401 - re-exported session fixtures


def _still_ignored(signum: int, frame: FrameType | None) -> None:
    """The runner goes on ignoring the signal, as it was started to."""


def _children_start_with_default_signals() -> None:
    """A runner started in the background (``cmd &``, ``nohup``) ignores SIGINT, SIGQUIT or
    SIGHUP, and an ignored signal stays ignored through ``exec``: every app the tests start
    would ignore Ctrl-C and SIGHUP, and the signal tests' reference runs (the same command
    without otel-run) would not end as they do from a terminal. A handled signal is reset to
    its default action by ``exec``, so a no-op handler keeps the runner as it was and lets
    its children start as they would anywhere else."""
    for name in ("SIGINT", "SIGQUIT", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, _still_ignored)


_children_start_with_default_signals()
