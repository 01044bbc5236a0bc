"""Derive a service name when none is configured: the workload, else the program.

Pure functions of the command line and environment; the caller says where they came
from. The derived name is always announced as derived, with the variable that sets it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import NamedTuple

from otel_run.config import envvars, resource_detect

# Scripts whose name says nothing about the service: use the folder or the app spec.
_GENERIC_STEMS = frozenset(
    {"app", "main", "server", "wsgi", "asgi", "run", "manage", "__main__", "application"}
)
# Launchers whose first ``module:attr`` argument names the application.
_LAUNCHERS = frozenset(
    {"gunicorn", "uvicorn", "hypercorn", "waitress-serve", "uwsgi", "daphne", "celery", "flask", "granian"}
)
_APP_SPEC = re.compile(r"^([A-Za-z_][\w.]*)(?::[\w.()]*)?$")
# Deployment pods: <name>-<pod-template-hash>-<5 chars>; StatefulSet: <name>-<ordinal>;
# DaemonSet and Job pods: <name>-<5 chars>.
# Kubernetes writes generated suffixes in an alphabet without vowels or easily confused
# digits (apimachinery's rand.SafeEncodeString), so "web-proxy" is not "web" + a suffix.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT_POD = re.compile(rf"^(?P<name>.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_STATEFUL_POD = re.compile(r"^(?P<name>.+)-\d+$")
# CronJob pods: <cronjob>-<scheduled time in minutes>-<5 chars>.
_CRONJOB_POD = re.compile(rf"^(?P<name>.+)-\d{{8,10}}-{_SAFE}{{5}}$")
_SIMPLE_POD = re.compile(rf"^(?P<name>.+)-{_SAFE}{{5}}$")


class Derived(NamedTuple):
    """A derived service name and a short human account of where it came from."""

    name: str
    origin: str


def workload_from_pod_name(pod: str) -> str:
    """Strip ReplicaSet/pod hashes or a StatefulSet ordinal: ``backend-55d6789c-v98wg`` → ``backend``."""
    for pattern in (_CRONJOB_POD, _DEPLOYMENT_POD, _STATEFUL_POD, _SIMPLE_POD):
        match = pattern.match(pod)
        if match:
            return match.group("name")
    return pod


def derive(argv: Sequence[str], environ: Mapping[str, str]) -> Derived:
    """Name the service from the Kubernetes workload, else from the program that runs.

    ``argv`` is the interpreter's full command line (``sys.orig_argv``: the interpreter
    first, then its options, then the script or ``-m module``).
    """
    pod = resource_detect.pod_name(environ)
    if pod:
        return Derived(workload_from_pod_name(pod), f"Kubernetes pod {pod}")
    inherited = environ.get(envvars.OTEL_RUN_PARENT_SERVICE)
    if inherited and is_multiprocessing_child(argv):
        return Derived(inherited, "the process that started this multiprocessing worker")
    program = _program(argv)
    if program is not None:
        return program
    return Derived("unknown_service:python", "no script or module on the command line")


def is_multiprocessing_child(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is a ``multiprocessing`` spawn or forkserver child's command line."""
    if "--multiprocessing-fork" in argv:
        return True
    return any(
        arg == "-c" and code.startswith("from multiprocessing.") for arg, code in itertools.pairwise(argv)
    )


def _program(argv: Sequence[str]) -> Derived | None:
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg == "-m" and args:
            module = args.pop(0)
            if module.rpartition(".")[2] in _LAUNCHERS or module in _LAUNCHERS:
                return _from_launcher(module, args) or Derived(module, f"python -m {module}")
            return Derived(_module_name(module), f"python -m {module}")
        if arg.startswith("-m") and len(arg) > 2:
            module = arg[2:]
            return Derived(_module_name(module), f"python -m {module}")
        if arg in ("-c",):
            return None
        if arg in ("-W", "-X", "--check-hash-based-pycs"):
            if args:
                args.pop(0)
            continue
        if arg.startswith("-"):
            continue
        return _from_script(arg, args)
    return None


def _from_script(script: str, rest: list[str]) -> Derived:
    path = PurePath(script)
    stem = path.stem if path.suffix in (".py", ".pyz", "") else path.name
    if stem in _LAUNCHERS:
        launched = _from_launcher(stem, rest)
        if launched is not None:
            return launched
    if stem in _GENERIC_STEMS and path.parent.name not in ("", ".", "/"):
        return Derived(path.parent.name, f"script {script}")
    return Derived(stem or "python", f"script {script}")


def _from_launcher(launcher: str, rest: list[str]) -> Derived | None:
    for index, arg in enumerate(rest):
        previous = rest[index - 1] if index else ""
        if arg.startswith("--app="):
            arg = arg.partition("=")[2]
        elif previous in ("--app", "-A") or (not arg.startswith("-") and ":" in arg):
            pass
        else:
            continue
        match = _APP_SPEC.match(arg)
        if match:
            return Derived(_module_name(match.group(1)), f"{launcher} app {arg}")
    return _bare_module_app(launcher, rest)


# gunicorn's options that take no value, so the word after one is the app, not its value.
_FLAGS = frozenset({"--preload", "--reload", "-D", "--daemon", "--capture-output", "--check-config"})


def _bare_module_app(launcher: str, rest: list[str]) -> Derived | None:
    """``gunicorn mysite.wsgi`` (Django's documented command): a dotted module, no ``:attr``.

    Only the last word counts, and only when the word before it is not an option that
    takes a value (``-k uvicorn.workers.UvicornWorker`` names a worker class)."""
    if launcher != "gunicorn" or not rest:
        return None
    last, previous = rest[-1], rest[-2] if len(rest) > 1 else ""
    takes_value = previous.startswith("-") and "=" not in previous and previous not in _FLAGS
    if "." not in last or last.endswith((".py", ".conf", ".toml", ".ini")) or takes_value:
        return None
    match = _APP_SPEC.match(last)
    return Derived(_module_name(match.group(1)), f"{launcher} app {last}") if match else None


def _module_name(module: str) -> str:
    parts = [part for part in module.split(".") if part]
    while len(parts) > 1 and parts[-1] in _GENERIC_STEMS:
        parts.pop()
    return parts[0] if parts else module
