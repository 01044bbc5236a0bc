"""The launcher imports only what the exec needs: a cheap ``otel-run COMMAND`` (issue 11, lever 2)."""

from __future__ import annotations

import subprocess

import pytest

from apps import OTEL_RUN, PYTHON, clean_env

# What the exec path once imported and no longer needs (each pulls in several more modules).
NOT_ON_THE_EXEC_PATH = ("argparse", "pathlib", "re", "shutil", "typing", "dataclasses", "opentelemetry")


def launcher_imports(*command: str) -> list[str]:
    """The modules the otel-run process imported before it exec'd ``command`` (-X importtime)."""
    result = subprocess.run(
        [PYTHON, "-X", "importtime", OTEL_RUN, *command],
        env=clean_env(OTEL_RUN_QUIET="true"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Only the launcher runs Python: /bin/true prints nothing.
    return [
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [("/bin/true",), ("true",), ("--", "/bin/true")])
def test_the_exec_path_imports_no_heavy_module(command: tuple[str, ...]) -> None:
    """`otel-run true` imports neither argparse, pathlib, re, shutil, typing nor OpenTelemetry."""
    imported = launcher_imports(*command)
    assert "otel_run.launch" in imported  # the measurement saw the launcher
    heavy = [name for name in imported if name.split(".")[0] in NOT_ON_THE_EXEC_PATH]
    assert heavy == []


@pytest.mark.timeout(60)
def test_a_subcommand_still_gets_its_parser() -> None:
    """The subcommands keep argparse (imported when one runs): `otel-run status --help` works."""
    result = subprocess.run(
        [OTEL_RUN, "status", "--help"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: otel-run status")
