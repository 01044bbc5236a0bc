"""What each OTLP/HTTP request got back, seen at the transport, not guessed from log lines.

Upstream's exporter logs "Failed to export ... due to timeout, max retries or shutdown"
for a 429 whose ``Retry-After`` exceeds the export timeout, for a dead proxy, and for a
refused connection alike. The HTTP exporters send through a transport object
(``exporter._client._transport``, SDK 1.45); we wrap its ``request`` so that every
attempt's status, ``Retry-After`` and error chain are known exactly.

At exit, a refused connection is an answer: nothing is listening, so retrying with
backoff (1 s, 2 s, 4 s ... until the export timeout) only holds the process up. When the
process is flushing for the last time and an attempt is refused, the exporter's retry
loop is told to stop (its own shutdown event, which it checks before every backoff).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attempt:
    """One HTTP request's outcome, in a few words."""

    ok: bool
    reason: str
    """``HTTP 429 Too Many Requests (rate-limited; ...)``, ``connection refused``, ..."""
    refused: bool = False
    via_proxy: bool = False
    retry_after: str | None = None


def observe(exporter: Any, on_attempt: Callable[[Attempt], None], exiting: Callable[[], bool]) -> bool:
    """Tell ``on_attempt`` of every request ``exporter`` (an OTLP/HTTP exporter) sends, and cut
    retries after a refused connection once ``exiting()``. False if there is no transport to watch."""
    client = getattr(exporter, "_client", None)
    transport = getattr(client, "_transport", None)
    request = getattr(transport, "request", None)
    if transport is None or request is None or getattr(request, "_otel_run_watched", False):
        return False

    def watched_request(*args: Any, **kwargs: Any) -> Any:
        result = request(*args, **kwargs)
        try:
            attempt = describe(result)
            on_attempt(attempt)
            if attempt.refused and exiting():
                stop = getattr(client, "_shutdown_event", None)
                if stop is not None:
                    stop.set()
        except Exception:  # noqa: BLE001 - watching must never change the export
            pass
        return result

    watched_request._otel_run_watched = True  # type: ignore[attr-defined]
    transport.request = watched_request
    return True


def describe(result: Any) -> Attempt:
    """An ``Attempt`` from a transport's ``BaseHTTPResult``."""
    status = getattr(result, "status_code", None)
    if status is not None:
        if 200 <= status < 400:
            return Attempt(True, f"HTTP {status}")
        retry_after = _header(result, "retry-after")
        reason = f"HTTP {status} {getattr(result, 'reason', None) or ''}".strip()
        if status == 429:
            asked = f"; the collector asks to retry after {retry_after} s" if retry_after else ""
            reason += f" (rate-limited{asked})"
        elif retry_after:
            reason += f" (the collector asks to retry after {retry_after} s)"
        return Attempt(False, reason, retry_after=retry_after)
    return describe_error(getattr(result, "error", None))


def describe_error(error: BaseException | None) -> Attempt:
    """An ``Attempt`` for a request that got no HTTP answer."""
    import socket  # here: only a failed export needs it

    if error is None:
        return Attempt(False, "the exporter reported a failure")
    chain = list(_chain(error))
    names = {type(link).__name__ for link in chain}
    via_proxy = any("Proxy" in name for name in names)
    refused = (
        any(isinstance(link, ConnectionRefusedError) for link in chain) or "refused" in str(error).lower()
    )
    if refused:
        reason = "connection refused"
    elif any(isinstance(link, socket.gaierror) for link in chain) or "NameResolution" in str(error):
        reason = "name or service not known"
    elif "ConnectTimeout" in names or "ConnectTimeoutError" in names:
        reason = "connect timed out"
    elif "ReadTimeout" in names or "ReadTimeoutError" in names:
        reason = "no answer within OTEL_EXPORTER_OTLP_TIMEOUT (read timed out)"
    elif "SSLError" in names:
        reason = "TLS error"
    elif "RemoteDisconnected" in names or "ProtocolError" in names:
        reason = "the server closed the connection without answering"
    else:
        reason = type(error).__name__
    if via_proxy:
        reason = f"cannot go through the proxy ({reason})"
    return Attempt(False, reason, refused=refused, via_proxy=via_proxy)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what caused it: ``__cause__``, ``__context__``, urllib3's ``reason``, args."""
    seen: set[int] = set()
    todo = [error]
    while todo and len(seen) < 20:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        for nested in (link.__cause__, link.__context__, getattr(link, "reason", None), *link.args):
            if isinstance(nested, BaseException):
                todo.append(nested)


def _header(result: Any, name: str) -> str | None:
    try:
        value = result.headers().get(name)
    except Exception:  # noqa: BLE001 - a malformed answer has no usable header
        return None
    return None if value is None else str(value).strip()[:40]
