"""Kubernetes and container resource detection: pure ``detect`` with fake files, and its wiring."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_run.config import resource_detect
from otel_run.config.resource_detect import CGROUP_FILE, MOUNTINFO_FILE, NAMESPACE_FILE, detect
from otel_run.config.service_name import workload_from_pod_name
from otel_run.config.settings import Settings
from otel_run.runtime import sdk

CONTAINER_ID = "3f4e2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
SANDBOX_ID = "a" * 64
POD_UID = "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
IN_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "HOSTNAME": "backend-55d6789c-v98wg"}

CGROUP_V1_CGROUPFS = f"""\
12:memory:/kubepods/burstable/pod{POD_UID}/{CONTAINER_ID}
11:cpu,cpuacct:/kubepods/burstable/pod{POD_UID}/{CONTAINER_ID}
0::/
"""
CGROUP_V1_SYSTEMD = (
    "1:name=systemd:/kubepods.slice/kubepods-burstable.slice/"
    f"kubepods-burstable-pod{POD_UID.replace('-', '_')}.slice/cri-containerd-{CONTAINER_ID}.scope\n"
)
CGROUP_V2_PRIVATE = "0::/\n"
DOCKER_MOUNTINFO = f"""\
601 590 0:52 / / rw,relatime master:301 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X
612 601 8:1 /var/lib/docker/containers/{CONTAINER_ID}/resolv.conf /etc/resolv.conf rw - ext4 /dev/sda1 rw
613 601 8:1 /var/lib/docker/containers/{CONTAINER_ID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw
"""
KUBELET = f"/var/lib/kubelet/pods/{POD_UID}"
SANDBOX = f"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{SANDBOX_ID}"
KUBELET_MOUNTINFO = f"""\
1501 1490 0:310 / / rw,relatime - overlay overlay rw
1512 1501 259:1 {KUBELET}/etc-hosts /etc/hosts rw - ext4 /dev/root rw
1513 1501 259:1 {KUBELET}/containers/backend/9c1e2f3a /dev/termination-log rw - ext4 /dev/root rw
1514 1501 259:1 {SANDBOX}/hostname /etc/hostname rw - ext4 /dev/root rw
"""


def files(contents: Mapping[str, str]) -> resource_detect.ReadFile:
    """A file reader that knows only ``contents``."""
    return contents.get


@pytest.mark.timeout(10)
def test_nothing_is_detected_on_a_plain_host() -> None:
    """Outside a pod and a container there is nothing to report."""
    host_cgroup = "0::/user.slice/user-1000.slice/session-3.scope\n"
    assert detect({"HOSTNAME": "laptop"}, files({CGROUP_FILE: host_cgroup, MOUNTINFO_FILE: ""})) == {}


@pytest.mark.timeout(10)
def test_pod_name_comes_from_hostname_inside_a_pod() -> None:
    """In a pod HOSTNAME is the pod's name, so it becomes k8s.pod.name."""
    assert detect(IN_POD, files({}))["k8s.pod.name"] == "backend-55d6789c-v98wg"


@pytest.mark.timeout(10)
def test_hostname_outside_kubernetes_is_not_a_pod_name() -> None:
    """Without KUBERNETES_SERVICE_HOST no k8s.* attribute is reported, whatever HOSTNAME says."""
    found = detect({"HOSTNAME": "backend-55d6789c-v98wg", "K8S_POD_NAME": "x"}, files({}))
    assert not [key for key in found if key.startswith("k8s.")]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("variable", resource_detect.POD_NAME_VARS)
def test_downward_api_pod_name_wins_over_hostname(variable: str) -> None:
    """A pod name set through the downward API (ours, POD_NAME or the Operator's) beats HOSTNAME."""
    found = detect({**IN_POD, variable: "checkout-7d4b9c8f5d-x2x9q"}, files({}))
    assert found["k8s.pod.name"] == "checkout-7d4b9c8f5d-x2x9q"


@pytest.mark.timeout(10)
def test_namespace_comes_from_the_service_account_file() -> None:
    """The mounted service-account namespace file names the namespace, whitespace stripped."""
    found = detect(IN_POD, files({NAMESPACE_FILE: "shop\n"}))
    assert found["k8s.namespace.name"] == "shop"


@pytest.mark.timeout(10)
def test_downward_api_namespace_is_used_without_the_file() -> None:
    """With automountServiceAccountToken: false the downward-API variable names the namespace."""
    found = detect({**IN_POD, "K8S_NAMESPACE_NAME": "demo"}, files({}))
    assert found["k8s.namespace.name"] == "demo"


@pytest.mark.timeout(10)
def test_downward_api_node_uid_and_container_are_reported() -> None:
    """Node name, pod uid and container name from downward-API variables become k8s.* attributes."""
    env = {**IN_POD, "K8S_NODE_NAME": "node-1", "K8S_POD_UID": POD_UID, "K8S_CONTAINER_NAME": "app"}
    found = detect(env, files({}))
    assert found["k8s.node.name"] == "node-1"
    assert found["k8s.pod.uid"] == POD_UID
    assert found["k8s.container.name"] == "app"


@pytest.mark.timeout(10)
def test_unexpanded_variable_references_are_ignored() -> None:
    """A literal $(VAR), left by a manifest that defines VAR too late, is not reported as a value."""
    found = detect({**IN_POD, "K8S_POD_NAME": "$(POD)"}, files({}))
    assert found["k8s.pod.name"] == IN_POD["HOSTNAME"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "cgroup",
    [
        CGROUP_V1_CGROUPFS,
        CGROUP_V1_SYSTEMD,
        f"12:memory:/docker/{CONTAINER_ID}\n",
        f"0::/system.slice/docker-{CONTAINER_ID}.scope\n",
        f"0::/machine.slice/libpod-{CONTAINER_ID}.scope/container\n",
        f"0::/kubepods/besteffort/pod{POD_UID}/crio-{CONTAINER_ID}\n",
    ],
    ids=["cgroupfs", "systemd-containerd", "docker-v1", "docker-v2", "podman", "crio"],
)
def test_container_id_comes_from_the_cgroup_path(cgroup: str) -> None:
    """Each runtime's cgroup path spelling yields the 64-hex container id."""
    assert detect({}, files({CGROUP_FILE: cgroup}))["container.id"] == CONTAINER_ID


@pytest.mark.timeout(10)
def test_container_id_comes_from_the_hostname_mount_under_cgroup_v2() -> None:
    """With a private cgroup namespace (0::/), Docker's /etc/hostname bind mount names the container."""
    found = detect({}, files({CGROUP_FILE: CGROUP_V2_PRIVATE, MOUNTINFO_FILE: DOCKER_MOUNTINFO}))
    assert found == {"container.id": CONTAINER_ID}


@pytest.mark.timeout(10)
def test_pod_sandbox_hostname_is_not_taken_for_the_container() -> None:
    """Inside a pod /etc/hostname belongs to the sandbox, so no container.id is guessed from it."""
    found = detect(IN_POD, files({CGROUP_FILE: CGROUP_V2_PRIVATE, MOUNTINFO_FILE: KUBELET_MOUNTINFO}))
    assert "container.id" not in found
    assert SANDBOX_ID not in found.values()


@pytest.mark.timeout(10)
def test_pod_uid_and_container_name_come_from_kubelet_mounts() -> None:
    """The kubelet's bind mounts (etc-hosts, termination log) give the pod uid and container name."""
    found = detect(IN_POD, files({CGROUP_FILE: CGROUP_V2_PRIVATE, MOUNTINFO_FILE: KUBELET_MOUNTINFO}))
    assert found["k8s.pod.uid"] == POD_UID
    assert found["k8s.container.name"] == "backend"


@pytest.mark.timeout(10)
def test_pod_uid_comes_from_a_systemd_cgroup_slice() -> None:
    """The systemd cgroup driver's underscored pod uid is reported with dashes."""
    found = detect(IN_POD, files({CGROUP_FILE: CGROUP_V1_SYSTEMD}))
    assert found["k8s.pod.uid"] == POD_UID
    assert found["container.id"] == CONTAINER_ID


@pytest.mark.timeout(10)
def test_mountinfo_is_not_read_when_nothing_needs_it() -> None:
    """In a pod whose variables say everything, only the cgroup file is read."""
    read: list[str] = []

    def reader(path: str) -> str | None:
        read.append(path)
        return CGROUP_V1_CGROUPFS if path == CGROUP_FILE else None

    env = {**IN_POD, "K8S_NAMESPACE_NAME": "demo", "K8S_POD_UID": POD_UID, "K8S_CONTAINER_NAME": "app"}
    detect(env, reader)
    assert read == [CGROUP_FILE]


@pytest.mark.timeout(60)
@settings(max_examples=200, deadline=None)
@given(text=st.text(), kubernetes=st.booleans())
def test_any_file_content_is_survived(text: str, kubernetes: bool) -> None:
    """Whatever the files hold, detect returns string attributes and never raises."""
    env = IN_POD if kubernetes else {}
    found = detect(env, lambda _path: text)
    assert all(isinstance(key, str) and isinstance(value, str) and value for key, value in found.items())


@pytest.mark.timeout(10)
def test_read_text_reads_a_file_and_tolerates_a_missing_one(tmp_path: Path) -> None:
    """The real reader returns a file's text, and None for a path that does not exist."""
    namespace = tmp_path / "namespace"
    namespace.write_text("shop")
    assert resource_detect.read_text(str(namespace)) == "shop"
    assert resource_detect.read_text(str(tmp_path / "missing")) is None
    assert resource_detect.read_text(str(tmp_path)) is None


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("pod", "workload"),
    [
        ("backend-55d6789c-v98wg", "backend"),
        ("checkout-api-7d4b9c8f5d-x2x9q", "checkout-api"),
        ("postgres-0", "postgres"),
        ("fluentd-x7k2p", "fluentd"),
        ("report-28945720-q8z2x", "report"),
        ("standalone", "standalone"),
    ],
    ids=["deployment", "dashed-deployment", "statefulset", "daemonset", "cronjob", "bare-pod"],
)
def test_workload_name_is_derived_from_the_pod_name(pod: str, workload: str) -> None:
    """ReplicaSet hashes, StatefulSet ordinals and generated suffixes are stripped from pod names."""
    assert workload_from_pod_name(pod) == workload


