"""Derive a service name when none is configured: the workload, else the program.

Pure functions of the command line and environment; the caller says where they came
from. The derived name is always announced as derived, with the variable that sets it.
"""

from __future__ import annotations

from otel_run.config import envvars, resource_detect
from otel_run.config.patterns import app_spec, workload_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Scripts whose name says nothing about the service: use the folder or the app spec.
_GENERIC_STEMS = frozenset(
    {"app", "main", "server", "wsgi", "asgi", "run", "manage", "__main__", "application"}
)
# Launchers whose first ``module:attr`` argument names the application.
_LAUNCHERS = frozenset(
    {"gunicorn", "uvicorn", "hypercorn", "waitress-serve", "uwsgi", "daphne", "celery", "flask", "granian"}
)


class Derived(tuple[str, str]):
    """A derived service name and a short human account of where it came from:
    ``(name, origin)`` (a tuple, as the ``NamedTuple`` it was, without importing ``typing``)."""

    __slots__ = ()

    def __new__(cls, name: str, origin: str) -> Derived:
        return tuple.__new__(cls, (name, origin))

    @property
    def name(self) -> str:
        """The service name."""
        return self[0]

    @property
    def origin(self) -> str:
        """Where it came from, for people."""
        return self[1]

    def __repr__(self) -> str:
        return f"Derived(name={self[0]!r}, origin={self[1]!r})"


def workload_from_pod_name(pod: str) -> str:
    """Strip ReplicaSet/pod hashes or a StatefulSet ordinal: ``backend-55d6789c-v98wg`` → ``backend``."""
    return workload_name(pod)


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
    # Successive pairs by index: itertools costs an import on every boot.
    return any(
        argv[index] == "-c" and argv[index + 1].startswith("from multiprocessing.")
        for index in range(len(argv) - 1)
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
    # PurePosixPath's name and parent's name, without pathlib (it imports re, fnmatch and
    # urllib.parse): its parts are the non-empty components other than ".".
    parts = [part for part in script.split("/") if part and part != "."]
    name = parts[-1] if parts else ""
    parent = parts[-2] if len(parts) > 1 else ""
    dot = name.rfind(".")
    suffix, base = (name[dot:], name[:dot]) if 0 < dot < len(name) - 1 else ("", name)
    stem = base if suffix in (".py", ".pyz", "") else name
    if stem in _LAUNCHERS:
        launched = _from_launcher(stem, rest)
        if launched is not None:
            return launched
    if stem in _GENERIC_STEMS and parent not in ("", ".", "/"):
        return Derived(parent, f"script {script}")
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
        module = app_spec(arg)
        if module is not None:
            return Derived(_module_name(module), f"{launcher} app {arg}")
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
    module = app_spec(last)
    return Derived(_module_name(module), f"{launcher} app {last}") if module is not None else None


def _module_name(module: str) -> str:
    parts = [part for part in module.split(".") if part]
    while len(parts) > 1 and parts[-1] in _GENERIC_STEMS:
        parts.pop()
    return parts[0] if parts else module
