"""The golden image's layout, reproduced without Docker, runs an unmodified app with telemetry.

``Dockerfile.base`` is parsed, not restated: its build stage's COPY and RUN steps and its
final stage's RUN, ENV, WORKDIR and ENTRYPOINT are replayed in a temporary directory that
stands for the image's root (``/opt/otel-run`` becomes ``<root>/opt/otel-run``, and so on),
with this machine's Python instead of the image's. Two kinds of step are left out: those
that manage users and ownership (``useradd``, ``chown``, ``chgrp``; they need root and
change the machine), and pip's ``--no-cache-dir`` (it keeps image layers small; here the
cache keeps reruns fast). Everything else runs as written, so the test breaks when the
Dockerfile does.

The OpenTelemetry Operator's side (``cp -r /autoinstrumentation/. <mount>``, the
``PYTHONPATH`` and variables it sets) follows its ``pkg/instrumentation/python.go``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apps import REPO, otlp_env, startup_lines
from otel_run.receiver import Receiver

DOCKERFILE = REPO / "Dockerfile.base"
CHILD_DOCKERFILE = REPO / "sample_app" / "Dockerfile"
# Image paths that are the system's, not the image's own: never mapped into the root.
SYSTEM_DIRS = frozenset({"bin", "dev", "etc", "lib", "proc", "run", "sbin", "sys", "tmp", "usr", "var"})
LEFT_OUT = frozenset({"useradd", "groupadd", "usermod", "chown", "chgrp"})

# What the OpenTelemetry Operator does (pkg/instrumentation/python.go).
OPERATOR_SOURCE = "/autoinstrumentation"
OPERATOR_MOUNT = "otel-auto-instrumentation-python"
OPERATOR_SHIM = Path("opentelemetry", "instrumentation", "auto_instrumentation", "sitecustomize.py")

APP = """
import sqlite3, sys
from opentelemetry import trace
with trace.get_tracer("image").start_as_current_span("parent"):
    sqlite3.connect(":memory:").cursor().execute("SELECT 1")
print("sitecustomize", sys.modules["sitecustomize"].__file__)
print("upstream boot loaded", "opentelemetry.instrumentation.auto_instrumentation._load" in sys.modules)
"""


@dataclass
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str


@dataclass
class Stage:
    """A build stage: its FROM line and its instructions."""

    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """The arguments of every ``keyword`` instruction, in order."""
        return [item.args for item in self.instructions if item.keyword == keyword]

    def last(self, keyword: str) -> str:
        """The arguments of the last ``keyword`` instruction (the one in effect)."""
        found = self.all(keyword)
        assert found, f"no {keyword} in stage FROM {self.base}"
        return found[-1]


def parse_dockerfile(path: Path) -> list[Stage]:
    """The stages of a Dockerfile; comment lines inside continuations are dropped, as Docker does."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append(Stage(args.strip()))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args.strip()))
    return stages


def run_flags(args: str) -> tuple[list[str], str]:
    """Split ``RUN --mount=... command`` into its flags and its shell command."""
    flags = []
    while args.startswith("--"):
        flag, _, args = args.partition(" ")
        flags.append(flag)
        args = args.lstrip()
    return flags, args


