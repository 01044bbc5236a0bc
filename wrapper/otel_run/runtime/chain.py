"""Run the ``sitecustomize`` the app would have had without otel-run, even where otel-run cannot boot.

Standard library only, and nothing else of otel-run: besides being imported by the boot,
this file is loaded by path by the boot shim in an interpreter that cannot import
``otel_run`` at all (``otel-run /other/venv/bin/python app.py``, a venv without otel-run).
There, ``boot_unavailable`` says once that telemetry is off and why, exits 70 under
``OTEL_RUN_STRICT=true``, and still runs that interpreter's own ``sitecustomize``. That is
also why it reads its three variables from ``os.environ`` itself (``Settings`` cannot be
imported there); their meaning is the one ``config/envvars.py`` documents.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from typing import Any

EXIT_STRICT = 70
_SHIM_MARK = "boot_from_sitecustomize"


def _is_our_shim(path: str | None) -> bool:
    try:
        with open(path or "", encoding="utf-8", errors="replace") as handle:
            return _SHIM_MARK in handle.read(4096)
    except OSError:
        return False


def next_sitecustomize(boot_dir: str) -> ModuleSpec | None:
    """The ``sitecustomize`` found on ``sys.path`` after otel-run's own, if any.

    Copies of otel-run's shim (the Operator's copy in the image, the boot directory under a
    second spelling) are passed over: running one would boot and chain again.
    """
    from importlib.machinery import PathFinder

    skipped = {os.path.realpath(boot_dir)}
    for _ in range(len(sys.path) + 1):
        paths = [entry for entry in sys.path if os.path.realpath(entry or os.curdir) not in skipped]
        spec = PathFinder.find_spec("sitecustomize", paths)
        if spec is None or spec.loader is None:
            return None
        if not _is_our_shim(spec.origin):
            return spec
        skipped.add(os.path.realpath(os.path.dirname(spec.origin or "")))
    return None


def run(spec: ModuleSpec) -> None:
    """Execute ``spec`` as ``sys.modules["sitecustomize"]``; its errors are reported the way
    ``site`` reports them and do not stop the app."""
    import importlib.util

    assert spec.loader is not None  # next_sitecustomize returns only loadable specs
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get("sitecustomize")
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - as site.execsitecustomize reports it
        if previous is not None:
            sys.modules["sitecustomize"] = previous
        sys.stderr.write(
            f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(error).__name__}: {error}\n"
        )


def _true(environ: Any, name: str) -> bool:
    return str(environ.get(name, "")).strip().lower() == "true"


def boot_unavailable(shim_file: str, error: BaseException) -> None:
    """In an interpreter that cannot import ``otel_run``: tell, maybe exit 70, chain. Never raises.

    The line is written by the process otel-run launched (not by its Python children, which
    print only what they would without otel-run) and, under strict mode, by every process.
    Nothing is said when ``OTEL_SDK_DISABLED=true`` asked for no telemetry anyway.
    """
    try:
        environ = os.environ
        strict = _true(environ, "OTEL_RUN_STRICT")
        child = "OTEL_RUN_PARENT_PID" in environ
        environ["OTEL_RUN_PARENT_PID"] = str(os.getpid())
        if not _true(environ, "OTEL_SDK_DISABLED") and (strict or not child):
            _tell(error, strict)
        if strict and not _true(environ, "OTEL_SDK_DISABLED"):
            os._exit(EXIT_STRICT)
        spec = next_sitecustomize(os.path.dirname(os.path.abspath(shim_file)))
        if spec is not None:
            run(spec)
    except Exception:  # noqa: BLE001 - the boot never raises into the app
        pass


def _tell(error: BaseException, strict: bool) -> None:
    why = f"otel_run cannot be imported in {sys.executable} ({type(error).__name__}: {error})"
    fix = f"install otel-run into that environment ({sys.executable} -m pip install otel-run)"
    if strict:
        text = f"OTEL_RUN_STRICT=true and {why}; exiting {EXIT_STRICT}. To fix it, {fix}"
    else:
        text = f"{why}; telemetry is off in this process. To fix it, {fix}"
    stream = sys.__stderr__ or sys.stderr
    try:
        stream.write("otel-run: " + " ".join(text.splitlines()) + "\n")
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass
