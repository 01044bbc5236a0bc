"""A small Celery app with no OpenTelemetry code: a Redis broker and result backend at REDIS_URL."""

from __future__ import annotations

import os

from celery import Celery

app = Celery("tasks", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])
app.conf.worker_hijack_root_logger = False


@app.task
def add(x: int, y: int) -> int:
    """Add two numbers (in a worker process)."""
    return x + y
