"""The golden image built for real: what is inside it, what a child image gets, what it refuses.

``Dockerfile.base`` is built once per session on the local base (see ``conftest.py``), then
used as a user would: ``docker run IMAGE ...``, ``FROM otel-python-base`` in a child image.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from image_base import BaseImage
from image_engine import Engine

from apps import REPO, startup_lines
from otel_run.doctor.testpayload import TEST_LOG_BODY, TEST_METRIC_NAME, TEST_SPAN_NAME
from otel_run.receiver import Receiver

APP = """
import sqlite3, sys
from opentelemetry import trace
with trace.get_tracer("image").start_as_current_span("parent"):
    sqlite3.connect(":memory:").cursor().execute("SELECT 1")
print("otel_run from", sys.modules["otel_run"].__file__)
print("upstream boot loaded", "opentelemetry.instrumentation.auto_instrumentation._load" in sys.modules)
"""
SIZE_DOC = re.compile(r"otel-run's layers add about \*\*(\d+) MB\*\*")


def receiver_env(receiver: Receiver, **extra: str) -> dict[str, str]:
    """What a container needs to export to the in-process receiver, fast."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        **extra,
    }


def spans_arrive(receiver: Receiver, service: str, names: set[str]) -> None:
    """Wait until ``service`` has exported spans named ``names``."""
    assert receiver.store.wait_for(
        lambda store: names <= {s.name for s in store.spans() if s.service == service}, 15
    ), [(s.service, s.name) for s in receiver.store.spans()]


@pytest.mark.timeout(1200)
def test_golden_image_and_sample_app_build(engine: Engine, golden_image: str, sample_image: str) -> None:
    """Dockerfile.base builds on a plain Debian Python, and sample_app/Dockerfile builds on it."""
    config = engine.inspect(golden_image)
    assert config["Entrypoint"] == ["otel-run"]
    assert config["User"] == "10001"
    assert config["WorkingDir"] == "/app"
    env = dict(str(item).partition("=")[::2] for item in config["Env"])
    assert env["PYTHONPATH"] == "/opt/otel-run/boot"
    assert env["PATH"].startswith("/opt/otel-run/bin:")
    assert engine.inspect(sample_image)["Cmd"][:1] == ["gunicorn"]
    packages = engine.run(sample_image, ["pip", "list", "--format", "freeze"], env={"PYTHONPATH": ""})
    assert packages.returncode == 0, packages.stderr
    installed = {line.split("==")[0].lower() for line in packages.stdout.split()}
    assert {"flask", "gunicorn", "otel-run", "opentelemetry-sdk"} <= installed, (
        "one venv holds app and otel-run"
    )


@pytest.mark.timeout(600)
def test_image_contract_inside_the_image(engine: Engine, golden_image: str) -> None:
    """The boot directory holds only our shim, and the constraints are bounds, never pins."""
    probe = (
        "import os, pathlib; boot = pathlib.Path(os.environ['PYTHONPATH']); "
        "print(boot.is_symlink(), sorted(p.name for p in boot.iterdir() if p.name != '__pycache__')); "
        "print(pathlib.Path(os.environ['PIP_CONSTRAINT']).read_text())"
    )
    # `python` as the entrypoint: otel-run itself would hand on the resolved boot directory.
    done = engine.run(
        golden_image, ["-c", probe], env={"OTEL_SDK_DISABLED": "true"}, options=["--entrypoint", "python"]
    )
    assert done.returncode == 0, done.stderr
    first, _, constraints = done.stdout.partition("\n")
    assert first == "True ['sitecustomize.py']"
    assert re.search(r"^protobuf[<>=,.\d]+$", constraints, re.MULTILINE), constraints
    assert "==" not in constraints, "bounds, not pins: the app's own pins must win where they can"
    shim = engine.run(
        golden_image, ["cat", "/opt/otel-run/boot/sitecustomize.py"], options=["--entrypoint", ""]
    )
    assert shim.stdout == (REPO / "sitecustomize.py").read_text(encoding="utf-8")


@pytest.mark.timeout(600)
def test_python_c_pass_prints_nothing_on_stdout(
    engine: Engine, golden_image: str, receiver: Receiver
) -> None:
    """`docker run IMAGE python -c pass` exits 0 and writes nothing to stdout."""
    done = engine.run(golden_image, ["python", "-c", "pass"], env=receiver_env(receiver))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert len(startup_lines(done.stderr)) == 1, done.stderr  # booted, and said so on stderr only


