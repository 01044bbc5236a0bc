"""Metrics SDK: the aggregation key of a flat attribute dict without the recursive walk.

Every synchronous measurement (three per HTTP server request: the active-requests counter
twice, the duration histogram once) turns its attribute dict into an aggregation key with
``_hash_attributes``: a recursive walk with two ``isinstance`` chains per value and a
sorted() with a key function, ~3.4 µs for the 9 attributes of ``http.server.duration``.
Its tagged form (``(type name, value)`` per scalar, so ``True``, ``1`` and ``1.0`` stay
three series) came with opentelemetry-python#5572 / #5573; no issue tracks its cost that
we could find.
HTTP attributes are a flat dict of ``str`` keys and ``str``, ``int``, ``float``, ``bool``,
``bytes`` or ``None`` values: for exactly those we build the same tuple upstream builds, in
one loop (``sorted()`` of distinct ``str`` keys is upstream's order, whose sort key is the
key itself for a ``str``); anything else (nested values, subclasses, non-``str`` keys) goes
to upstream's function. The result is identical either way (tests/unit/test_patches.py
compares both on generated attributes).

Applied by ``patches.after_build`` when the metrics SDK module is imported (never
importing it: a process that records no metric must not load the metrics SDK), to the
function shape it was written for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_flat"
_NAMES = frozenset(
    {
        *("Mapping", "NoneType", "Sequence", "TYPE_CHECKING", "__name__", "assert_never"),
        *("bool", "bytes", "float", "int", "isinstance", "sorted", "str", "tuple", "type"),
    }
)


def apply() -> None:
    """Replace the SDK's ``_hash_attributes`` by ``flat_first(original)``; idempotent."""
    from opentelemetry.sdk.metrics._internal import _view_instrument_match

    module: Any = _view_instrument_match  # we replace one of its functions

    original = module._hash_attributes
    if getattr(original, _MARK, False):
        return
    code = original.__code__
    constants = {c for c in code.co_consts if isinstance(c, str)}
    if set(code.co_names) != _NAMES or constants != {"sequence", "mapping"} or code.co_argcount != 1:
        raise LookupError("metrics _hash_attributes changed shape")
    module._hash_attributes = flat_first(original)


def flat_first(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``original``'s key, computed in one loop when ``value`` is a flat dict of plain values."""
    names = {kind: kind.__name__ for kind in (type(None), str, int, float, bool, bytes)}

    def _hash_attributes(value: Any) -> Any:
        if type(value) is not dict:
            return original(value)
        try:
            keys = sorted(value)
        except TypeError:  # keys of mixed types: upstream sorts them by str()
            return original(value)
        items = []
        for key in keys:
            item = value[key]
            name = names.get(type(item))
            if name is None or type(key) is not str:
                return original(value)
            items.append((key, (name, item)))
        return ("mapping", tuple(items))

    _hash_attributes.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(_hash_attributes, _MARK, True)
    return _hash_attributes
