"""The startup line names the instrumentations active now and counts those armed for later imports."""

from __future__ import annotations

import json
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from apps import otlp_env, run, run_script, startup_lines
from otel_run.receiver import Receiver


def _installed() -> set[str]:
    return {entry.name for entry in entry_points(group="opentelemetry_instrumentor")}


@pytest.mark.timeout(60)
def test_startup_line_names_active_and_counts_the_rest(receiver: Receiver, tmp_path: Path) -> None:
    """For a bare script nothing is active yet (the SDK waits for the first telemetry, and so do
    asyncio, logging and threading); every installed instrumentor is counted. A script whose
    modules are imported before the boot ends (none here) would be named."""
    result = run_script("pass\n", otlp_env(receiver), tmp_path)
    assert result.returncode == 0, result.stderr
    lines = startup_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    found = re.search(r"; instrumenting none yet \((\d+) on import\)$", lines[0])
    assert found, lines[0]
    assert int(found.group(1)) == len(_installed())
    assert "could not be loaded" not in result.stderr and "failed" not in result.stderr


ASYNCIO_APP = """
import asyncio

async def checkout_total():
    await asyncio.sleep(0)
    return 3

async def main():
    return await asyncio.create_task(checkout_total())

print(asyncio.run(main()))
"""


@pytest.mark.timeout(60)
def test_asyncio_instrumentation_is_active(receiver: Receiver, tmp_path: Path) -> None:
    """asyncio is imported while wrapt, which its instrumentor needs, is half imported: the
    instrumentor is enabled once wrapt is complete, and traces the coroutines it is asked to."""
    env = otlp_env(receiver, OTEL_PYTHON_ASYNCIO_COROUTINE_NAMES_TO_TRACE="checkout_total")
    result = run_script(ASYNCIO_APP, env, tmp_path)
    assert result.returncode == 0 and result.stdout == "3\n", result.stderr
    assert receiver.store.wait_for(
        lambda store: any(s.name == "asyncio coro-checkout_total" for s in store.spans()), 10
    ), [s.name for s in receiver.store.spans()]


@pytest.mark.timeout(60)
def test_doctor_lists_every_instrumentation_the_line_counts(receiver: Receiver) -> None:
    """The full list the startup line leaves out is in doctor: every installed instrumentor."""
    done = run(["doctor", "--json"], otlp_env(receiver), timeout=30)
    report = json.loads(done.stdout)
    assert set(report["instrumentation"]["instrumented"]) == _installed(), done.stdout[-2000:]
    text = " ".join(run(["doctor"], otlp_env(receiver), timeout=30).stdout.split())  # unwrapped
    assert "instrumented on import: " in text and " django, " in text and " grpc_server, " in text
