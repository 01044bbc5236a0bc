"""The entry-point index through the real CLI: a warm boot skips importlib.metadata, and
installing, removing or an unusable cache never changes what is instrumented or exported."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from apps import PYTHON, otlp_env, run, run_script, startup_lines
from otel_run.receiver import Receiver

# Before it exports anything, the app says whether importlib.metadata was imported by the
# time its own code ran (the boot is over then), and makes one span.
APP = """
import sys
loaded = "importlib.metadata" in sys.modules
from opentelemetry import trace
with trace.get_tracer("index-test").start_as_current_span("indexed"):
    pass
print("importlib.metadata at boot:", loaded)
"""


def settle() -> None:
    """Wait until every sys.path entry is older than the index's racy window (2 s): an entry
    changed just before (a ``pip install`` moments ago) would rightly be rescanned each time."""
    newest = max(os.stat(entry).st_mtime for entry in sys.path if entry and os.path.isdir(entry))
    time.sleep(max(0.0, min(3.0, newest + 3.0 - time.time())))


def spans_named(receiver: Receiver, name: str, count: int) -> bool:
    return receiver.store.wait_for(
        lambda store: len([s for s in store.spans() if s.name == name]) >= count, 15
    )


@pytest.mark.timeout(90)
def test_a_warm_index_spares_the_boot_importlib_metadata(receiver: Receiver, tmp_path: Path) -> None:
    """Cold, the boot scans (importlib.metadata imported); warm, it reads the index and does not,
    and both runs export the app's span with the same startup line."""
    settle()
    env = otlp_env(receiver, OTEL_RUN_CACHE_DIR=str(tmp_path / "cache"))
    cold = run_script(APP, env, tmp_path)
    warm = run_script(APP, env, tmp_path)
    assert cold.returncode == warm.returncode == 0, cold.stderr + warm.stderr
    assert "importlib.metadata at boot: True" in cold.stdout
    assert "importlib.metadata at boot: False" in warm.stdout
    assert warm.stderr == cold.stderr and len(startup_lines(warm.stderr)) == 1
    assert spans_named(receiver, "indexed", 2)
    assert os.listdir(tmp_path / "cache")


@pytest.mark.timeout(90)
def test_an_unwritable_cache_changes_nothing_the_app_sees(receiver: Receiver, tmp_path: Path) -> None:
    """A cache directory that cannot be created: the output and spans of a cached run, not a word more."""
    settle()
    (tmp_path / "a-file").write_text("")
    broken = otlp_env(receiver, OTEL_RUN_CACHE_DIR=str(tmp_path / "a-file" / "cache"))
    working = otlp_env(receiver, OTEL_RUN_CACHE_DIR=str(tmp_path / "cache"))
    run_script(APP, working, tmp_path)  # warm
    results = [run_script(APP, broken, tmp_path), run_script(APP, working, tmp_path)]
    assert [r.returncode for r in results] == [0, 0]
    assert results[0].stderr == results[1].stderr and len(startup_lines(results[0].stderr)) == 1
    assert "importlib.metadata at boot: True" in results[0].stdout  # it scanned, every time
    assert spans_named(receiver, "indexed", 3)


FAKE_INSTRUMENTOR = textwrap.dedent(
    """
    import sys
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

    class FakeInstrumentor(BaseInstrumentor):
        def instrumentation_dependencies(self):
            return []

        def _instrument(self, **kwargs):
            sys.stdout.write("fake json instrumentor on\\n")

        def _uninstrument(self, **kwargs):
            pass
    """
)


@pytest.mark.timeout(120)
def test_installing_and_removing_an_instrumentor_is_seen_by_the_next_boot(
    receiver: Receiver, tmp_path: Path
) -> None:
    """With a warm index, a distribution added to a path entry is armed at the next boot, and
    gone at the one after its removal, exactly as without an index."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "fake_instr.py").write_text(FAKE_INSTRUMENTOR)
    past = time.time() - 60
    os.utime(plugins, (past, past))
    settle()
    env = otlp_env(receiver, OTEL_RUN_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(plugins))
    app = "import json\n" + APP
    before = run_script(app, env, tmp_path)
    info = plugins / "fake_instr-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-instr\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[opentelemetry_instrumentor]\njson = fake_instr:FakeInstrumentor\n"
    )
    installed = run_script(app, env, tmp_path)
    for child in info.iterdir():
        child.unlink()
    info.rmdir()
    removed = run_script(app, env, tmp_path)
    (tmp_path / "a-file").write_text("")
    without_index = run_script(app, {**env, "OTEL_RUN_CACHE_DIR": str(tmp_path / "a-file" / "x")}, tmp_path)
    assert [r.returncode for r in (before, installed, removed)] == [0, 0, 0]
    assert "fake json instrumentor on" not in before.stdout
    assert "fake json instrumentor on" in installed.stdout
    assert "fake json instrumentor on" not in removed.stdout
    assert removed.stderr == without_index.stderr
    # The same output, but for the line that says whether the boot scanned (it must not, warm).
    assert removed.stdout.replace("boot: False", "boot: True") == without_index.stdout
    assert "importlib.metadata at boot: False" in removed.stdout
    assert spans_named(receiver, "indexed", 4)


@pytest.mark.timeout(90)
def test_otel_run_index_prebuilds_a_warm_index(receiver: Receiver, tmp_path: Path) -> None:
    """`otel-run index` (the image build step) writes the index: the very first boot is warm."""
    cache = tmp_path / "cache"
    env = otlp_env(receiver, OTEL_RUN_CACHE_DIR=str(cache))
    built = run(["index"], env)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("otel-run: indexed ") and f"in {cache}" in built.stdout
    first = run([PYTHON, "-c", APP], env, cwd=tmp_path)
    assert "importlib.metadata at boot: False" in first.stdout, first.stdout + first.stderr
    assert spans_named(receiver, "indexed", 1)


@pytest.mark.timeout(60)
def test_otel_run_index_says_when_it_cannot_write(tmp_path: Path, receiver: Receiver) -> None:
    """`otel-run index` into a location that cannot be written: one line naming the variable, exit 1."""
    (tmp_path / "a-file").write_text("")
    result = run(["index"], otlp_env(receiver, OTEL_RUN_CACHE_DIR=str(tmp_path / "a-file" / "x")))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "OTEL_RUN_CACHE_DIR" in result.stderr
