"""launch.build_env and boot_dir (pure), and cli.explain_exec_error's exit codes and hints."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from otel_run.cli import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, explain_exec_error
from otel_run.launch import BOOTED_MARKER, boot_blocker, boot_dir, build_env

BOOT = Path("/opt/otel-run/_boot")
SEP = os.pathsep


@pytest.mark.timeout(10)
def test_boot_dir_holds_only_sitecustomize() -> None:
    """The installed boot directory exists and sitecustomize.py is the only importable thing in it."""
    directory = boot_dir()
    assert directory.is_absolute()
    names = sorted(entry.name for entry in directory.iterdir() if entry.name != "__pycache__")
    assert names == ["sitecustomize.py"]


@pytest.mark.timeout(10)
def test_boot_dir_goes_first_on_an_empty_pythonpath() -> None:
    """Without PYTHONPATH, the app's PYTHONPATH is exactly the boot directory."""
    env = build_env({"HOME": "/root"}, BOOT)
    assert env == {"HOME": "/root", "PYTHONPATH": str(BOOT), BOOTED_MARKER: str(BOOT)}


@pytest.mark.timeout(10)
def test_existing_pythonpath_entries_follow_in_order() -> None:
    """The user's PYTHONPATH entries are kept, in order, after the boot directory."""
    env = build_env({"PYTHONPATH": f"/a{SEP}/b{SEP}/a"}, BOOT)
    assert env["PYTHONPATH"] == SEP.join([str(BOOT), "/a", "/b"])


@pytest.mark.timeout(10)
def test_empty_pythonpath_entries_are_dropped() -> None:
    """Empty entries (which would add the current directory) are not passed on."""
    env = build_env({"PYTHONPATH": f"{SEP}/a{SEP}{SEP}"}, BOOT)
    assert env["PYTHONPATH"] == SEP.join([str(BOOT), "/a"])


@pytest.mark.timeout(10)
def test_nesting_does_not_repeat_the_boot_directory(tmp_path: Path) -> None:
    """Building twice, or with a symlink to the boot directory already listed, lists it once."""
    boot = tmp_path / "boot"
    boot.mkdir()
    link = tmp_path / "link"
    link.symlink_to(boot)
    once = build_env({"PYTHONPATH": f"{link}{SEP}/x"}, boot)
    assert once["PYTHONPATH"] == SEP.join([str(boot), "/x"])
    assert build_env(once, boot)["PYTHONPATH"] == once["PYTHONPATH"]


@pytest.mark.timeout(10)
def test_build_env_does_not_change_its_input() -> None:
    """build_env returns a new mapping and leaves the given environment alone."""
    environ = {"PYTHONPATH": "/a", "OTEL_SERVICE_NAME": "x"}
    env = build_env(environ, BOOT)
    assert environ == {"PYTHONPATH": "/a", "OTEL_SERVICE_NAME": "x"}
    assert env["OTEL_SERVICE_NAME"] == "x"


# --- exec errors (cli.explain_exec_error) ---------------------------------------------


def not_found() -> OSError:
    """The error execvpe raises for a missing program."""
    return FileNotFoundError(errno.ENOENT, "No such file or directory")


