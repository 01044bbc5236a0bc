"""Attributes: fill a new ``BoundedAttributes`` with its cleaned items in one ``dict.update``.

``BoundedAttributes.__init__`` (every span, every log record) hands its attributes to
``_set_items``, which cleans them into a new dict and then calls ``_setitem_locked`` once
per item: a membership test, a length test against ``maxlen`` and the store, one Python
call each (12 for the sample app's server span, 3-5 for a log record). No upstream
issue tracks the cost that we could find.

When the container is still empty, the cleaned attributes are a ``dict`` (its keys are
distinct) and they fit in ``maxlen``, those calls can change nothing but insert every item
in order: no key is already there to move, nothing is dropped, no warning is logged.
That is what ``self._dict.update(cleaned)`` does, under the same lock, after the same
immutability check, cleaning and ``dropped`` count as upstream's. Anything else (a
container that already holds items, a ``maxlen`` of 0 or one the items exceed, a subclass
with its own ``_setitem_locked`` or ``_set_items``) is upstream's method as it ships.

Applied by ``patches.after_build`` when ``opentelemetry.attributes`` is imported, to the
method shape it was written for; cleaning stays whatever ``_clean_attribute_value`` the
module holds then (otel-run's ``attribute_cleaning`` or upstream's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_bulk"
# What upstream's _set_items reads: another set means upstream changed it.
_NAMES = frozenset(
    {
        *("_raise_if_immutable", "maxlen", "_lock", "dropped", "len", "_clean_attribute_value"),
        *("max_value_len", "items", "_setitem_locked"),
    }
)
_SETITEM_NAMES = frozenset(
    {"_dict", "maxlen", "len", "_logger", "warning", "next", "iter", "keys", "dropped"}
)


def apply() -> None:
    """Replace ``BoundedAttributes._set_items`` by ``bulk_when_empty(original)``; idempotent."""
    from opentelemetry import attributes

    module: Any = attributes
    bounded = module.BoundedAttributes
    original = vars(bounded)["_set_items"]
    if getattr(original, _MARK, False):
        return
    code = original.__code__
    if set(code.co_names) != _NAMES or code.co_argcount != 2:
        raise LookupError("BoundedAttributes._set_items changed shape")
    if set(bounded._setitem_locked.__code__.co_names) != _SETITEM_NAMES:
        raise LookupError("BoundedAttributes._setitem_locked changed shape")
    bounded._set_items = bulk_when_empty(original, module, bounded)


def bulk_when_empty(
    original: Callable[[Any, Any], None], module: Any, bounded: Any
) -> Callable[[Any, Any], None]:
    """``original``, with one ``dict.update`` for items that fit in an empty container."""
    setitem_locked = bounded._setitem_locked

    def _set_items(self: Any, attributes: Any) -> None:
        maxlen = self.maxlen
        if maxlen == 0 or self._dict or type(self)._setitem_locked is not setitem_locked:
            original(self, attributes)
            return
        self._raise_if_immutable()
        cleaned = module._clean_attribute_value(attributes, self.max_value_len)
        with self._lock:
            self.dropped += len(attributes) - len(cleaned)
            if type(cleaned) is dict and not self._dict and (maxlen is None or len(cleaned) <= maxlen):
                self._dict.update(cleaned)
                return
            for key, value in cleaned.items():
                self._setitem_locked(key, value)

    _set_items.__wrapped__ = original  # type: ignore[attr-defined]
    _set_items.__doc__ = original.__doc__
    setattr(_set_items, _MARK, True)
    return _set_items
