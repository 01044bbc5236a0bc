"""Build the baseline: a separate venv where upstream ``opentelemetry-instrument`` runs the same app.

    python bench/baseline.py [--venv .bench/baseline-venv] [--force]

The venv gets ``opentelemetry-distro``, ``opentelemetry-exporter-otlp`` (proto over HTTP and
gRPC) and the instrumentations otel-run installs (flask, wsgi, requests, urllib3, urllib,
sqlite3, logging, threading), with the version specifiers pyproject.toml pins for otel-run,
plus flask, gunicorn and requests with the dev extra's specifiers. So both sides run the same
upstream SDK, exporters and instrumentations; only the layer on top differs.

``requirements()`` and ``ensure()`` are also used by tests/e2e/test_content_equivalence.py.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
DEFAULT_VENV = REPO / ".bench" / "baseline-venv"

# The upstream packages opentelemetry-instrument needs to run the sample app the way otel-run
# does. Everything else otel-run depends on (its JSON exporter, grpcio, protobuf) comes along
# as a dependency of these or is not used by the sample app.
_FROM_DEPENDENCIES = (
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-distro",
    "opentelemetry-instrumentation",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-exporter-otlp-proto-grpc",
    "opentelemetry-instrumentation-flask",
    "opentelemetry-instrumentation-wsgi",
    "opentelemetry-instrumentation-requests",
    "opentelemetry-instrumentation-urllib3",
    "opentelemetry-instrumentation-urllib",
    "opentelemetry-instrumentation-sqlite3",
    "opentelemetry-instrumentation-logging",
    "opentelemetry-instrumentation-threading",
)
_FROM_DEV = ("flask", "gunicorn", "requests")
# For an ASGI app (FastAPI on uvicorn) under opentelemetry-instrument.
ASGI_EXTRA = (
    "opentelemetry-instrumentation-asgi",
    "opentelemetry-instrumentation-asyncio",
    "opentelemetry-instrumentation-fastapi",
    "opentelemetry-instrumentation-starlette",
    "fastapi",
    "starlette",
    "uvicorn",
)
_MARKER = "otel-run-baseline.txt"


def _specifiers(pyproject: Path) -> dict[str, str]:
    """``name -> "name>=x,<y"`` for every quoted requirement string in pyproject.toml."""
    found: dict[str, str] = {}
    for match in re.finditer(r'"([A-Za-z0-9_.\-]+)([<>=!~][^"]*)"', pyproject.read_text()):
        found.setdefault(match.group(1).lower(), match.group(1) + match.group(2))
    return found


def requirements(pyproject: Path = PYPROJECT, extra: tuple[str, ...] = ()) -> list[str]:
    """The baseline venv's pip requirements, with pyproject.toml's version specifiers.

    ``opentelemetry-exporter-otlp`` (the meta-package upstream documents) takes the SDK's
    specifier, since it is released in lock-step with it. ``extra`` names more packages
    pyproject.toml pins (tests of other stacks: ``ASGI_EXTRA``).
    """
    specs = _specifiers(pyproject)
    missing = [name for name in (*_FROM_DEPENDENCIES, *_FROM_DEV, *extra) if name not in specs]
    if missing:
        raise LookupError(f"pyproject.toml has no version specifier for {', '.join(missing)}")
    sdk_spec = specs["opentelemetry-sdk"][len("opentelemetry-sdk") :]
    return [
        *(specs[name] for name in _FROM_DEPENDENCIES),
        "opentelemetry-exporter-otlp" + sdk_spec,
        *(specs[name] for name in (*_FROM_DEV, *extra)),
    ]


def bin_dir(path: Path) -> Path:
    """The scripts directory of the venv at ``path``."""
    return path / ("Scripts" if sys.platform == "win32" else "bin")


def ensure(
    path: Path = DEFAULT_VENV, force: bool = False, quiet: bool = True, extra: tuple[str, ...] = ()
) -> Path:
    """Create (or reuse) the baseline venv at ``path``; returns its scripts directory.

    The venv is reused when it was built from the same requirements by the same Python;
    otherwise it is rebuilt. pip runs from this interpreter (``pip --python``), so the new
    venv needs no pip of its own.
    """
    wanted = "\n".join([sys.version, *requirements(extra=extra)]) + "\n"
    digest = hashlib.sha256(wanted.encode()).hexdigest()
    marker = path / _MARKER
    bindir = bin_dir(path)
    if not force and marker.is_file() and marker.read_text().strip() == digest:
        return bindir
    venv.EnvBuilder(clear=True, with_pip=False, symlinks=sys.platform != "win32").create(path)
    command = [sys.executable, "-m", "pip", "--python", str(bindir / "python"), "install"]
    if quiet:
        command.append("--quiet")
    subprocess.run([*command, *requirements(extra=extra)], check=True, timeout=900)
    if not (bindir / "opentelemetry-instrument").exists():
        raise RuntimeError(f"{bindir}/opentelemetry-instrument is missing after the install")
    marker.write_text(digest + "\n")
    return bindir


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the baseline venv and print its scripts directory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="where to build it")
    parser.add_argument("--force", action="store_true", help="rebuild even if it looks current")
    args = parser.parse_args(argv)
    print("\n".join(requirements()))
    print(ensure(args.venv, force=args.force, quiet=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
