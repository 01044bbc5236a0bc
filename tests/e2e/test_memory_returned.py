"""Under otel-run, memory the app freed goes back to the OS after an export (glibc's
``malloc_trim``, runtime/memtrim.py), and the same app without otel-run keeps it: the idle
RSS gets smaller and nothing else changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps import PYTHON, clean_env, otlp_env, run_script, startup_lines
from otel_run.receiver import Receiver

# Fills the C heap with 4 KiB blocks (bytes over 512 bytes come from malloc), keeps one in
# 16 and frees the rest: 44 MiB of free holes glibc keeps mapped, since none touches the
# heap's top. Then ends a span and watches its own RSS while that span is exported.
SCRIPT = """
import os, time
from opentelemetry import trace

def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

tracer = trace.get_tracer("memtrim-test")
with tracer.start_as_current_span("warm-up"):
    pass
getattr(trace.get_tracer_provider(), "force_flush", lambda: True)()
blocks = [(b"%04d" % (n % 10000)) * 1024 for n in range(12000)]
kept = blocks[::16]
del blocks
before = rss_kib()
time.sleep(1.2)  # past the one-trim-a-second-per-signal limit of the warm-up's export
with tracer.start_as_current_span("after the free"):
    pass
deadline = time.monotonic() + float(os.environ["WAIT_S"])
after = rss_kib()
while time.monotonic() < deadline and before - after < 20 * 1024:
    time.sleep(0.05)
    after = rss_kib()
print("spans ended;", len(kept), "blocks kept")
with open(os.environ["RSS_FILE"], "w") as out:
    out.write(f"{before} {after}")
"""


def _returned_mib(tmp_path: Path) -> float:
    before, after = (int(part) for part in (tmp_path / "rss").read_text().split())
    return (before - after) / 1024


@pytest.mark.timeout(90)
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_freed_memory_returns_to_the_os_after_an_export(
    protocol: str, receiver: Receiver, tmp_path: Path
) -> None:
    """The app's 44 MiB of freed blocks leave its RSS once a span is exported; without
    otel-run they stay; both spans arrive and the app prints the same."""
    env = otlp_env(
        receiver, protocol, OTEL_SERVICE_NAME="memtrim", WAIT_S="20", RSS_FILE=str(tmp_path / "rss")
    )
    result = run_script(SCRIPT, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: len(store.spans()) >= 2, timeout=10)
    assert sorted(item.span.name for item in receiver.store.spans()) == ["after the free", "warm-up"]
    returned = _returned_mib(tmp_path)
    assert returned >= 20, f"only {returned:.1f} MiB returned under otel-run"

    plain = subprocess.run(
        [PYTHON, "app.py"],
        env=clean_env(WAIT_S="3", RSS_FILE=str(tmp_path / "rss")),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == result.stdout
    kept = _returned_mib(tmp_path)
    assert kept < 5, f"{kept:.1f} MiB returned without otel-run: this app no longer tests trimming"


KEEPS_ITS_SPANS = """
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

kept = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(kept))
tracer = trace.get_tracer("kept")
for n in range(20):
    with tracer.start_as_current_span(f"span {n}"):
        pass
trace.get_tracer_provider().force_flush()
print(len(kept.get_finished_spans()), "spans kept")
"""


@pytest.mark.timeout(120)
def test_spans_the_app_keeps_until_exit_leave_stderr_clean(receiver: Receiver, tmp_path: Path) -> None:
    """An app that keeps its exported spans to the end (a trim still owed while modules are
    torn down) exits cleanly, 5 times: the startup line is all otel-run prints."""
    for run in range(5):
        receiver.store.clear()
        result = run_script(KEEPS_ITS_SPANS, otlp_env(receiver, OTEL_SERVICE_NAME="kept"), tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "20 spans kept\n"
        assert [line for line in result.stderr.splitlines() if line] == startup_lines(result.stderr), run
        assert receiver.store.wait_for(lambda store: len(store.spans()) == 20, timeout=10)
