"""A Docker engine of the tests' own, started and stopped by PID.

``dockerd`` runs on a socket, data root, exec root and pid file under one temporary
directory, with no bridge and no iptables rules: every build and every container uses the
host's network (``--network host``), so all traffic stays on 127.0.0.1 and nothing on the
machine's own network configuration changes. Stopping the engine removes everything it
built, because everything it built lives under that directory.

The CLI is Debian's ``/usr/bin/docker`` with ``DOCKER_BUILDKIT=1`` (Debian's engine is
20.10, whose default builder is still the classic one; BuildKit is built into it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's docker.io CLI, whatever else is first on PATH
START_TIMEOUT_S = 60.0


class EngineError(AssertionError):
    """The engine could not start, or a docker command failed; the message holds its output."""


@dataclass(frozen=True)
class Build:
    """One finished ``docker build``."""

    tag: str
    seconds: float
    returncode: int
    output: str


@dataclass
class Container:
    """A detached container on the host network, ended with ``docker stop`` or removed at the end."""

    engine: Engine
    name: str
    stopped: bool = False
    exit_code: int | None = None
    logs: str = ""

    def running(self) -> bool:
        """Whether the container's process is still running."""
        state = self.engine.docker("inspect", "-f", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def wait_http(self, url: str, timeout: float = 60) -> None:
        """Wait until ``url`` answers below 500; fail with the container's output if it exits first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                pass
            if not self.running():
                raise EngineError(f"container {self.name} exited:\n{self.read_logs()}")
            if time.monotonic() > deadline:
                raise EngineError(f"{url} did not answer within {timeout}s:\n{self.read_logs()}")
            time.sleep(0.2)

    def processes(self) -> list[tuple[int, str]]:
        """``(uid, command)`` of every process in the container, as the host's ps sees them."""
        # docker top needs the pid column to pick the container's processes out of ps's.
        top = self.engine.docker("top", self.name, "-eo", "pid,uid,args").stdout.splitlines()[1:]
        found = []
        for line in top:
            _pid, uid, command = line.split(None, 2)
            found.append((int(uid), command))
        return found

    def read_logs(self) -> str:
        """The container's stdout and stderr so far."""
        done = self.engine.docker("logs", self.name, check=False)
        return done.stdout + done.stderr

    def stop(self, timeout_s: int = 20) -> int:
        """``docker stop`` (SIGTERM, then SIGKILL after ``timeout_s``); returns the exit code."""
        self.engine.docker("stop", "-t", str(timeout_s), self.name, timeout=timeout_s + 30)
        self.exit_code = int(self.engine.docker("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout)
        self.logs = self.read_logs()
        self.stopped = True
        return self.exit_code


@dataclass
class Engine:
    """A running ``dockerd`` and the CLI pointed at it."""

    root: Path
    process: subprocess.Popen[bytes]
    builds: list[Build] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        """The engine's API socket."""
        return self.root / "docker.sock"

    def cli_env(self) -> dict[str, str]:
        """The environment every docker command runs with: this engine, BuildKit, no user config."""
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self.root),
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(self.root / "cli"),
            "DOCKER_BUILDKIT": "1",
        }

    @classmethod
    def start(cls, root: Path) -> Engine:
        """Start ``dockerd`` under ``root`` and wait until it answers; fail (never skip) if it cannot."""
        for tool in (DOCKERD, DOCKER):
            if not os.access(tool, os.X_OK):
                raise EngineError(f"{tool} is missing: apt-get install docker.io (.ci/run does)")
        config = root / "daemon.json"
        config.write_text("{}\n", encoding="utf-8")  # not the machine's /etc/docker/daemon.json
        log = (root / "dockerd.log").open("wb")
        process = subprocess.Popen(
            [
                DOCKERD,
                "--bridge=none",
                "--iptables=false",
                "--config-file",
                str(config),
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "exec"),
                "--pidfile",
                str(root / "docker.pid"),
                "-H",
                f"unix://{root / 'docker.sock'}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: its containerd is ended with it
        )
        log.close()
        engine = cls(root, process)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise EngineError(f"dockerd exited with {process.returncode}:\n{engine.daemon_log()}")
            if engine.socket.exists() and engine.docker("version", check=False, timeout=10).returncode == 0:
                return engine
            if time.monotonic() > deadline:
                engine.stop()
                raise EngineError(f"dockerd did not answer within {START_TIMEOUT_S}s:\n{engine.daemon_log()}")
            time.sleep(0.2)

    def daemon_log(self, tail: int = 40) -> str:
        """The last lines dockerd wrote."""
        path = self.root / "dockerd.log"
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-tail:])

    def docker(
        self, *args: str, timeout: float = 120, check: bool = True, stdin: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS`` against this engine; with ``check`` a failure raises with its output."""
        with stdin.open("rb") if stdin else open(os.devnull, "rb") as source:
            done = subprocess.run(
                [DOCKER, *args],
                env=self.cli_env(),
                stdin=source,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        result = subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )
        if check and result.returncode != 0:
            raise EngineError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def build(
        self,
        context: Path,
        tag: str,
        *,
        dockerfile: Path | None = None,
        build_args: Mapping[str, str] | None = None,
        timeout: float = 900,
        check: bool = True,
    ) -> Build:
        """``docker build --network host`` with BuildKit; timed and kept in ``builds``."""
        args = ["build", "--network", "host", "--progress", "plain", "-t", tag]
        if dockerfile is not None:
            args += ["-f", str(dockerfile)]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        started = time.monotonic()
        done = self.docker(*args, str(context), timeout=timeout, check=False)
        build = Build(tag, time.monotonic() - started, done.returncode, done.stdout + done.stderr)
        self.builds.append(build)
        if check and build.returncode != 0:
            raise EngineError(f"docker build -t {tag} failed ({build.returncode}):\n{build.output[-6000:]}")
        return build

    def size(self, image: str) -> int:
        """The image's size in bytes, as ``docker image inspect`` reports it."""
        return int(self.docker("image", "inspect", "-f", "{{.Size}}", image).stdout)

    def inspect(self, image: str) -> dict[str, Any]:
        """The image's ``Config`` (Cmd, Entrypoint, Env, User, WorkingDir, ...)."""
        config: dict[str, Any] = json.loads(
            self.docker("image", "inspect", "-f", "{{json .Config}}", image).stdout
        )
        return config

    def run(
        self,
        image: str,
        command: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """``docker run --rm --network host [OPTIONS] IMAGE COMMAND`` to completion."""
        args = ["run", "--rm", "--network", "host", *env_options(env or {}), *options, image, *command]
        return self.docker(*args, timeout=timeout, check=False)

    @contextmanager
    def container(
        self,
        image: str,
        command: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> Iterator[Container]:
        """A detached container on the host network, removed when the block ends."""
        name = f"otel-run-test-{uuid.uuid4().hex[:12]}"
        self.docker(
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            *env_options(env or {}),
            *options,
            image,
            *command,
        )
        started = Container(self, name)
        try:
            yield started
        finally:
            if not started.stopped:
                started.logs = started.read_logs()
            self.docker("rm", "-f", name, check=False)

    def stop(self) -> None:
        """End dockerd (and its containers and containerd) by PID, then delete everything under root."""
        if self.process.poll() is None:
            if self.socket.exists():
                ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False, timeout=120)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # a containerd or shim it left behind
        except (ProcessLookupError, PermissionError):
            pass
        _unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def env_options(env: Mapping[str, str]) -> list[str]:
    """``-e KEY=VALUE`` for each variable."""
    options: list[str] = []
    for key, value in env.items():
        options += ["-e", f"{key}={value}"]
    return options


def _unmount_under(root: Path) -> None:
    """Lazily unmount whatever a killed engine left mounted under ``root`` (deepest first)."""
    prefix = str(root.resolve()) + os.sep
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True, timeout=30)