@pytest.mark.timeout(10)
def test_missing_command_is_127(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare name not on PATH exits 127 and says so."""
    monkeypatch.chdir(tmp_path)
    assert explain_exec_error("nope", not_found(), "/usr/bin") == (
        EXIT_NOT_FOUND,
        "command not found on PATH: 'nope'",
    )
    assert explain_exec_error("/no/such/tool", not_found(), "/usr/bin") == (
        EXIT_NOT_FOUND,
        "command not found: '/no/such/tool'",
    )


@pytest.mark.timeout(10)
def test_python_script_name_suggests_otel_run_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'otel-run app.py' hints at 'otel-run python app.py'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("print(1)\n")
    assert explain_exec_error("app.py", not_found(), "/usr/bin") == (
        EXIT_NOT_FOUND,
        "'app.py' is not on PATH; did you mean 'otel-run python app.py'?",
    )


@pytest.mark.timeout(10)
def test_file_in_this_folder_suggests_dot_slash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-Python file in the current folder hints at './name'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tool").write_text("#!/bin/sh\necho hi\n")
    assert explain_exec_error("tool", not_found(), "/usr/bin") == (
        EXIT_NOT_FOUND,
        "'tool' is not on PATH; to run the file in this folder, use './tool'",
    )


@pytest.mark.timeout(10)
def test_not_executable_is_126(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file without execute permission exits 126; Python source gets the 'otel-run python' hint."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job").write_text("import sys\n")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01")
    denied = PermissionError(errno.EACCES, "Permission denied")
    assert explain_exec_error("./job", denied, "") == (
        EXIT_NOT_EXECUTABLE,
        "'./job' is not executable; did you mean 'otel-run python ./job'?",
    )
    assert explain_exec_error("./data.bin", denied, "") == (
        EXIT_NOT_EXECUTABLE,
        "'./data.bin' is not executable; check its permissions",
    )


@pytest.mark.timeout(10)
def test_directory_is_126(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running a directory exits 126 and says it is a directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    denied = PermissionError(errno.EACCES, "Permission denied")
    assert explain_exec_error("./src", denied, "") == (
        EXIT_NOT_EXECUTABLE,
        "'./src' is a directory, not a command",
    )


@pytest.mark.timeout(10)
def test_other_exec_errors_are_126_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the kernel cannot run, or any other exec error, exits 126 with the reason."""
    monkeypatch.chdir(tmp_path)
    assert explain_exec_error("./blob", OSError(errno.ENOEXEC, "Exec format error"), "") == (
        EXIT_NOT_EXECUTABLE,
        "'./blob' is not a program this system can run",
    )
    assert explain_exec_error("./big", OSError(errno.E2BIG, "Argument list too long"), "") == (
        EXIT_NOT_EXECUTABLE,
        "cannot run './big': Argument list too long",
    )


@pytest.mark.timeout(10)
def test_the_launched_command_is_not_a_child() -> None:
    """An app's OTEL_RUN_PARENT_PID is removed: what otel-run launches announces itself."""
    env = build_env({"OTEL_RUN_PARENT_PID": "1234", "OTEL_RUN_PARENT_SERVICE": "shop", "HOME": "/root"}, BOOT)
    assert "OTEL_RUN_PARENT_PID" not in env and "OTEL_RUN_PARENT_SERVICE" not in env
    assert env["HOME"] == "/root"


def _no_shebang(program: str) -> str | None:
    return None


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["python", "-I", "app.py"], "I"),
        (["python3.12", "-E", "app.py"], "E"),
        (["/usr/bin/python3", "-S", "app.py"], "S"),
        (["python", "-bbI", "app.py"], "I"),
        (["python", "-W", "error", "-Es", "app.py"], "E"),
        (["python", "-Xdev", "-I", "-m", "pkg"], "I"),
        (["python", "--check-hash-based-pycs", "always", "-I", "app.py"], "I"),
    ],
)
def test_flags_that_keep_the_boot_out_are_found(argv: list[str], flag: str) -> None:
    """-I, -E and -S among Python's own options are named, with the fix."""
    found = boot_blocker(argv, _no_shebang)
    assert found is not None
    problem, fix = found
    assert f" -{flag}'" in problem and fix.startswith(f"drop -{flag}")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "argv",
    [
        ["python", "app.py", "-I"],  # the app's own argument
        ["python", "-c", "pass", "-E"],
        ["python", "-m", "pkg", "-S"],
        ["python", "-W", "-I", "app.py"],  # -I is -W's value here
        ["python", "-s", "-B", "app.py"],
        ["gunicorn", "-I"],
        [],
    ],
)
def test_other_commands_and_flags_are_left_alone(argv: list[str]) -> None:
    """Options after the script, -c or -m, option values, and non-Python commands are not flags."""
    assert boot_blocker(argv, _no_shebang) is None


@pytest.mark.timeout(10)
def test_a_shebang_line_is_read_for_flags() -> None:
    """A script whose #! line runs Python with -I (directly or through env -S) is named."""
    for line in ("#!/usr/bin/python3 -I", "#!/usr/bin/env -S python3 -Es", "#!/usr/bin/env python3 -I"):
        assert boot_blocker(["./tool"], lambda program, line=line: line) is not None, line
    assert boot_blocker(["./tool"], lambda program: "#!/bin/sh -e") is None
    assert boot_blocker(["./tool"], lambda program: "#!/usr/bin/python3") is None


@pytest.mark.timeout(10)
def test_monkey_patch_first_is_planned_only_for_certain_commands() -> None:
    """The boot patches first only where the command certainly patches first."""
    from otel_run.runtime.greenlets import planned_patch

    scripts = {
        "first.py": "from gevent import monkey; monkey.patch_all()\nimport app\n",
        "doc.py": '"""Doc."""\n# comment\nfrom __future__ import annotations\n'
        "import eventlet\neventlet.monkey_patch()\n",
        "args.py": "from gevent import monkey; monkey.patch_all(thread=False)\n",
        "late.py": "import os\nfrom gevent import monkey; monkey.patch_all()\n",
    }

    def plan(*argv: str) -> tuple[str, int] | None:
        found = planned_patch(["python", *argv], scripts.get)
        return None if found is None else (found.library, found.lineno)

    assert plan("first.py") == ("gevent", 1)
    assert plan("doc.py") == ("eventlet", 4)
    assert plan("args.py") is None and plan("late.py") is None and plan("missing.py") is None
    assert plan("/venv/bin/gunicorn", "-k", "gevent", "app:app") == ("gevent", 1)
    assert plan("-m", "gunicorn", "--worker-class=eventlet", "app:app") == ("eventlet", 1)
    assert plan("-m", "celery", "-A", "tasks", "worker", "-P", "gevent") == ("gevent", 1)
    assert plan("/venv/bin/gunicorn", "-k", "gthread", "app:app") is None
    assert plan("-c", "from gevent import monkey; monkey.patch_all()") is None
