"""A batch as an OTLP export request: items grouped by resource, then by scope.

``ExportTraceServiceRequest`` and ``ExportLogsServiceRequest`` have the same shape
(``resource_*`` = 1; in it ``resource`` = 1, ``scope_*`` = 2, ``schema_url`` = 3; in
that ``scope`` = 1, the items = 2, ``schema_url`` = 3), so one function writes both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from otel_run.runtime.encode import wire


def encode_request(items: Sequence[Any], encode_item: Callable[[Any], bytes], yield_every: int = 0) -> bytes:
    """The serialized request for ``items``; ``encode_item`` returns one item's field (tag 2).

    Grouping and order are upstream's: a dict keyed by the resource, then by the scope
    (``scope or None``), so equal resources or scopes share a group, groups appear in the
    order their first item does and items keep their order within a group. The equality
    lookups (``Resource.__hash__`` serialises its attributes to JSON) are made once per
    distinct pair of objects instead of once per item.

    ``yield_every`` > 0 releases the GIL (``time.sleep(0)``) after every that many items,
    so a request thread waiting for it waits for a slice, not for the whole batch.
    """
    groups: dict[Any, dict[Any, list[bytes]]] = {}
    buckets: dict[tuple[int, int], list[bytes]] = {}
    countdown = yield_every
    for item in items:
        res = item.resource
        scope = item.instrumentation_scope or None
        encoded = encode_item(item)
        pair = (id(res), id(scope))
        bucket = buckets.get(pair)
        if bucket is None:
            scopes = groups.get(res)
            if scopes is None:
                scopes = groups[res] = {}
            bucket = scopes.get(scope)
            if bucket is None:
                bucket = scopes[scope] = []
            buckets[pair] = bucket
        bucket.append(encoded)
        if countdown:
            countdown -= 1
            if not countdown:
                countdown = yield_every
                time.sleep(0)
    out = []
    for res, scopes in groups.items():
        scoped = []
        for scope, encoded_items in scopes.items():
            body = (
                wire.message(b"\x0a", wire.instrumentation_scope(scope))
                + b"".join(encoded_items)
                + wire.string_field(b"\x1a", scope.schema_url if scope else None)
            )
            scoped.append(wire.message(b"\x12", body))
        body = (
            wire.message(b"\x0a", wire.resource(res))
            + b"".join(scoped)
            + wire.string_field(b"\x1a", res.schema_url)
        )
        out.append(wire.message(b"\x0a", body))
    return b"".join(out)