def env_pairs(args: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` pairs of an ENV instruction (the ``KEY VALUE`` form is not used here)."""
    pairs = []
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        assert sep, f"ENV {args!r}: only the KEY=VALUE form is supported"
        pairs.append((key, value))
    return pairs


def expand(value: str, env: Mapping[str, str]) -> str:
    """Docker's ``$VAR`` / ``${VAR}`` substitution in ENV values."""
    return re.sub(r"\$\{?(\w+)\}?", lambda match: env.get(match.group(1), ""), value)


# An absolute path starts a word: at the start, or after a space, quote, '=', ',' or ':'.
_ABSOLUTE = r"(?<![^\s=,:'\"])"


class Root:
    """A temporary directory standing for the image's filesystem root."""

    def __init__(self, path: Path, texts: list[str]) -> None:
        self.path = path
        found = set()
        for text in texts:
            found.update(re.findall(_ABSOLUTE + r"/([A-Za-z][\w.-]*)", text))
        self.top_dirs = sorted(found - SYSTEM_DIRS)
        self._pattern = re.compile(
            _ABSOLUTE + r"/(" + "|".join(map(re.escape, self.top_dirs)) + r")(?![\w.-])"
        )

    def map(self, text: str) -> str:
        """``text`` with every image-own absolute path moved under this root."""
        return self._pattern.sub(lambda match: f"{self.path}/{match.group(1)}", text)

    def local(self, image_path: str) -> Path:
        """The local path that stands for ``image_path``."""
        return Path(self.map(image_path))


def shell_commands(command: str) -> list[str]:
    """The ``&&``-joined commands of a RUN line."""
    return [part.strip() for part in command.split("&&")]


def replay(command: str, root: Root, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one RUN line the way the image build does, mapped into ``root``."""
    kept = [
        part.replace("--no-cache-dir", "").strip()
        for part in shell_commands(command)
        if shlex.split(part)[0] not in LEFT_OUT
    ]
    return subprocess.run(
        ["sh", "-c", root.map(" && ".join(kept))],
        cwd=str(cwd),
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def build_env() -> dict[str, str]:
    """The environment RUN steps see: this interpreter first on PATH stands for the image's python."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    return env


@dataclass
class Layout:
    """The reproduced image: its root, its runtime environment and its entrypoint."""

    root: Root
    env: dict[str, str]
    entrypoint: list[str]
    workdir: Path
    venv: Path

    def environment(self, receiver: Receiver, **extra: str) -> dict[str, str]:
        """The app's environment in the image: the host's base, the receiver, then the image's ENV."""
        env = otlp_env(receiver, **extra)
        env.update(self.env)
        return env


def _replay_stage(stage: Stage, root: Root, env: Mapping[str, str]) -> None:
    workdir = root.path
    for item in stage.instructions:
        if item.keyword == "WORKDIR":
            workdir = root.local(item.args)
            workdir.mkdir(parents=True, exist_ok=True)
        elif item.keyword == "COPY":
            *sources, destination = shlex.split(item.args)
            assert not [s for s in sources if s.startswith("--")], f"COPY flags are not replayed: {item.args}"
            # Docker's rules: a directory's contents are copied; files go into a destination
            # ending in "/" (required for several sources) or become the destination.
            target = workdir / destination
            for source in sources:
                origin = REPO / source
                if origin.is_dir():
                    shutil.copytree(origin, target, dirs_exist_ok=True)
                elif destination.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target)
        elif item.keyword == "RUN":
            flags, command = run_flags(item.args)
            for flag in flags:
                # --mount=type=bind,from=build,source=/wheels,target=/wheels: one shared root here.
                options = dict(part.partition("=")[::2] for part in flag[len("--mount=") :].split(","))
                assert options.get("source") == options.get("target"), flag
            result = replay(command, root, workdir, env)
            assert result.returncode == 0, f"RUN {command}\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    """Dockerfile.base replayed once for the module: build stage, venv, Operator layout."""
    stages = parse_dockerfile(DOCKERFILE)
    assert len(stages) >= 2, "Dockerfile.base is multi-stage"
    texts = [item.args for stage in stages for item in stage.instructions]
    root = Root(tmp_path_factory.mktemp("image-root"), texts)
    env = build_env()
    for stage in stages:
        _replay_stage(stage, root, env)

    final = stages[-1]
    image_env = {"PATH": env["PATH"]}
    for args in final.all("ENV"):
        for key, value in env_pairs(args):
            image_env[key] = expand(root.map(value), image_env)
    workdir = root.local(final.last("WORKDIR"))
    workdir.mkdir(parents=True, exist_ok=True)
    yield Layout(
        root=root,
        env=image_env,
        entrypoint=json.loads(final.last("ENTRYPOINT")),
        workdir=workdir,
        venv=root.local(image_env["VIRTUAL_ENV"]),
    )


def _run(
    argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(argv[0], path=env["PATH"])
    assert executable is not None, f"{argv[0]} is not on the image's PATH"
    return subprocess.run(
        [executable, *argv[1:]],
        env=dict(env),
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _spans_arrive(receiver: Receiver, service: str) -> None:
    assert receiver.store.wait_for(
        lambda store: {"parent", "SELECT"} <= {s.name for s in store.spans() if s.service == service}, 15
    ), [(s.service, s.name) for s in receiver.store.spans()]


def _write_app(directory: Path, name: str = "app.py") -> None:
    (directory / name).write_text(APP, encoding="utf-8")


def _assert_clean_boot(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert "Error in sitecustomize" not in result.stderr, result.stderr
    assert "upstream boot loaded False" in result.stdout


@pytest.mark.timeout(300)
def test_image_env_is_the_documented_contract(layout: Layout) -> None:
    """The ENV puts the venv first on PATH and a stable boot symlink, holding only our shim, on PYTHONPATH."""
    path_entries = layout.env["PATH"].split(os.pathsep)
    assert path_entries[0] == str(layout.venv / "bin")
    (boot,) = layout.env["PYTHONPATH"].split(os.pathsep)
    assert Path(boot).is_symlink()
    assert sorted(p.name for p in Path(boot).iterdir() if p.name != "__pycache__") == ["sitecustomize.py"]
    assert (Path(boot) / "sitecustomize.py").read_bytes() == (REPO / "sitecustomize.py").read_bytes()
    constraints = Path(layout.env["PIP_CONSTRAINT"]).read_text(encoding="utf-8")
    assert re.search(r"^protobuf[<>=,.\d]+$", constraints, re.MULTILINE), constraints
    assert "==" not in constraints, "bounds, not pins: the app's own pins must win where they can"


@pytest.mark.timeout(300)
def test_entrypoint_runs_an_unmodified_app(layout: Layout, receiver: Receiver) -> None:
    """ENTRYPOINT + 'python app.py' (the image used as documented) exports the app's spans."""
    _write_app(layout.workdir)
    result = _run([*layout.entrypoint, "python", "app.py"], layout.environment(receiver), layout.workdir)
    _assert_clean_boot(result)
    assert any(line.startswith("otel-run: service app ") for line in startup_lines(result.stderr))
    _spans_arrive(receiver, "app")


@pytest.mark.timeout(300)
def test_overridden_entrypoint_still_boots(layout: Layout, receiver: Receiver) -> None:
    """With the ENTRYPOINT replaced, plain 'python app.py' boots from the image's ENV alone."""
    _write_app(layout.workdir, "worker.py")
    result = _run(["python", "worker.py"], layout.environment(receiver), layout.workdir)
    _assert_clean_boot(result)
    assert [line.split(" (")[0] for line in startup_lines(result.stderr)] == ["otel-run: service worker"]
    assert f"sitecustomize {layout.env['PYTHONPATH']}{os.sep}sitecustomize.py" in result.stdout
    _spans_arrive(receiver, "worker")


def _child_pip_step() -> str:
    """The RUN line of the sample app's Dockerfile that installs its requirements."""
    (stage,) = parse_dockerfile(CHILD_DOCKERFILE)
    (command,) = [run_flags(args)[1] for args in stage.all("RUN") if "-r requirements.txt" in args]
    return command


def _wheel(directory: Path, name: str, requires: list[str], source: str) -> Path:
    """A minimal pure-Python wheel, made here so the child-image step needs no index."""
    dist_info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": source,
        f"{dist_info}/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: 1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _pip_step(layout: Layout, context: Path, requirements: str) -> subprocess.CompletedProcess[str]:
    (context / "requirements.txt").write_text(requirements, encoding="utf-8")
    # Offline: the app's package is a local wheel and everything else is installed already.
    env = {**build_env(), **layout.env, "HOME": str(context), "PIP_NO_INDEX": "1"}
    return replay(_child_pip_step(), layout.root, context, env)


@pytest.mark.timeout(300)
def test_child_image_requirements_install_into_the_venv(
    layout: Layout, receiver: Receiver, tmp_path: Path
) -> None:
    """A child image's 'pip install -r requirements.txt && pip check' adds the app's packages to ours."""
    _wheel(tmp_path, "tinydep", ["protobuf>=5"], 'GREETING = "hello from tinydep"\n')
    result = _pip_step(layout, tmp_path, "./tinydep-1.0-py3-none-any.whl\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No broken requirements found" in result.stdout
    assert not startup_lines(result.stderr), "pip itself must not boot during the image build"
    assert list((layout.venv / "lib").glob("python*/site-packages/tinydep/__init__.py"))

    app = "import tinydep\nprint(tinydep.GREETING)\n" + APP
    (layout.workdir / "uses_dep.py").write_text(app, encoding="utf-8")
    run = _run([*layout.entrypoint, "python", "uses_dep.py"], layout.environment(receiver), layout.workdir)
    _assert_clean_boot(run)
    assert "hello from tinydep" in run.stdout
    _spans_arrive(receiver, "uses_dep")


@pytest.mark.timeout(300)
def test_conflicting_app_pin_fails_the_build_not_the_runtime(layout: Layout, tmp_path: Path) -> None:
    """An app pinning protobuf<4 (our exporters need >=5) fails at pip install, and the venv is unchanged."""
    result = _pip_step(layout, tmp_path, "protobuf<4\n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "protobuf" in output
    assert "ResolutionImpossible" in output or "conflict" in output.lower(), output
    check = _run(["pip", "check"], {**layout.env, "PYTHONPATH": ""}, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.timeout(300)
def test_operator_layout_boots_otel_run_in_a_plain_interpreter(
    layout: Layout, receiver: Receiver, tmp_path: Path
) -> None:
    """Copied as the Operator copies it, /autoinstrumentation boots otel-run in a Python without it."""
    source = layout.root.local(OPERATOR_SOURCE)
    assert (source / OPERATOR_SHIM).read_bytes() == (REPO / "sitecustomize.py").read_bytes()
    mount = tmp_path / OPERATOR_MOUNT
    mount.mkdir()
    # The init container's command, verbatim apart from the paths.
    subprocess.run(["cp", "-r", f"{source}/.", str(mount)], check=True, timeout=120)
    plain = tmp_path / "plain"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(plain)], check=True, timeout=120)
    _write_app(tmp_path)

    auto_instrumentation = mount / OPERATOR_SHIM.parent
    env = otlp_env(receiver)
    env.update(
        {
            # As the Operator sets them for a container without its own PYTHONPATH.
            "PYTHONPATH": f"{auto_instrumentation}{os.pathsep}{mount}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_SERVICE_NAME": "backend",
            "OTEL_RESOURCE_ATTRIBUTES_POD_NAME": "backend-55d6789c-v98wg",
            "OTEL_RESOURCE_ATTRIBUTES": "k8s.container.name=app,k8s.deployment.name=backend,"
            "k8s.namespace.name=shop,k8s.pod.name=backend-55d6789c-v98wg",
            "KUBERNETES_SERVICE_HOST": "10.96.0.1",
            "HOSTNAME": "backend-55d6789c-v98wg",
        }
    )
    result = subprocess.run(
        [str(plain / "bin" / "python"), "app.py"],
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _assert_clean_boot(result)
    assert f"sitecustomize {auto_instrumentation / 'sitecustomize.py'}" in result.stdout
    assert [line.split(";")[0] for line in startup_lines(result.stderr)] == ["otel-run: service backend"]
    assert "skipped opentelemetry-instrument" not in result.stderr
    _spans_arrive(receiver, "backend")
    span = next(s for s in receiver.store.spans() if s.name == "parent")
    assert span.resource["k8s.namespace.name"] == "shop"
    assert span.resource["k8s.pod.name"] == "backend-55d6789c-v98wg"


@pytest.mark.timeout(300)
def test_in_a_pod_the_service_is_the_workload_with_kubernetes_attributes(
    layout: Layout, receiver: Receiver
) -> None:
    """In a pod without OTEL_SERVICE_NAME the service is the workload; k8s.* attributes are detected."""
    _write_app(layout.workdir)
    env = layout.environment(receiver)
    # The namespace comes from the downward-API variable: the service-account file is read
    # at its fixed path, which a test cannot provide without a test-only switch in the
    # product; unit tests cover the file through detect()'s reader.
    env.update(
        {
            "KUBERNETES_SERVICE_HOST": "10.96.0.1",
            "HOSTNAME": "backend-55d6789c-v98wg",
            "K8S_NAMESPACE_NAME": "shop",
            "K8S_NODE_NAME": "node-1",
            "OTEL_RESOURCE_ATTRIBUTES": "k8s.node.name=from-attributes",
        }
    )
    result = _run([*layout.entrypoint, "python", "app.py"], env, layout.workdir)
    _assert_clean_boot(result)
    assert any(
        line.startswith("otel-run: service backend (derived from Kubernetes pod backend-55d6789c-v98wg")
        for line in startup_lines(result.stderr)
    ), result.stderr
    _spans_arrive(receiver, "backend")
    span = next(s for s in receiver.store.spans() if s.name == "parent")
    assert span.resource["k8s.pod.name"] == "backend-55d6789c-v98wg"
    assert span.resource["k8s.namespace.name"] == "shop"
    assert span.resource["k8s.node.name"] == "from-attributes"


SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"


def _status_lists(argv: list[str], env: Mapping[str, str], cwd: Path, pid: int) -> dict[str, object]:
    """``status --json`` run as ``argv`` until it lists ``pid`` (bounded); that process's entry."""
    for _ in range(40):
        done = subprocess.run(
            argv, env=dict(env), cwd=str(cwd), capture_output=True, text=True, timeout=30, check=False
        )
        assert not startup_lines(done.stderr), "status itself must not boot"
        listed = {p["pid"]: p for p in json.loads(done.stdout)["processes"]}
        if pid in listed:
            return listed[pid]
        time.sleep(0.25)
    raise AssertionError(f"status never listed {pid}: {done.stdout}")


@pytest.mark.timeout(300)
def test_status_in_the_image_lists_the_running_app(
    layout: Layout, receiver: Receiver, tmp_path: Path
) -> None:
    """As 'kubectl exec deploy/x -- otel-run status': the image's otel-run lists the app it runs."""
    (layout.workdir / "sleeper.py").write_text(SLEEPER, encoding="utf-8")
    # A private runtime directory, so that this test sees its own processes first.
    env = layout.environment(receiver, XDG_RUNTIME_DIR=str(tmp_path))
    del env["OTEL_RUN_STATUS_DIR"]  # the image's default place, as kubectl exec finds it
    executable = shutil.which(layout.entrypoint[0], path=env["PATH"])
    assert executable is not None
    app = subprocess.Popen(
        [executable, *layout.entrypoint[1:], "python", "sleeper.py"],
        env=env,
        cwd=str(layout.workdir),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None and app.stdout.readline() == "ready\n"
        entry = _status_lists([executable, "status", "--json"], env, layout.workdir, app.pid)
        assert entry["verdict"] == "idle"
        assert (tmp_path / "otel-run" / f"{app.pid}.json").exists()
    finally:
        app.kill()
        app.wait(10)


@pytest.mark.timeout(300)
def test_status_under_the_operator_layout(layout: Layout, receiver: Receiver, tmp_path: Path) -> None:
    """Under the Operator's PYTHONPATH, 'python -m otel_run status' lists the app (no otel-run on PATH)."""
    source = layout.root.local(OPERATOR_SOURCE)
    mount = tmp_path / OPERATOR_MOUNT
    mount.mkdir()
    subprocess.run(["cp", "-r", f"{source}/.", str(mount)], check=True, timeout=120)
    plain = tmp_path / "plain"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(plain)], check=True, timeout=120)
    (tmp_path / "sleeper.py").write_text(SLEEPER, encoding="utf-8")
    env = otlp_env(receiver, OTEL_SERVICE_NAME="backend", XDG_RUNTIME_DIR=str(tmp_path))
    del env["OTEL_RUN_STATUS_DIR"]  # the default place, as kubectl exec finds it
    env["PYTHONPATH"] = f"{mount / OPERATOR_SHIM.parent}{os.pathsep}{mount}"
    python = str(plain / "bin" / "python")
    app = subprocess.Popen(
        [python, "sleeper.py"], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, text=True
    )
    try:
        assert app.stdout is not None and app.stdout.readline() == "ready\n"
        entry = _status_lists([python, "-m", "otel_run", "status", "--json"], env, tmp_path, app.pid)
        assert entry["verdict"] == "idle"
        assert entry["status"]["service"] == "backend"  # type: ignore[index]
    finally:
        app.kill()
        app.wait(10)
