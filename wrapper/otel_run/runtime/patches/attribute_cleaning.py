"""Attributes: clean a flat dict of plain values in one loop instead of a recursive walk.

Every span, log record and metric measurement passes its attributes through
``opentelemetry.attributes._clean_attribute_value``: ``BoundedAttributes`` (span and log
record attributes, and each ``set_attribute``) and the metrics SDK's ``Measurement``.
For a dict it runs ``isinstance(value, Sequence)`` and ``isinstance(value, Mapping)``
(ABC checks) and then calls itself for every value, two ``isinstance`` chains each:
~14 calls per request for the Flask server span and its three measurements, the
biggest single item of a request under a profiler (docs/performance.md). No upstream
issue tracks its cost that we could find.

For exactly the common case, a ``dict`` (or the ``mappingproxy`` a sampler result
holds) whose keys are non-empty ``str`` and whose values are ``str`` within the length
limit, ``int``, ``float``, ``bool``, ``bytes`` or ``None`` (exact types, no subclasses),
upstream's result is a new dict with the same items in the same order, and no warning:
that is what we return. Scalars of those exact types are returned as they are, as
upstream does. Anything else (nested values, sequences, subclasses, empty or
non-``str`` keys, a string over the limit) is upstream's function, with its warnings.
tests/unit/test_patches.py compares both on generated values, warnings included.

Applied when the SDK is built (``patches.after_build``), to the function shape it was
written for; ``opentelemetry.sdk.metrics._internal.measurement`` imports the function by
name, so its binding is replaced too, whenever that module is imported.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_flat"
# Every name upstream's function reads: another means upstream changed it.
_NAMES = frozenset(
    {
        *("Mapping", "NoneType", "Sequence", "TYPE_CHECKING", "_clean_attribute_value", "_is_non_custom_str"),
        *("_logger", "assert_never", "bool", "bytes", "float", "int", "isinstance", "items", "len", "str"),
        *("tuple", "type", "warning"),
    }
)
_PARAMETERS = ("value", "max_string_value_length")
MEASUREMENT_MODULE = "opentelemetry.sdk.metrics._internal.measurement"


def apply() -> None:
    """Replace ``opentelemetry.attributes._clean_attribute_value`` by ``flat_first(original)``; idempotent."""
    from opentelemetry import attributes

    module: Any = attributes  # we replace one of its functions
    original = module._clean_attribute_value
    if getattr(original, _MARK, False):
        return
    code = original.__code__
    if code.co_varnames[: code.co_argcount] != _PARAMETERS or set(code.co_names) != _NAMES:
        raise LookupError("opentelemetry.attributes._clean_attribute_value changed shape")
    module._clean_attribute_value = flat_first(original)


def rebind(module: Any) -> None:
    """Point ``module``'s imported ``_clean_attribute_value`` at ours, if it holds upstream's."""
    from opentelemetry import attributes

    ours = attributes._clean_attribute_value
    if getattr(ours, _MARK, False) and vars(module).get("_clean_attribute_value") is getattr(
        ours, "__wrapped__", None
    ):
        module._clean_attribute_value = ours


def flat_first(original: Callable[[Any, int | None], Any]) -> Callable[[Any, int | None], Any]:
    """``original``'s result, computed in one loop for a flat mapping of plain values."""
    plain = frozenset({type(None), bool, int, float, bytes})
    mappings = (dict, types.MappingProxyType)

    def _clean_attribute_value(value: Any, max_string_value_length: int | None) -> Any:
        kind = type(value)
        if kind in plain:
            return value
        if kind is str:
            if max_string_value_length is None or len(value) <= max_string_value_length:
                return value
            return original(value, max_string_value_length)
        if kind not in mappings:
            return original(value, max_string_value_length)
        cleaned = {}
        for key, item in value.items():
            item_kind = type(item)
            if type(key) is not str or not key:
                return original(value, max_string_value_length)
            if item_kind is str:
                if max_string_value_length is not None and len(item) > max_string_value_length:
                    return original(value, max_string_value_length)
            elif item_kind not in plain:
                return original(value, max_string_value_length)
            cleaned[key] = item
        return cleaned

    _clean_attribute_value.__wrapped__ = original  # type: ignore[attr-defined]
    _clean_attribute_value.__doc__ = original.__doc__
    setattr(_clean_attribute_value, _MARK, True)
    return _clean_attribute_value
