"""A real OTLP receiver for tests: in-process, on free ports, HTTP and gRPC.

Use ``start_receiver()`` directly, or expose the ``receiver`` fixture from a
conftest with ``from receiver_fixture import receiver  # noqa: F401``. Point the
app under test at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_url``
(or ``receiver.grpc_url`` with ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``), then
assert on ``receiver.store`` after ``receiver.store.wait_for(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_run.receiver import Receiver


def start_receiver() -> Receiver:
    """Start a ``Receiver`` on 127.0.0.1 with OS-assigned ports; the caller must ``stop()`` it.

    Port 0 is bound by the servers themselves, so there is no window in which
    another process can take the port between choosing and binding it.
    """
    return Receiver(http=("127.0.0.1", 0), grpc=("127.0.0.1", 0)).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started receiver, fresh per test, stopped afterwards."""
    started = start_receiver()
    try:
        yield started
    finally:
        started.stop()
