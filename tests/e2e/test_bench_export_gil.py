"""``bench/export_gil.py`` times every part of a span export under ``otel-run`` against a real sink.

One short run: every part printed with its calls, lateness figures and CPU per call; the
whole export costs at least what the HTTP request alone does, and the load average is
printed. The figures themselves are not judged (that is ``bench/``'s job).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from apps import PYTHON, REPO

NUMBER = r"\d+(?:\.\d+)?"


@pytest.mark.timeout(240)
def test_every_part_of_an_export_is_timed() -> None:
    done = subprocess.run(
        [PYTHON, "bench/export_gil.py", "--rounds", "1", "--seconds", "0.5", "--batch", "128"],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "yield every 32 spans; batches of 128" in done.stdout
    rows = {}
    for part in ("encode", "send", "free", "export"):
        match = re.search(
            rf"^  {part}\s+(\d+)\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})%\s+({NUMBER})$",
            done.stdout,
            re.MULTILINE,
        )
        assert match, f"no row for {part}:\n{done.stdout}"
        calls, cpu = int(match.group(1)), float(match.group(6))
        assert calls >= 1, part
        rows[part] = cpu
    nothing = rf"^  nothing\s+0\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}%"
    assert re.search(nothing, done.stdout, re.MULTILINE)
    assert rows["encode"] > 0 and rows["send"] > 0
    assert re.search(rf"load average at the end: {NUMBER} {NUMBER} {NUMBER}", done.stdout)
