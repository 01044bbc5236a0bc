"""Processes that are tools, not the app, are not booted (so they keep no live status either)."""

from __future__ import annotations

import pytest

from otel_run.runtime.tools import tool_not_app


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "-m", "otel_run", "status"],
        ["python", "-X", "importtime", "-m", "otel_run", "status"],
        ["python", "-W", "error", "-m", "pip", "install", "x"],
        ["python", "-B", "-c", "from multiprocessing.resource_tracker import main;main(6)"],
        ["/venv/bin/python", "/venv/bin/otel-run", "status"],
    ],
)
def test_tools_are_not_booted(argv: list[str]) -> None:
    """otel-run's own commands, pip, and multiprocessing's resource tracker are tools."""
    assert tool_not_app(argv) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "app.py"],
        ["python", "-X", "dev", "app.py"],
        ["python", "-W", "error", "app.py"],
        ["python", "-B", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=7)"],
        ["/venv/bin/gunicorn", "-w", "2", "app:app"],
    ],
)
def test_apps_are_booted(argv: list[str]) -> None:
    """Apps, including interpreter options with values and spawned workers, are booted."""
    assert tool_not_app(argv) is None
