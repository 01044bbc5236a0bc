"""The ``otel-run`` command: argument parsing, subcommands, exit codes and messages.

Imports nothing from ``opentelemetry`` at module level, so that ``otel-run --help`` and
the launcher stay fast and work even when the SDK is broken.
"""

from __future__ import annotations

import errno
import os
import sys

from otel_run import __version__, launch

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (launch.py says why)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

EXIT_USAGE = 2
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_STRICT = 70  # as the boot's: OTEL_RUN_STRICT=true and telemetry cannot be set up

USAGE = """\
usage: otel-run [--] COMMAND [ARGS...]    run COMMAND with OpenTelemetry configured
       otel-run doctor [--json]   explain why telemetry does or does not arrive
       otel-run status [--json]   what the running processes are exporting, right now
       otel-run receive [--http HOST:PORT] [--grpc HOST:PORT] [--jsonl FILE]
                                            a local OTLP receiver that prints traces
       otel-run index             write the entry-point index that spares each boot a scan
       otel-run --version | --help

Examples:
  otel-run python app.py
  otel-run gunicorn -w 4 app:app
  otel-run flask --app app run

Configuration comes from the standard OTEL_* environment variables (OTEL_SERVICE_NAME,
OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, ...), plus OTEL_RUN_QUIET,
OTEL_RUN_STRICT and OTEL_RUN_SHUTDOWN_TIMEOUT. See the README for the full table.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-run`` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(USAGE)
        return EXIT_USAGE
    first = args[0]
    if first in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    if first in ("-V", "--version"):
        sys.stdout.write(f"otel-run {__version__}\n")
        return 0
    if first == "doctor":
        return _doctor(args[1:], sys.stdout, sys.stderr)
    if first == "status":
        return _status(args[1:], sys.stdout)
    if first == "receive":
        return _receive(args[1:], sys.stdout, sys.stderr)
    if first == "index":
        return _index(args[1:], sys.stdout, sys.stderr)
    if first == "--":
        args = args[1:]
        if not args:
            return _usage_error("'--' must be followed by the command to run")
    elif first.startswith("-"):
        return _usage_error(f"unknown option {first!r}")
    return run(args)


def _usage_error(message: str) -> int:
    sys.stderr.write(f"otel-run: {message}\n{USAGE}")
    return EXIT_USAGE


def run(command: Sequence[str]) -> int:
    """Exec ``command`` with the boot directory on ``PYTHONPATH``; returns only on failure."""
    env = launch.build_env(os.environ, launch.boot_path())
    blocker = launch.boot_blocker(command, lambda program: _first_line(program, env.get("PATH", os.defpath)))
    if blocker is not None and _says_blocked(blocker):
        return EXIT_STRICT
    try:
        launch.exec_app(command, env)
    except OSError as error:
        code, message = explain_exec_error(command[0], error, env.get("PATH", os.defpath))
        sys.stderr.write(f"otel-run: {message}\n")
        return code
    return 0  # not reached: exec_app only returns by raising


def _says_blocked(blocker: tuple[str, str]) -> bool:
    """One line saying why the app will run without telemetry; True if strict mode forbids running it."""
    from otel_run.config.settings import Settings  # here: only this rare path needs the settings

    settings = Settings.from_env(os.environ)
    problem, fix = blocker
    if settings.disabled:
        return False
    if settings.strict:
        sys.stderr.write(
            f"otel-run: OTEL_RUN_STRICT=true and {problem}; exiting {EXIT_STRICT}. To trace it, {fix}\n"
        )
        return True
    sys.stderr.write(f"otel-run: {problem} and the app runs without telemetry; to trace it, {fix}\n")
    return False


def _first_line(program: str, path: str) -> str | None:
    """The first line of ``program`` (looked up on ``path``), or None if it cannot be read."""
    found = program if os.sep in program else launch.which(program, path)
    if not found:
        return None
    try:
        with open(found, "rb") as handle:
            return handle.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None


def explain_exec_error(program: str, error: OSError, path: str) -> tuple[int, str]:
    """The exit status (127 not found, 126 not runnable) and one line saying what to do."""
    hint = ""
    if program.endswith(".py") or (os.path.isfile(program) and _looks_like_python(program)):
        hint = f"; did you mean 'otel-run python {program}'?"
    if isinstance(error, FileNotFoundError) or error.errno == errno.ENOENT:
        if os.sep not in program and os.path.exists(program):
            hint = hint or f"; to run the file in this folder, use './{program}'"
            return EXIT_NOT_FOUND, f"'{program}' is not on PATH{hint}"
        where = "" if os.sep in program else " on PATH"
        return EXIT_NOT_FOUND, f"command not found{where}: '{program}'{hint or ''}"
    if isinstance(error, PermissionError) or error.errno in (errno.EACCES, errno.EPERM):
        resolved = program if os.sep in program else (launch.which(program, path) or program)
        if os.path.isdir(resolved):
            return EXIT_NOT_EXECUTABLE, f"'{program}' is a directory, not a command"
        return EXIT_NOT_EXECUTABLE, f"'{program}' is not executable{hint or '; check its permissions'}"
    if error.errno == errno.ENOEXEC:
        return EXIT_NOT_EXECUTABLE, f"'{program}' is not a program this system can run{hint}"
    return EXIT_NOT_EXECUTABLE, f"cannot run '{program}': {error.strerror or error}"


def _looks_like_python(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return b"import " in head or b"def " in head


def _doctor(args: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Check the environment, boot, endpoints and instrumentations; exit 0 when telemetry would arrive."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="otel-run doctor",
        description="Explain why telemetry does or does not arrive: configuration, a boot check in a "
        "child Python with this environment, and a live test span sent to the configured endpoint.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options = parser.parse_args(list(args))
    from otel_run.doctor import (
        report as doctor,  # here: it imports the probes, which the launcher never needs
    )

    report = doctor.collect(os.environ)
    out.write(doctor.render(report, as_json=options.json))
    out.flush()
    return 0 if report.ok else 1


def _status(args: Sequence[str], out: TextIO) -> int:
    """List the live booted processes with a verdict each; exit 0 when all export or are idle."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="otel-run status",
        description="What the processes booted by otel-run (as this user) are exporting right now: "
        "counts, drops, the last success and the current failure, from the status each one keeps.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options = parser.parse_args(list(args))
    from otel_run.status import collect, render  # here: the launcher never needs them

    report = collect.collect(os.environ)
    out.write(render.render(report, as_json=options.json))
    out.flush()
    return 0 if report.ok else 1


