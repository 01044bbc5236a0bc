"""The messages a logger emits while a block runs (for comparing warnings with upstream's)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def messages(name: str) -> Iterator[list[str]]:
    """A list that collects every message logger ``name`` emits until the block ends."""
    caught: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record.getMessage())

    logger = logging.getLogger(name)
    handler = Catch()
    logger.addHandler(handler)
    try:
        yield caught
    finally:
        logger.removeHandler(handler)