@pytest.mark.timeout(600)
def test_doctor_inside_the_image_reaches_the_receiver(
    engine: Engine, golden_image: str, receiver: Receiver
) -> None:
    """`docker run IMAGE otel-run doctor` against a live receiver exits 0; its test telemetry arrives."""
    done = engine.run(
        golden_image, ["otel-run", "doctor"], env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert receiver.store.wait_for(
        lambda store: (
            any(s.name == TEST_SPAN_NAME for s in store.spans())
            and any(m.name == TEST_METRIC_NAME for m in store.metrics())
            and any(log.body == TEST_LOG_BODY for log in store.logs())
        ),
        10,
    ), done.stdout


@pytest.mark.timeout(600)
def test_overridden_entrypoint_still_boots(engine: Engine, golden_image: str, receiver: Receiver) -> None:
    """With the ENTRYPOINT replaced, plain `python` boots from the image's ENV alone, once."""
    done = engine.run(
        golden_image,
        ["-c", APP],
        env=receiver_env(receiver, OTEL_SERVICE_NAME="worker"),
        options=["--entrypoint", "python"],
    )
    assert done.returncode == 0, done.stderr
    assert "otel_run from /opt/otel-run/lib/python" in done.stdout
    assert "upstream boot loaded False" in done.stdout
    assert [line.split(";")[0] for line in startup_lines(done.stderr)] == ["otel-run: service worker"]
    spans_arrive(receiver, "worker", {"parent", "SELECT"})


@pytest.mark.timeout(900)
def test_conflicting_requirements_fail_the_child_build(
    engine: Engine, golden_image: str, tmp_path: Path
) -> None:
    """A child image whose requirements pin protobuf<4 fails at `docker build`, with pip's message."""
    context = tmp_path / "conflicting_app"
    shutil.copytree(REPO / "sample_app", context)
    (context / "requirements.txt").write_text("flask>=3,<4\nprotobuf<4\n", encoding="utf-8")
    build = engine.build(context, "conflicting-app", build_args={"BASE_IMAGE": golden_image}, check=False)
    assert build.returncode != 0, build.output[-3000:]
    assert "ResolutionImpossible" in build.output, build.output[-3000:]
    assert "The user requested protobuf<4" in build.output
    assert re.search(r"The user requested \(constraint\) protobuf[<>=,.\d]+", build.output), build.output[
        -3000:
    ]
    assert "pip install --no-cache-dir -r requirements.txt" in build.output, "failed at the pip step"


@pytest.mark.timeout(600)
def test_image_size_is_the_documented_one(engine: Engine, local_base: BaseImage, golden_image: str) -> None:
    """What otel-run's layers add to the base is measured, and docs/image.md states it (within 10%)."""
    added_mb = (engine.size(golden_image) - engine.size(local_base.tag)) / 1e6
    found = SIZE_DOC.search((REPO / "docs" / "image.md").read_text(encoding="utf-8"))
    assert found, "docs/image.md states no size"
    documented = int(found.group(1))
    assert abs(added_mb - documented) <= documented * 0.10, (
        f"otel-run's layers add {added_mb:.0f} MB; docs/image.md says {documented} MB: update it"
    )


@pytest.mark.timeout(600)
def test_in_a_pod_the_service_is_the_workload(engine: Engine, golden_image: str, receiver: Receiver) -> None:
    """In a pod without OTEL_SERVICE_NAME the service is the workload; k8s.* attributes are detected."""
    env = receiver_env(
        receiver,
        KUBERNETES_SERVICE_HOST="10.96.0.1",
        HOSTNAME="backend-55d6789c-v98wg",
        K8S_NAMESPACE_NAME="shop",
        K8S_NODE_NAME="node-1",
        OTEL_RESOURCE_ATTRIBUTES="k8s.node.name=from-attributes",
    )
    done = engine.run(golden_image, ["python", "-c", APP], env=env)
    assert done.returncode == 0, done.stderr
    (line,) = startup_lines(done.stderr)
    assert line.startswith("otel-run: service backend (derived from Kubernetes pod backend-55d6789c-v98wg"), (
        line
    )
    spans_arrive(receiver, "backend", {"parent", "SELECT"})
    span = next(s for s in receiver.store.spans() if s.name == "parent")
    assert span.resource["k8s.pod.name"] == "backend-55d6789c-v98wg"
    assert span.resource["k8s.namespace.name"] == "shop"
    assert span.resource["k8s.node.name"] == "from-attributes", "OTEL_RESOURCE_ATTRIBUTES wins over detection"
