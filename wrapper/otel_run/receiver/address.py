"""Parse and format ``HOST:PORT`` addresses for the receiver's listeners."""

from __future__ import annotations


def format_host_port(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``HOST``, ``PORT``, ``:PORT`` or ``[IPV6]:PORT`` into ``(host, port)``.

    A missing host means 127.0.0.1 (say 0.0.0.0 to listen on all interfaces), a
    missing port means ``default_port``; an ``http://`` prefix and a trailing
    slash are tolerated so an endpoint URL can be pasted. Raises ``ValueError``
    with a message that names the problem.
    """
    value = text.strip()
    if value.startswith("https://"):
        raise ValueError(f"{text!r}: the receiver does not serve TLS; use HOST:PORT")
    if value.startswith("http://"):
        value = value[len("http://") :]
    value = value.rstrip("/")
    if not value:
        raise ValueError(f"{text!r} is empty; expected HOST:PORT such as 127.0.0.1:{default_port}")
    if "/" in value:
        raise ValueError(f"{text!r} has a path; expected HOST:PORT such as 127.0.0.1:{default_port}")
    if value.isdigit():
        return "127.0.0.1", _port(value, text)
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or not host or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not a valid [IPV6]:PORT address")
        return host, _port(rest[1:], text) if rest else default_port
    if value.count(":") > 1:
        # A bare IPv6 address: its colons are not a port separator.
        return value, default_port
    host, colon, port = value.partition(":")
    return host or "127.0.0.1", _port(port, text) if colon else default_port


def _port(value: str, text: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise ValueError(f"port {value!r} in {text!r} is not a number from 0 to 65535")
    return int(value)
