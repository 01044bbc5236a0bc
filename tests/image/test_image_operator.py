"""The OpenTelemetry Operator path: a plain Python container gets the image's /autoinstrumentation.

What the Operator does is restated from its ``pkg/instrumentation/python.go`` and ``sdk.go``:
an init container of the golden image copies ``/autoinstrumentation/.`` into an ``emptyDir``
mounted at ``/otel-auto-instrumentation-python``; the app container (here the local base: a
plain Debian Python with no otel-run) mounts it and gets the Operator's variables. The
``Instrumentation``'s own settings (endpoint, propagators, sampler, env) are read from
``deploy/k8s/instrumentation.yaml``, with the endpoint pointed at the test's receiver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from image_base import BaseImage
from image_engine import Engine

from apps import REPO, startup_lines
from otel_run.receiver import Receiver

MOUNT = "/otel-auto-instrumentation-python"
INSTRUMENTATION = REPO / "deploy" / "k8s" / "instrumentation.yaml"
POD = "backend-55d6789c-v98wg"

APP = """
import sqlite3, sys
from opentelemetry import trace
with trace.get_tracer("operator").start_as_current_span("parent"):
    sqlite3.connect(":memory:").cursor().execute("SELECT 1")
print("otel_run from", sys.modules["otel_run"].__file__)
print("upstream boot loaded", "opentelemetry.instrumentation.auto_instrumentation._load" in sys.modules)
"""


def operator_env(instrumentation: dict[str, Any], endpoint: str) -> dict[str, str]:
    """The variables the Operator gives a Deployment ``backend``'s container with no env of its own."""
    spec = instrumentation["spec"]
    env = {item["name"]: item["value"] for item in spec.get("env", [])}  # injectCommonEnvVar
    env.update({item["name"]: item["value"] for item in spec["python"].get("env", [])})
    env.update(
        {
            # injectPythonSDK
            "PYTHONPATH": f"{MOUNT}/opentelemetry/instrumentation/auto_instrumentation:{MOUNT}",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            # injectCommonEnvVar, injectCommonSDKConfig: downward API values, as the kubelet fills them
            "OTEL_POD_IP": "10.244.0.7",
            "OTEL_NODE_IP": "172.18.0.2",
            "OTEL_SERVICE_NAME": "backend",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,  # spec.exporter.endpoint, here the receiver
            "OTEL_RESOURCE_ATTRIBUTES_POD_NAME": POD,
            "OTEL_RESOURCE_ATTRIBUTES_POD_UID": "1f7a7e4c-7b0e-4c5e-9a51-3c3a4b4f7d10",
            "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME": "node-1",
            "OTEL_PROPAGATORS": ",".join(spec["propagators"]),
            "OTEL_TRACES_SAMPLER": spec["sampler"]["type"],
            "OTEL_TRACES_SAMPLER_ARG": spec["sampler"]["argument"],
            "OTEL_RESOURCE_ATTRIBUTES": "k8s.container.name=app,k8s.deployment.name=backend,"
            f"k8s.namespace.name=shop,k8s.node.name=node-1,k8s.pod.name={POD},"
            "k8s.pod.uid=1f7a7e4c-7b0e-4c5e-9a51-3c3a4b4f7d10,k8s.replicaset.name=backend-55d6789c",
            # what the kubelet sets in every container
            "KUBERNETES_SERVICE_HOST": "10.96.0.1",
            "KUBERNETES_SERVICE_PORT": "443",
            "HOSTNAME": POD,
        }
    )
    env.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    # Fast export for the test; a real pod relies on the flush at exit, as this one does too.
    env.update({"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100"})
    return env


def instrumentation_manifest() -> dict[str, Any]:
    """deploy/k8s/instrumentation.yaml's Instrumentation."""
    (doc,) = [d for d in yaml.safe_load_all(INSTRUMENTATION.read_text(encoding="utf-8")) if d]
    assert doc["kind"] == "Instrumentation"
    return dict(doc)


def injected_volume(engine: Engine, golden_image: str, directory: Path) -> list[str]:
    """Run the Operator's init container of the image into ``directory``; the app's mount option."""
    volume = directory / "otel-auto-instrumentation-python"
    volume.mkdir()
    volume.chmod(0o777)  # an emptyDir is world-writable; the init container runs as the image's user
    mount = ["-v", f"{volume}:{MOUNT}"]
    # The init container's command, verbatim: cp -r /autoinstrumentation/. /otel-auto-instrumentation-python
    init = engine.run(
        golden_image, ["-r", "/autoinstrumentation/.", MOUNT], options=["--entrypoint", "cp", *mount]
    )
    assert init.returncode == 0, init.stderr
    return mount


@pytest.mark.timeout(900)
def test_operator_injection_boots_otel_run_in_a_plain_python_container(
    engine: Engine, golden_image: str, local_base: BaseImage, receiver: Receiver, tmp_path: Path
) -> None:
    """Copied by an init container of the image, /autoinstrumentation boots otel-run in a stock Python."""
    mount = injected_volume(engine, golden_image, tmp_path)

    plain = engine.run(local_base.tag, ["python", "-c", "import otel_run"], options=mount)
    assert plain.returncode != 0, "the app image must not have otel-run of its own"

    env = operator_env(instrumentation_manifest(), receiver.http_url)
    done = engine.run(local_base.tag, ["python", "-c", APP], env=env, options=mount)
    assert done.returncode == 0, done.stderr
    assert "Error in sitecustomize" not in done.stderr, done.stderr
    assert f"otel_run from {MOUNT}/otel_run/__init__.py" in done.stdout
    assert "upstream boot loaded False" in done.stdout, "upstream's opentelemetry-instrument boot ran"
    (line,) = startup_lines(done.stderr)
    assert line.startswith("otel-run: service backend;"), line
    assert f"sampler {env['OTEL_TRACES_SAMPLER']}" in line, line
    assert receiver.store.wait_for(
        lambda store: {"parent", "SELECT"} <= {s.name for s in store.spans() if s.service == "backend"}, 15
    ), [(s.service, s.name) for s in receiver.store.spans()]
    span = next(s for s in receiver.store.spans() if s.name == "parent")
    assert span.resource["k8s.namespace.name"] == "shop"
    assert span.resource["k8s.pod.name"] == POD
    assert span.resource["k8s.deployment.name"] == "backend"
