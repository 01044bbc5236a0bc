"""Batch log processor: the queued copy of a log record made directly, with one shared empty context.

``BatchLogRecordProcessor.on_emit`` copies every record (``copy.copy`` of the API
``LogRecord``) and gives the copy a new empty ``Context()``, so that the queue does not
keep the record's context (and the span and baggage in it) alive until the export
(opentelemetry-python#4957, #4977). ``copy.copy`` goes through its generic protocol
(``__reduce_ex__(4)``, ``copyreg.__newobj__``, ``_reconstruct``): ~1.4 µs a record, of
which the copy itself is ~0.3. The new ``Context`` is one more object the garbage
collector tracks for as long as the record waits in the queue.

For a record of exactly the API's ``LogRecord`` class, a plain class (no ``__slots__``,
``__copy__``, ``__reduce__``/``__reduce_ex__``/``__getstate__``/``__setstate__`` of its
own, nothing registered with ``copyreg``), ``copy.copy`` makes ``cls.__new__(cls)`` and
updates its ``__dict__`` with the original's: that is what we do, without the protocol.
Other record types go through ``copy.copy``. The context every copy gets is one empty
``Context`` made once: the same value as upstream's, and ``Context`` refuses every change
(``__setitem__``, ``update`` and the rest raise), so sharing it is not observable
through its API. Everything else in ``on_emit`` is upstream's, in upstream's order.

Applied by ``patches.after_build`` when the SDK's log export module is imported, to the
method shape it was written for.
"""

from __future__ import annotations

import copy
import copyreg
from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_direct_copy"
MODULE = "opentelemetry.sdk._logs._internal.export"
# What upstream's on_emit reads: another set means upstream changed it.
_NAMES = frozenset(
    {
        *("resource", "Resource", "create", "copy", "log_record", "Context", "context"),
        *("ReadableLogRecord", "instrumentation_scope", "limits", "_batch_processor", "emit"),
    }
)
_KEYWORDS = ("log_record", "resource", "instrumentation_scope", "limits")
_OWN = ("__copy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__new__")


def apply() -> None:
    """Replace ``BatchLogRecordProcessor.on_emit`` by ``direct_copy(...)``; idempotent."""
    import importlib

    from opentelemetry._logs import LogRecord

    module: Any = importlib.import_module(MODULE)  # imported already: the watch fired
    processor = module.BatchLogRecordProcessor
    original = processor.on_emit
    if getattr(original, _MARK, False):
        return
    code = original.__code__
    if set(code.co_names) != _NAMES or _KEYWORDS not in code.co_consts or code.co_argcount != 2:
        raise LookupError("BatchLogRecordProcessor.on_emit changed shape")
    if module.copy is not copy or not plain_class(LogRecord):
        raise LookupError("the API LogRecord is no longer a plain class copy.copy copies by its __dict__")
    processor.on_emit = direct_copy(
        original, LogRecord, module.Resource, module.ReadableLogRecord, module.Context()
    )


def plain_class(cls: type) -> bool:
    """Whether ``copy.copy`` of a ``cls`` instance is ``cls.__new__(cls)`` plus its ``__dict__``."""
    for klass in cls.__mro__[:-1]:
        if vars(klass).get("__slots__") or any(name in vars(klass) for name in _OWN):
            return False
    return (
        cls not in copyreg.dispatch_table
        and cls not in getattr(copy, "_copy_dispatch", {})
        and not getattr(cls, "__abstractmethods__", None)
    )


def direct_copy(
    original: Callable[[Any, Any], Any], record_type: type, resource_type: Any, readable_type: Any, empty: Any
) -> Callable[[Any, Any], Any]:
    """``original`` (upstream's ``on_emit``), copying ``record_type`` records directly."""
    new = object.__new__

    def on_emit(self: Any, log_record: Any) -> Any:
        resource = log_record.resource if log_record.resource is not None else resource_type.create({})
        record = log_record.log_record
        if type(record) is record_type:
            api_log_record = new(record_type)
            api_log_record.__dict__.update(record.__dict__)
        else:
            api_log_record = copy.copy(record)
        api_log_record.context = empty
        readable_log_record = readable_type(
            log_record=api_log_record,
            resource=resource,
            instrumentation_scope=log_record.instrumentation_scope,
            limits=log_record.limits,
        )
        return self._batch_processor.emit(readable_log_record)

    on_emit.__wrapped__ = original  # type: ignore[attr-defined]
    on_emit.__doc__ = original.__doc__
    setattr(on_emit, _MARK, True)
    return on_emit
