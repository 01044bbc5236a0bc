"""Every Python version pyproject.toml declares runs the built wheel end to end.

For each ``Programming Language :: Python :: 3.X`` classifier: find pyenv's 3.X
interpreter (``$(pyenv root)/versions/3.X.*``, the newest patch release), make a venv
with it, install the wheel built once from this tree (its dependencies come from the
package index), and run ``otel-run python app.py``: its spans and log records must
arrive at the receiver, reporting that interpreter's version. A declared version with no
interpreter on the machine is a failure that names the missing interpreter.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps import REPO, clean_env, otlp_env
from otel_run.receiver import Receiver


def declared_versions() -> list[str]:
    """The ``3.X`` versions pyproject.toml's classifiers declare."""
    text = (REPO / "pyproject.toml").read_text()
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


def pyenv_root() -> Path | None:
    """pyenv's root: ``$PYENV_ROOT``, else what ``pyenv root`` prints, else ``~/.pyenv``."""
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv") or str(Path.home() / ".pyenv" / "bin" / "pyenv")
    if os.access(pyenv, os.X_OK):
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    fallback = Path.home() / ".pyenv"
    return fallback if fallback.is_dir() else None


def find_interpreter(version: str) -> Path:
    """pyenv's newest ``version.*`` interpreter; fails the test, naming it, when there is none."""
    root = pyenv_root()
    if root is None:
        pytest.fail(
            f"Python {version} interpreter not found: pyenv is not installed (no PYENV_ROOT or pyenv)"
        )
    found: list[tuple[int, Path]] = []
    for entry in (root / "versions").glob(f"{version}.*"):
        patch = entry.name[len(version) + 1 :]
        python = entry / "bin" / "python3"
        if patch.isdigit() and python.exists():
            found.append((int(patch), python))
    if not found:
        pytest.fail(
            f"Python {version} interpreter not found: nothing matches "
            f"{root}/versions/{version}.*/bin/python3 (pyenv install {version})"
        )
    return max(found)[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """otel-run's wheel, built once from this tree."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
        timeout=300,
        env=clean_env(),
    )
    (built,) = out.glob("otel_run-*.whl")
    yield built


APP = """
import logging, sqlite3, sys, urllib.request
from opentelemetry import trace

logging.basicConfig(level=logging.INFO)
with trace.get_tracer("smoke").start_as_current_span("checkout"):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (x)")
    db.cursor().execute("SELECT x FROM t").fetchall()
    try:
        urllib.request.urlopen(sys.argv[1], timeout=5).read()
    except OSError:
        pass  # the receiver answers 404 to GET /; the span is what matters
    logging.getLogger("smoke").info("checked out on %s", sys.version.split()[0])
print("done")
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize("version", declared_versions())
def test_wheel_runs_under_declared_python(
    version: str, wheel: Path, receiver: Receiver, tmp_path: Path
) -> None:
    """The wheel installs into a venv of this Python version and its app's telemetry arrives."""
    python = find_interpreter(version)
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=120, env=clean_env())
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=480,
        env=clean_env(),
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    (tmp_path / "app.py").write_text(APP)
    env = otlp_env(receiver, OTEL_SERVICE_NAME=f"smoke-{version}")
    done = subprocess.run(
        [str(venv / "bin" / "otel-run"), str(venv / "bin" / "python"), "app.py", receiver.http_url + "/"],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == "done\n", done.stderr
    assert f"otel-run: service smoke-{version};" in done.stderr
    for trouble in ("could not be loaded", "failed", "Traceback", "Exception ignored"):
        assert trouble not in done.stderr, done.stderr

    def arrived() -> bool:
        names = {(s.name, s.kind) for s in receiver.store.spans()}
        return {("checkout", "INTERNAL"), ("SELECT", "CLIENT"), ("GET", "CLIENT")} <= names and any(
            "checked out" in str(log.body) for log in receiver.store.logs()
        )

    assert receiver.store.wait_for(lambda _store: arrived(), 15), [
        (s.name, s.kind) for s in receiver.store.spans()
    ]
    spans = receiver.store.spans()
    root = next(s for s in spans if s.name == "checkout")
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert all(s.parent_span_id == root.span_id for s in spans if s is not root)
    assert {str(s.resource["process.runtime.version"]).rsplit(".", 1)[0] for s in spans} == {version}
