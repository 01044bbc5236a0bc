"""The launcher: exec semantics, exit codes and messages of the real ``otel-run`` command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from apps import OTEL_RUN, PYTHON, clean_env, run
from otel_run import __version__

QUIET = clean_env(
    OTEL_RUN_QUIET="true",
    OTEL_TRACES_EXPORTER="none",
    OTEL_METRICS_EXPORTER="none",
    OTEL_LOGS_EXPORTER="none",
)


@pytest.mark.timeout(30)
def test_exit_code_passes_through() -> None:
    """The app's exit status is otel-run's exit status."""
    result = run([PYTHON, "-c", "import sys; sys.exit(7)"], QUIET)
    assert result.returncode == 7


@pytest.mark.timeout(30)
def test_death_by_signal_passes_through() -> None:
    """An app killed by a signal ends otel-run the same way (the process is the app's)."""
    result = run([PYTHON, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], QUIET)
    assert result.returncode == -9


@pytest.mark.timeout(30)
def test_app_keeps_the_pid() -> None:
    """otel-run execs the app: the PID Popen sees is the app's own."""
    process = subprocess.Popen(
        [OTEL_RUN, PYTHON, "-c", "import os; print(os.getpid())"],
        env=QUIET,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = process.communicate(timeout=20)
    assert int(out.strip()) == process.pid


@pytest.mark.timeout(30)
def test_missing_command_exits_127_with_one_line() -> None:
    """A command that is not on PATH gets one 'otel-run:' line and exit 127."""
    result = run(["no-such-command-xyz", "--flag"], QUIET)
    assert result.returncode == 127
    assert result.stderr == "otel-run: command not found on PATH: 'no-such-command-xyz'\n"


@pytest.mark.timeout(30)
def test_non_executable_script_exits_126_with_hint(tmp_path: Path) -> None:
    """A .py file that is not executable gets exit 126 and the 'otel-run python' hint."""
    script = tmp_path / "app.py"
    script.write_text("print('hi')\n")
    os.chmod(script, 0o644)
    result = run([str(script)], QUIET, cwd=tmp_path)
    assert result.returncode == 126
    assert (
        result.stderr.strip()
        == f"otel-run: '{script}' is not executable; did you mean 'otel-run python {script}'?"
    )


@pytest.mark.timeout(30)
def test_script_in_cwd_not_on_path_gets_hint(tmp_path: Path) -> None:
    """'otel-run app.py' for a file in the current folder names the fix."""
    (tmp_path / "app.py").write_text("print('hi')\n")
    result = run(["app.py"], QUIET, cwd=tmp_path)
    assert result.returncode == 127
    assert "did you mean 'otel-run python app.py'?" in result.stderr


@pytest.mark.timeout(30)
def test_double_dash_separates_the_command() -> None:
    """'otel-run -- CMD' runs CMD even when it looks like an option or subcommand."""
    result = run(["--", PYTHON, "-c", "print('ran')"], QUIET)
    assert result.returncode == 0 and result.stdout == "ran\n"


@pytest.mark.timeout(30)
def test_version_and_help() -> None:
    """--version prints the version; --help the usage; no arguments is a usage error."""
    assert run(["--version"], QUIET).stdout == f"otel-run {__version__}\n"
    assert "otel-run [--] COMMAND" in run(["--help"], QUIET).stdout
    empty = run([], QUIET)
    assert empty.returncode == 2 and "usage:" in empty.stderr


@pytest.mark.timeout(30)
def test_python_m_otel_run_is_the_same_command() -> None:
    """'python -m otel_run' behaves like 'otel-run'."""
    result = subprocess.run(
        [PYTHON, "-m", "otel_run", PYTHON, "-c", "import sys; sys.exit(3)"],
        env=QUIET,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 3


@pytest.mark.timeout(30)
def test_boot_dir_is_first_on_pythonpath_and_keeps_the_rest() -> None:
    """PYTHONPATH is the boot dir, then the old entries in order; the boot dir holds only sitecustomize."""
    env = dict(QUIET, PYTHONPATH=os.pathsep.join(["/x/one", "/x/two"]))
    result = run([PYTHON, "-c", "import os; print(os.environ['PYTHONPATH'])"], env)
    entries = result.stdout.strip().split(os.pathsep)
    assert entries[1:] == ["/x/one", "/x/two"]
    boot = Path(entries[0])
    assert boot.name == "_boot" and sorted(p.name for p in boot.iterdir() if p.suffix == ".py") == [
        "sitecustomize.py"
    ]