@pytest.mark.timeout(10)
def test_settings_derive_the_service_from_the_workload_and_detect_the_pod() -> None:
    """Without OTEL_SERVICE_NAME in a pod, the service is the workload and the pod is detected."""
    settings = Settings.from_env(IN_POD, ["python", "app.py"])
    assert settings.service_name == "backend"
    assert settings.service_name_derived
    assert ("k8s.pod.name", "backend-55d6789c-v98wg") in settings.detected_attributes


@pytest.mark.timeout(10)
def test_operator_injected_variables_raise_no_typo_warnings() -> None:
    """The variables the OpenTelemetry Operator injects are not mistaken for misspelled OTEL_* names."""
    env = {
        **IN_POD,
        "OTEL_POD_IP": "10.0.0.7",
        "OTEL_NODE_IP": "10.0.0.1",
        "OTEL_RESOURCE_ATTRIBUTES_POD_NAME": "backend-55d6789c-v98wg",
        "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME": "node-1",
        "OTEL_RESOURCE_ATTRIBUTES_POD_UID": POD_UID,
        "OTEL_SERVICE_NAME": "backend",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
    }
    assert Settings.from_env(env, ["python", "app.py"]).warnings == ()


@pytest.mark.timeout(30)
def test_explicit_attributes_and_service_name_win_over_detected_ones() -> None:
    """Detected < OTEL_RESOURCE_ATTRIBUTES < OTEL_SERVICE_NAME in the built resource."""
    env = {
        **IN_POD,
        "K8S_NAMESPACE_NAME": "detected-ns",
        "K8S_NODE_NAME": "node-1",
        "OTEL_RESOURCE_ATTRIBUTES": "k8s.namespace.name=explicit-ns,service.name=from-attributes",
        "OTEL_SERVICE_NAME": "from-variable",
    }
    attributes = dict(sdk.build_resource(Settings.from_env(env, ["python", "app.py"])).attributes)
    assert attributes["k8s.namespace.name"] == "explicit-ns"
    assert attributes["k8s.node.name"] == "node-1"
    assert attributes["k8s.pod.name"] == "backend-55d6789c-v98wg"
    assert attributes["service.name"] == "from-variable"