def _index(args: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Write this Python's entry-point index now (an image build step); exit 1 if it cannot."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="otel-run index",
        description="Scan the installed distributions of this Python once and write the index "
        "every boot then reads instead (OTEL_RUN_CACHE_DIR, else ~/.cache/otel-run). Run it after "
        "installing packages in an image build, where the running container cannot write.",
    )
    parser.parse_args(list(args))
    from otel_run.config import cachedir
    from otel_run.runtime import entrypoints, epindex  # here: only this command builds it

    directory = cachedir.directory(os.environ)
    if not epindex.supported():
        err.write("otel-run: this Python finds distributions in a way the index cannot follow; boots scan\n")
        return 1
    # Every boot has the boot directory on its path; this command's own sys.path may not.
    paths = list(dict.fromkeys([launch.boot_path(), *sys.path]))
    index, saved = epindex.rebuild(directory, paths)
    if not saved:
        err.write(
            f"otel-run: cannot write the entry-point index in {directory or '(no home directory)'}; "
            "each boot scans the installed packages instead. Set OTEL_RUN_CACHE_DIR to a writable "
            "directory\n"
        )
        return 1
    dists = index.dists(paths)
    instrumentors = epindex.entries(dists, entrypoints.INSTRUMENTORS)
    out.write(
        f"otel-run: indexed {len(dists)} distributions ({len(instrumentors)} instrumentors) "
        f"for {sys.executable} in {index.path}\n"
    )
    return 0


def _receive(args: Sequence[str], out: TextIO, err: TextIO) -> int:
    from otel_run.receiver import command  # here: the receiver pulls in protobuf and grpc

    return command.main(args, out)
