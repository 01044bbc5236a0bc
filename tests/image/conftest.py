"""Session fixtures for the image tests: one engine, one local base, each image built once.

The engine (``image_engine``) is this session's own ``dockerd``; the local base
(``image_base``) stands in for ``python:X.Y-slim``. ``golden_image`` is ``Dockerfile.base``
built on it and tagged ``otel-python-base``, so child Dockerfiles say ``FROM otel-python-base``
exactly as a user's do. Build times and image sizes are printed at the end of the run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_base import (
    BaseImage,
    build_local_base,
    host_ca_bundle,
    host_pip_settings,
    image_pip_conf,
    serve_directories,
    served_roots,
)
from image_engine import Engine
from image_traces import Downstream

from apps import REPO

CACHE = REPO / ".bench" / "image-cache"  # the debootstrap tarball, kept between runs (.bench/ is ignored)
GOLDEN = "otel-python-base"
SAMPLE = "sample-app"
REPORT: list[str] = []
ENGINES: list[Engine] = []


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> Engine:
    """This session's dockerd; everything it built is deleted with it when pytest ends."""
    root = Path(tempfile.mkdtemp(prefix="otel-run-docker-"))
    try:
        started = Engine.start(root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    # Stopped at pytest's exit, not in the teardown of whichever test ran last: deleting the
    # data root takes seconds, and that test's own timeout would count them.
    request.config.add_cleanup(started.stop)
    ENGINES.append(started)
    return started


@pytest.fixture(scope="session")
def local_base(engine: Engine) -> Iterator[BaseImage]:
    """Minimal Debian with python3, the host's CA bundle and the host's package index, imported."""
    settings = host_pip_settings()
    with serve_directories(served_roots(settings)) as served, tempfile.TemporaryDirectory() as work:
        pip_conf = image_pip_conf(settings, served, "/etc/ssl/certs/ca-certificates.crt")
        base = build_local_base(engine, CACHE, pip_conf, host_ca_bundle(settings), Path(work))
        REPORT.append(
            f"local base {base.tag} (Python {base.python_version}): {base.seconds:.1f}s, "
            f"{engine.size(base.tag) / 1e6:.0f} MB"
        )
        yield base  # the index server must outlive every build that uses it


@pytest.fixture(scope="session")
def golden_image(engine: Engine, local_base: BaseImage) -> str:
    """``Dockerfile.base`` built on the local base, tagged ``otel-python-base``."""
    engine.build(
        REPO,
        GOLDEN,
        dockerfile=REPO / "Dockerfile.base",
        build_args={"BASE_IMAGE": local_base.tag, "PYTHON_VERSION": local_base.python_version},
    )
    REPORT.append(f"image {GOLDEN}: {engine.size(GOLDEN) / 1e6:.0f} MB")
    return GOLDEN


@pytest.fixture(scope="session")
def sample_image(engine: Engine, golden_image: str) -> str:
    """``sample_app/Dockerfile`` built on the golden image, as its header says."""
    engine.build(REPO / "sample_app", SAMPLE, build_args={"BASE_IMAGE": golden_image})
    REPORT.append(f"image {SAMPLE}: {engine.size(SAMPLE) / 1e6:.0f} MB")
    return SAMPLE


@pytest.fixture
def downstream() -> Iterator[Downstream]:
    """An HTTP service on 127.0.0.1 for the services under test to call, stopped after the test."""
    started = Downstream()
    try:
        yield started
    finally:
        started.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Build times and image sizes of this run, for the CI log."""
    builds = [build for engine in ENGINES for build in engine.builds]
    if REPORT or builds:
        terminalreporter.section("container images")
        for line in REPORT:
            terminalreporter.write_line(line)
        for build in builds:
            status = "ok" if build.returncode == 0 else f"failed ({build.returncode})"
            terminalreporter.write_line(f"build {build.tag}: {build.seconds:.1f}s, {status}")
