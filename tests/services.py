"""Real PostgreSQL and Redis servers for end-to-end tests, from Debian's packages.

``.ci/run`` installs ``postgresql`` and ``redis-server``; the session fixtures ``postgres``
and ``redis_server`` start one of each on a free 127.0.0.1 port in a temporary directory
and stop it by PID at the end of the session. Neither depends on, nor touches, a cluster
the distribution may have started on its default port.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps import free_port

DATABASE = "otel"
USER = "otel"
_MISSING = "is not installed: run .ci/run, or apt-get install -y postgresql redis-server"


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server: connect with ``dsn`` (libpq key=value) or ``url``."""

    host: str
    port: int
    user: str
    database: str
    pid: int

    @property
    def dsn(self) -> str:
        """libpq connection string (psycopg, psycopg2)."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.database}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL for psycopg 3."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class Redis:
    """A running Redis server."""

    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        """``redis://`` URL of database 0."""
        return f"redis://{self.host}:{self.port}/0"


def postgres_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/*/bin`` that holds ``initdb`` and ``postgres``."""
    found = [
        Path(path)
        for path in glob.glob("/usr/lib/postgresql/*/bin")
        if os.path.exists(os.path.join(path, "initdb")) and os.path.exists(os.path.join(path, "postgres"))
    ]
    if not found:
        pytest.fail(f"PostgreSQL {_MISSING}")
    return max(found, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)


def _run_as() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: the (uid, gid) of the ``postgres`` user in that case."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root and there is no 'postgres' user to run PostgreSQL as")
    return entry.pw_uid, entry.pw_gid


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def _stop(process: subprocess.Popen[bytes], sig: int) -> None:
    """Stop ``process`` by its PID with ``sig``, then SIGKILL after 15 s."""
    if process.poll() is None:
        os.kill(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _postgres_ready(bindir: Path, port: int, process: subprocess.Popen[bytes]) -> None:
    _wait_for_port(port, process, "postgres")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        probe = subprocess.run(
            [
                str(bindir / "pg_isready"),
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                USER,
                "-d",
                "postgres",
            ],
            timeout=10,
            check=False,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError("postgres did not accept connections within 30s")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for this session, trust auth on 127.0.0.1 only, database ``otel``."""
    bindir = postgres_bindir()
    owner = _run_as()
    base = Path(tempfile.mkdtemp(prefix="otel-run-pg-"))
    data = base / "data"
    if owner is not None:
        os.chown(base, *owner)
    user_args = {"user": owner[0], "group": owner[1], "extra_groups": []} if owner else {}
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
            **user_args,  # type: ignore[arg-type]
        )
        port = free_port()
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(base),  # the Unix socket lives here, not in /var/run/postgresql
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(base / "server.log", "wb"),  # noqa: SIM115 - the server owns it until it ends
            **user_args,  # type: ignore[arg-type]
        )
        try:
            _postgres_ready(bindir, port, process)
            subprocess.run(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE],
                check=True,
                capture_output=True,
                timeout=30,
            )
            yield Postgres("127.0.0.1", port, USER, DATABASE, process.pid)
        finally:
            _stop(process, signal.SIGINT)  # "fast" shutdown: ends sessions, no wait for clients
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    """A Redis server for this session on 127.0.0.1, no persistence."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        pytest.fail(f"redis-server {_MISSING}")
    base = Path(tempfile.mkdtemp(prefix="otel-run-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "redis-server")
        yield Redis("127.0.0.1", port, process.pid)
    finally:
        _stop(process, signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)
