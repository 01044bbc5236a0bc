"""Start the application with the boot directory first on ``PYTHONPATH``.

``build_env`` is pure; ``exec_app`` replaces this process with the application, so the
PID, signals and exit status are the application's own. Nothing here reads ``OTEL_*``.
"""

from __future__ import annotations

import os

from otel_run.config import envvars

# The launcher imports only what the exec needs: no pathlib, re or typing (each pulls in
# several more modules; ``otel-run python app.py`` should cost little more than the exec).
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

BOOT_DIR_NAME = "_boot"
BOOTED_MARKER = "OTEL_RUN_BOOT_DIR"
"""Set in the application's environment to the boot directory in use, so that tools
(``otel-run doctor``) and nested ``otel-run`` calls can tell the app runs under otel-run."""


def boot_dir() -> Path:
    """The installed directory whose only file is otel-run's ``sitecustomize.py``."""
    from pathlib import Path

    return Path(boot_path())


def boot_path() -> str:
    """``boot_dir()`` as a string, without importing pathlib (the launcher's own use)."""
    return os.path.join(os.path.dirname(os.path.realpath(__file__)), BOOT_DIR_NAME)


def build_env(environ: Mapping[str, str], boot: str | Path) -> dict[str, str]:
    """The application's environment: ``boot`` first on ``PYTHONPATH``, the rest in order.

    An existing entry equal to ``boot`` is dropped rather than repeated, so nesting
    ``otel-run otel-run python app.py`` (or an image that already sets it) is harmless.
    Empty entries are dropped too: on ``PYTHONPATH`` they mean the current directory,
    which the application did not ask for. ``OTEL_RUN_PARENT_PID`` is removed: the
    command is the app, and announces itself even when an app started it.
    """
    env = dict(environ)
    boot_text = str(boot)
    entries = [boot_text]
    for entry in environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and entry not in entries and _resolved(entry) != boot_text:
            entries.append(entry)
    env["PYTHONPATH"] = os.pathsep.join(entries)
    env[BOOTED_MARKER] = boot_text
    # What otel-run launches is the app, not a child of one: it prints the startup line.
    env.pop(envvars.OTEL_RUN_PARENT_PID, None)
    env.pop(envvars.OTEL_RUN_PARENT_SERVICE, None)
    return env


def _resolved(entry: str) -> str:
    try:
        return os.path.realpath(entry)
    except (OSError, ValueError):
        return entry


# Interpreter options that keep the boot from running: -E and -I ignore PYTHONPATH (where the
# boot directory is), -S skips the site module (which imports sitecustomize).
_BLOCKING_FLAGS = {
    "I": "ignores PYTHONPATH",
    "E": "ignores PYTHONPATH",
    "S": "skips the site module, which imports sitecustomize",
}
_FIXES = {
    "I": "drop -I (-s -P keep the rest of its isolation)",
    "E": "drop -E",
    "S": "drop -S",
}


def _is_python(name: str) -> bool:
    """``re.fullmatch(r"(python|pypy)[\\d.]*", name)``: a Python interpreter's file name."""
    for prefix in ("python", "pypy"):
        if name.startswith(prefix):
            return all(char == "." or char.isdecimal() for char in name[len(prefix) :])  # \d is Nd
    return False


def boot_blocker(argv: Sequence[str], shebang: Callable[[str], str | None]) -> tuple[str, str] | None:
    """Why the boot cannot run in the Python that ``argv`` starts, and the fix; or None.

    ``argv`` is the command given to otel-run; ``shebang(program)`` returns the first line
    of ``program`` (found on ``PATH``) or None, for scripts whose ``#!`` line runs Python
    with such a flag. Pure: the caller does the reading.
    """
    if not argv:
        return None
    words = list(argv)
    if not _is_python(os.path.basename(words[0])):
        line = shebang(words[0])
        if not line or not line.startswith("#!"):
            return None
        words = line[2:].split()
        if words and os.path.basename(words[0]) == "env":  # #!/usr/bin/env -S python3 -I
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        if not words or not _is_python(os.path.basename(words[0])):
            return None
    flag = _first_blocking_flag(words[1:])
    if flag is None:
        return None
    name = os.path.basename(words[0])
    return f"'{name} -{flag}' {_BLOCKING_FLAGS[flag]}, so otel-run cannot boot in it", _FIXES[flag]


def _first_blocking_flag(options: Sequence[str]) -> str | None:
    """The first of -I, -E, -S among Python's options, which end at the script, -c or -m."""
    index = 0
    while index < len(options):
        option = options[index]
        if option.startswith("--"):
            if option == "--":
                return None
            index += 2 if option == "--check-hash-based-pycs" else 1  # the one long option with a value
            continue
        if not option.startswith("-") or option == "-":
            return None  # the script, or '-' for standard input
        for position, letter in enumerate(option[1:], start=1):
            if letter in _BLOCKING_FLAGS:
                return letter
            if letter in "cm":
                return None  # what follows is the program and its arguments
            if letter in "WX":
                if position == len(option) - 1:
                    index += 1  # its value is the next word
                break
        index += 1
    return None


def which(program: str, path: str) -> str | None:
    """``shutil.which(program, path=path)`` on POSIX, without importing shutil (which imports
    fnmatch, re, bz2 and lzma): the first runnable file of that name on ``path``."""
    if os.path.dirname(program):
        return program if _runnable(program) else None
    if not path:
        return None  # PATH='' finds nothing; PATH=':' looks in the current directory
    seen = set()
    for directory in path.split(os.pathsep):
        if directory not in seen:
            seen.add(directory)
            name = os.path.join(directory, program)
            if _runnable(name):
                return name
    return None


def _runnable(name: str) -> bool:
    return os.path.exists(name) and os.access(name, os.F_OK | os.X_OK) and not os.path.isdir(name)


def exec_app(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Replace this process with ``argv`` found on ``PATH``; raises OSError if it cannot."""
    os.execvpe(argv[0], list(argv), dict(env))
