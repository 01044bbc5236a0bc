"""service_name: a derived name from the Kubernetes workload, else from the program that runs."""

from __future__ import annotations

import pytest

from otel_run.config.service_name import Derived, derive, workload_from_pod_name

K8S = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("pod", "workload"),
    [
        ("backend-55d6789c-v98wg", "backend"),
        ("my-app-5f7b9c6d8-x2k4z", "my-app"),
        ("web-0", "web"),
        ("kafka-broker-12", "kafka-broker"),
        ("node-agent-x7k2p", "node-agent"),
        ("standalone", "standalone"),
        ("a-b", "a-b"),
    ],
)
def test_workload_from_pod_name(pod: str, workload: str) -> None:
    """Deployment hashes, StatefulSet ordinals and DaemonSet/Job suffixes are stripped."""
    assert workload_from_pod_name(pod) == workload


@pytest.mark.timeout(10)
def test_kubernetes_pod_name_wins_over_the_script() -> None:
    """Inside Kubernetes the workload names the service, and the origin names the pod."""
    derived = derive(["python", "app.py"], {**K8S, "HOSTNAME": "checkout-7d9f8b6c5-x2x9z"})
    assert derived == Derived("checkout", "Kubernetes pod checkout-7d9f8b6c5-x2x9z")


@pytest.mark.timeout(10)
def test_explicit_pod_name_variables_win_over_hostname() -> None:
    """K8S_POD_NAME, then POD_NAME (downward API), then HOSTNAME give the pod name."""
    env = {**K8S, "HOSTNAME": "host-1", "POD_NAME": "pod-2", "K8S_POD_NAME": "orders-0"}
    assert derive(["python", "app.py"], env).name == "orders"
    del env["K8S_POD_NAME"]
    assert derive(["python", "app.py"], env).name == "pod"


@pytest.mark.timeout(10)
def test_hostname_outside_kubernetes_is_not_used() -> None:
    """Without KUBERNETES_SERVICE_HOST, a pod-like HOSTNAME does not name the service."""
    assert derive(["python", "worker.py"], {"HOSTNAME": "checkout-7d9f8b6c5-x2x9z"}).name == "worker"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "checkout.py"], Derived("checkout", "script checkout.py")),
        (["python", "-u", "x/y/worker.py"], Derived("worker", "script x/y/worker.py")),
        (["python", "-W", "ignore", "tool.py"], Derived("tool", "script tool.py")),
        (["python", "-X", "dev", "tool.py"], Derived("tool", "script tool.py")),
        (["python", "billing/app.py"], Derived("billing", "script billing/app.py")),
        (["python", "/srv/shop/main.py"], Derived("shop", "script /srv/shop/main.py")),
        (["python", "app.py"], Derived("app", "script app.py")),
    ],
)
def test_script_names_the_service(argv: list[str], expected: Derived) -> None:
    """A script names the service; a generic name like app.py or main.py defers to its folder."""
    assert derive(argv, {}) == expected


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["python", "-m", "orders"], "orders"),
        (["python", "-m", "orders.main"], "orders"),
        (["python", "-m", "orders.api.server"], "orders"),
        (["python", "-morders"], "orders"),
    ],
)
def test_module_names_the_service(argv: list[str], name: str) -> None:
    """'python -m package.module' names the service after the top-level package."""
    derived = derive(argv, {})
    assert derived.name == name
    assert derived.origin.startswith("python -m ")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["python", "/venv/bin/gunicorn", "-w", "4", "shop.wsgi:app"], "shop"),
        (["python", "-m", "gunicorn", "billing:create_app()"], "billing"),
        (["python", "/venv/bin/flask", "--app", "inventory", "run"], "inventory"),
        (["python", "/venv/bin/flask", "--app=inventory.web", "run"], "inventory"),
        (["python", "/venv/bin/celery", "-A", "tasks", "worker"], "tasks"),
        (["python", "/venv/bin/waitress-serve", "--port=8080", "payments.app:app"], "payments"),
        (["python", "/venv/bin/gunicorn", "-w", "2", "-b", "127.0.0.1:8000", "mysite.wsgi"], "mysite"),
        (["python", "/venv/bin/gunicorn", "--preload", "mysite.wsgi"], "mysite"),
    ],
)
def test_launcher_app_spec_names_the_service(argv: list[str], name: str) -> None:
    """A server launcher's module:attr (or --app / -A) names the service, not the launcher."""
    derived = derive(argv, {})
    assert derived.name == name
    assert " app " in derived.origin


@pytest.mark.timeout(10)
def test_launcher_without_app_spec_names_itself() -> None:
    """'python -m flask run' with no app spec falls back to the launcher's name."""
    assert derive(["python", "-m", "flask", "run"], {}) == Derived("flask", "python -m flask")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("argv", [["python"], ["python", "-c", "print(1)"], ["python", "-u"], []])
def test_no_script_gives_the_specification_default(argv: list[str]) -> None:
    """No script or module (an interactive or -c run) gives unknown_service:python."""
    assert derive(argv, {}) == Derived("unknown_service:python", "no script or module on the command line")


SPAWN_CHILD = [
    "/venv/bin/python",
    "-B",
    "-c",
    "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)",
    "--multiprocessing-fork",
]


@pytest.mark.timeout(10)
def test_multiprocessing_worker_takes_its_parents_derived_name() -> None:
    """A spawn child (uvicorn --workers) runs the parent's app: it takes the name the parent derived."""
    derived = derive(SPAWN_CHILD, {"OTEL_RUN_PARENT_SERVICE": "shop"})
    assert derived.name == "shop"
    assert "multiprocessing" in derived.origin


@pytest.mark.timeout(10)
def test_other_children_derive_their_own_name() -> None:
    """Only multiprocessing workers inherit: another program started by the app names itself."""
    assert derive(["python", "report.py"], {"OTEL_RUN_PARENT_SERVICE": "shop"}).name == "report"
    assert derive(SPAWN_CHILD, {}).name == "unknown_service:python"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "rest",
    [
        ["-k", "uvicorn.workers.UvicornWorker"],
        ["-c", "gunicorn.conf.py"],
        ["-w", "2"],
        ["--config=deploy.toml"],
    ],
)
def test_gunicorn_option_values_are_not_apps(rest: list[str]) -> None:
    """A worker class or a config file after its option is not the app: gunicorn names itself."""
    assert derive(["python", "/venv/bin/gunicorn", *rest], {}).name == "gunicorn"
