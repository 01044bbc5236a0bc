"""Give the C heap's free pages back to the OS after an export (glibc's ``malloc_trim``).

An export frees everything it allocated: the batch, its encoded bytes, the HTTP request
and response, and on the first export the temporaries of importing the exporter. glibc
keeps memory freed in the middle of its heaps (and in the exporting thread's own arena)
mapped, so it stays in the process's RSS. ``after_export`` calls ``malloc_trim(0)`` on the
exporting thread once the exported batch is freed: on the sample app's dev server after 500
requests the idle RSS is 0.5 MiB lower, and a further ``malloc_trim`` finds nothing left
to return (docs/performance.md, "Idle RSS"). Nothing but RSS changes:
glibc only releases whole free pages (``madvise``), no allocation moves, and the next
allocation there costs a page fault. ctypes releases the GIL during the call.

Cost, bounded: a trim took 0.15-0.25 ms in that process (6 µs with nothing to return).
Each signal's exporting thread trims at most once a second, and after a trim that took
``d`` seconds not again for ``1000 x d`` (a large, fragmented heap is walked under its
arena's lock), so trimming takes at most 0.1 % of each exporting thread's time. Per signal,
because the span and log processors' timers expire together: a process-wide interval
would leave the second export's garbage in place. A C library without
``malloc_trim`` (musl) or a failed look-up turns it off for the process.
"""

from __future__ import annotations

import os
import time
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MIN_INTERVAL_S = 1.0
BACKOFF_FACTOR = 1000.0

_clock = time.monotonic
_trim: Callable[[int], int] | None = None
_looked_up = False
_next: dict[str, float] = {}
_pending: dict[str, weakref.ref[object]] = {}
trims = 0
"""How many trims this process made (for tests and ``bench/``)."""


def _lookup() -> Callable[[int], int] | None:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (AttributeError, ValueError, OSError):  # not glibc, or no confstr at all
        return None
    # Here, not at import: only a process that exports pays for ctypes (the metrics SDK
    # imports it anyway).
    import ctypes

    function = ctypes.CDLL(None).malloc_trim
    function.argtypes = (ctypes.c_size_t,)
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


def after_export(signal: str, batch: object = None) -> None:
    """Trim once ``batch`` is freed, or at once when that cannot be seen. Never raises.

    The batch processors drop the batch just after ``export`` returns; trimming before
    that would leave the batch's own memory in the heap (measured: 0.4 of the 1 MiB).
    A list is freed last item first, so its first item's weak reference fires when all
    the others are gone. Metric exports (one ``MetricsData``) trim at once.
    """
    try:
        first = batch[0] if type(batch) in (list, tuple) and batch else None  # type: ignore[index]
        if first is not None:
            try:
                # One pending trim per signal: replacing it drops (and so cancels) the last.
                _pending[signal] = weakref.ref(first, _when_freed(signal))
                return
            except TypeError:  # an item without weak references
                pass
        trim(signal)
    except Exception:  # noqa: BLE001 - only memory is at stake; never the export
        pass


def _when_freed(signal: str) -> Callable[[object], None]:
    def freed(_gone: object) -> None:
        # A batch still held at interpreter exit is freed while modules are torn down,
        # when ``trim`` may already be None: that must not print "Exception ignored".
        try:
            trim(signal)
        except Exception:  # noqa: BLE001 - nothing to tell, nothing lost
            pass

    return freed


def trim(signal: str) -> None:
    """Return the C heap's free pages to the OS, unless ``signal`` trimmed less than
    ``max(1 s, 1000 x its last trim's duration)`` ago. Never raises."""
    global _trim, _looked_up, trims
    try:
        _pending.pop(signal, None)
        now = _clock()
        if now < _next.get(signal, 0.0):
            return
        _next[signal] = now + MIN_INTERVAL_S
        if not _looked_up:
            _looked_up = True
            _trim = _lookup()
        if _trim is None:
            return
        _trim(0)
        took = _clock() - now
        trims += 1
        _next[signal] = now + max(MIN_INTERVAL_S, took * BACKOFF_FACTOR)
    except Exception:  # noqa: BLE001 - only memory is at stake; never the export
        _trim = None
        _looked_up = True
