"""The entry-point index in the images: built at image build time, read by every boot after.

The golden image writes it (``otel-run index`` in ``Dockerfile.base``); the sample app's
image writes it again after its ``pip install``. A container with a read-only root and
an arbitrary user in group 0 (OpenShift's) then boots without scanning the installed
distributions, and exports as before.
"""

from __future__ import annotations

import pytest
from image_engine import Engine

from otel_run.receiver import Receiver

APP = """
import sys
loaded = "importlib.metadata" in sys.modules
from opentelemetry import trace
with trace.get_tracer("image-index").start_as_current_span("indexed"):
    pass
print("importlib.metadata at boot:", loaded)
"""
LOCKED_DOWN = ["--read-only", "--tmpfs", "/tmp", "--user", "12345:0"]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("which", ["golden", "sample"])
def test_a_read_only_container_boots_from_the_prebuilt_index(
    which: str, engine: Engine, golden_image: str, sample_image: str, receiver: Receiver
) -> None:
    """As an arbitrary user on a read-only root, the boot finds the index valid: no scan, spans arrive."""
    image = golden_image if which == "golden" else sample_image
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": f"index-{which}",
    }
    done = engine.run(image, ["python", "-c", APP], env=env, options=LOCKED_DOWN)
    assert done.returncode == 0, done.stderr
    assert "importlib.metadata at boot: False" in done.stdout, done.stdout + done.stderr
    assert receiver.store.wait_for(
        lambda store: any(s.name == "indexed" and s.service == f"index-{which}" for s in store.spans()), 15
    )
