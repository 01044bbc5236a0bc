"""Shared fixtures: a real OTLP receiver on free 127.0.0.1 ports, and app launchers."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ holds helper modules (receiver_fixture, apps) imported by test files.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from receiver_fixture import receiver  # noqa: F401 - re-exported fixture
from services import postgres, redis_server  # noqa: F401 - re-exported session fixtures
