"""The launcher's own replacements for shutil.which, pathlib and a regular expression answer as they do."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from otel_run import launch


@pytest.mark.timeout(30)
@settings(max_examples=2000, deadline=None)
@given(name=st.text(st.sampled_from(list("pythonpy3.1-0_\u0661x")), max_size=12))
@example(name="python3.11")
@example(name="pypy3")
@example(name="python3.11-config")
@example(name="python\u0661")  # an Arabic-Indic digit: \d matches it
def test_python_names_are_the_regex(name: str) -> None:
    """A command's name counts as a Python interpreter exactly when (python|pypy)[\\d.]* matches it."""
    assert launch._is_python(name) == bool(re.fullmatch(r"(python|pypy)[\d.]*", name))


@pytest.mark.timeout(30)
def test_which_is_shutil_which(tmp_path: Path) -> None:
    """Runnable files, non-executables, directories, repeated and empty PATH entries: as shutil.which."""
    bin_a, bin_b, cwd = tmp_path / "a", tmp_path / "b", tmp_path / "cwd"
    for folder in (bin_a, bin_b, cwd):
        folder.mkdir()
    (bin_a / "tool").write_text("#!/bin/sh\n")
    (bin_a / "tool").chmod(0o644)  # not executable: skipped
    (bin_b / "tool").write_text("#!/bin/sh\n")
    (bin_b / "tool").chmod(0o755)
    (bin_a / "dir").mkdir()
    (cwd / "here").write_text("#!/bin/sh\n")
    (cwd / "here").chmod(0o755)
    paths = [
        f"{bin_a}{os.pathsep}{bin_b}",
        f"{bin_b}{os.pathsep}{bin_b}",
        f"{os.pathsep}{bin_a}",
        "",
        os.pathsep,
        str(bin_a),
        "/nonexistent",
    ]
    programs = ["tool", "dir", "here", "missing", str(bin_b / "tool"), str(bin_a / "tool"), "./here"]
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        for path in paths:
            for program in programs:
                assert launch.which(program, path) == shutil.which(program, path=path), (program, path)
    finally:
        os.chdir(previous)


@pytest.mark.timeout(10)
def test_boot_path_is_boot_dir() -> None:
    """The launcher's string form of the boot directory is boot_dir()."""
    assert launch.boot_path() == str(launch.boot_dir())
