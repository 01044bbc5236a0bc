"""Resource attributes from cheap local facts: where in Kubernetes and which container.

No API calls and no network: only environment variables (the downward API's, as manifests
and the OpenTelemetry Operator set them), the service-account namespace file, and
``/proc/self/cgroup`` / ``/proc/self/mountinfo``. ``detect`` is pure: the caller passes the
environment and a file reader, so :mod:`otel_run.config.settings` stays the only reader of the
environment and tests pass fakes. Explicit configuration wins over everything found here:
``OTEL_RESOURCE_ATTRIBUTES`` is applied on top (see :func:`otel_run.runtime.sdk.build_resource`).
"""

from __future__ import annotations

from otel_run.config.patterns import (
    CONTAINER_ID_LENGTH,
    cgroup_pod_uid,
    hex_runs,
    hostname_source,
    kubelet_pod,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    ReadFile = Callable[[str], str | None]
    """Returns a file's text, or None when it is missing or unreadable."""

NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
CGROUP_FILE = "/proc/self/cgroup"
MOUNTINFO_FILE = "/proc/self/mountinfo"

# Downward-API variables, in order of preference: otel-run's documented K8S_* names (as in
# deploy/k8s/sample-app.yaml), common POD_* spellings, then the OpenTelemetry Operator's.
POD_NAME_VARS = ("K8S_POD_NAME", "POD_NAME", "OTEL_RESOURCE_ATTRIBUTES_POD_NAME")
NAMESPACE_VARS = ("K8S_NAMESPACE_NAME", "K8S_POD_NAMESPACE", "POD_NAMESPACE")
NODE_NAME_VARS = ("K8S_NODE_NAME", "NODE_NAME", "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME")
POD_UID_VARS = ("K8S_POD_UID", "POD_UID", "OTEL_RESOURCE_ATTRIBUTES_POD_UID")
CONTAINER_NAME_VARS = ("K8S_CONTAINER_NAME", "CONTAINER_NAME")

_MAX_FILE_CHARS = 1 << 20
# A container id is 64 hex digits, alone in a cgroup path segment or after a runtime
# prefix (docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>, libpod-<id>.scope):
# patterns.hex_runs. cgroup v1 pod slices: .../pod<uid>/... (cgroupfs) or
# ...-pod<uid_with_underscores>.slice (systemd): patterns.cgroup_pod_uid. kubelet bind
# mounts: /var/lib/kubelet/pods/<uid>/etc-hosts, .../containers/<name>/<n> (the
# termination log), .../volumes/...: patterns.kubelet_pod. Docker and Podman bind-mount
# /etc/hostname from the container's own directory: patterns.hostname_source.


def read_text(path: str) -> str | None:
    """The text of ``path`` (at most 1 MiB), or None if it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(_MAX_FILE_CHARS)
    except (OSError, ValueError):
        return None


def in_kubernetes(environ: Mapping[str, str]) -> bool:
    """Whether this process runs in a Kubernetes pod (the kubelet sets this in every container)."""
    return bool(environ.get("KUBERNETES_SERVICE_HOST"))


def pod_name(environ: Mapping[str, str]) -> str | None:
    """The pod's name: a downward-API variable, else ``HOSTNAME`` (the pod name unless the
    pod sets ``spec.hostname``); None outside Kubernetes."""
    if not in_kubernetes(environ):
        return None
    return _first(environ, POD_NAME_VARS) or _clean(environ.get("HOSTNAME"))


def detect(environ: Mapping[str, str], read_file: ReadFile) -> dict[str, str]:
    """Kubernetes and container attributes found locally; empty when there are none.

    ``k8s.*`` attributes are reported only inside a pod. ``container.id`` comes from the
    cgroup path; outside Kubernetes also from the ``/etc/hostname`` bind mount (inside a
    pod that mount belongs to the pod's sandbox, not to this container, so it is not used).
    """
    found: dict[str, str] = {}
    kubernetes = in_kubernetes(environ)
    cgroup = read_file(CGROUP_FILE) or ""
    mounts: list[str] | None = None

    def mountinfo() -> list[str]:
        nonlocal mounts
        if mounts is None:
            mounts = (read_file(MOUNTINFO_FILE) or "").splitlines()
        return mounts

    if kubernetes:
        _put(found, "k8s.pod.name", pod_name(environ))
        _put(
            found,
            "k8s.namespace.name",
            _first(environ, NAMESPACE_VARS) or _clean(read_file(NAMESPACE_FILE)),
        )
        _put(found, "k8s.node.name", _first(environ, NODE_NAME_VARS))
        uid = _first(environ, POD_UID_VARS) or _pod_uid_from_cgroup(cgroup)
        container = _first(environ, CONTAINER_NAME_VARS)
        if uid is None or container is None:
            mounted_uid, mounted_container = _kubelet_mounts(mountinfo())
            uid = uid or mounted_uid
            container = container or mounted_container
        _put(found, "k8s.pod.uid", uid)
        _put(found, "k8s.container.name", container)

    container_id = _container_id_from_cgroup(cgroup)
    if container_id is None and not kubernetes:
        container_id = _container_id_from_mountinfo(mountinfo())
    _put(found, "container.id", container_id)
    return found


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _first(environ: Mapping[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        value = _clean(environ.get(name))
        # An unexpanded $(VAR) reference means the manifest's variable order is wrong.
        if value is not None and not value.startswith("$("):
            return value
    return None


def _put(found: dict[str, str], key: str, value: str | None) -> None:
    if value:
        found[key] = value


def _cgroup_paths(cgroup: str) -> list[str]:
    # "hierarchy-id:controllers:path" per line; cgroup v2 has the single line "0::path".
    return [line.split(":", 2)[2] for line in cgroup.splitlines() if line.count(":") >= 2]


def _container_id_from_cgroup(cgroup: str) -> str | None:
    for path in _cgroup_paths(cgroup):
        ids = hex_runs(path, CONTAINER_ID_LENGTH)
        if ids:
            return ids[-1]
    return None


def _pod_uid_from_cgroup(cgroup: str) -> str | None:
    for path in _cgroup_paths(cgroup):
        uid = cgroup_pod_uid(path)
        if uid is not None:
            return uid.replace("_", "-")
    return None


def _mount_root_and_point(line: str) -> tuple[str, str] | None:
    # "<id> <parent> <major:minor> <root> <mount point> <options> ..."
    fields = line.split(" ")
    if len(fields) < 5:
        return None
    return fields[3], fields[4]


def _kubelet_mounts(lines: list[str]) -> tuple[str | None, str | None]:
    uid: str | None = None
    container: str | None = None
    for line in lines:
        parsed = _mount_root_and_point(line)
        if parsed is None:
            continue
        found = kubelet_pod(parsed[0])
        if found is not None:
            uid = uid or found[0]
            container = container or found[1]
            if uid and container:
                break
    return uid, container


def _container_id_from_mountinfo(lines: list[str]) -> str | None:
    for line in lines:
        parsed = _mount_root_and_point(line)
        if parsed is not None and parsed[1] == "/etc/hostname":
            found = hostname_source(parsed[0])
            if found is not None:
                return found
    return None
