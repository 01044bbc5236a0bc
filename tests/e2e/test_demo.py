"""`make demo`'s script on a machine where the usual ports are taken: it works, or says why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_app" / "demo.sh"


def _demo(extra_env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DEMO_OUT": str(tmp_path),
        **extra_env,
    }
    return subprocess.run(
        ["sh", str(DEMO)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False
    )


@pytest.fixture
def port_4318_taken() -> Iterator[int]:
    """Hold the default OTLP/HTTP port (or, if something already does, any port)."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 4318))
    except OSError:
        sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.timeout(120)
def test_demo_picks_free_ports_and_shows_the_cross_service_trace(
    port_4318_taken: int, tmp_path: Path
) -> None:
    """With 4318 taken and no DEMO_* ports named, the demo picks free ports and prints the
    storefront → inventory trace tree."""
    done = _demo({}, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kill:" not in done.stderr
    assert "== what the receiver got (otel-run receive) ==" in done.stdout
    lines = done.stdout.splitlines()
    chain = next(i for i, line in enumerate(lines) if line.startswith("  storefront  GET /chain  SERVER"))
    assert any(line.strip().startswith("inventory  GET /items  SERVER") for line in lines[chain:]), (
        done.stdout
    )


@pytest.mark.timeout(60)
def test_demo_with_a_busy_named_port_says_what_and_how_to_fix(port_4318_taken: int, tmp_path: Path) -> None:
    """DEMO_OTLP_PORT naming a busy port fails at once with the receiver's reason and the knob
    to turn, instead of `kill: No such process`."""
    done = _demo({"DEMO_OTLP_PORT": str(port_4318_taken)}, tmp_path)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port_4318_taken}" in done.stderr
    assert "DEMO_OTLP_PORT" in done.stderr
    assert "kill:" not in done.stderr
    assert "No such process" not in done.stderr
