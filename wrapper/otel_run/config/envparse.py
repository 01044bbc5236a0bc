"""Pure parsers for environment values: a bad value becomes one warning and a default.

Every parser takes the variable's name and raw value, returns the parsed value, and
appends at most one warning to the caller's list. Nothing here reads ``os.environ``.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import TypeVar

    T = TypeVar("T")

_TRUE = "true"
_FALSE = "false"
# The specification asks SDKs to support integers up to 2**31 - 1; larger values reach
# C-level waits and sizes upstream (threading waits, deque maxlen, socket timeouts) and
# raise OverflowError there, killing the exporter thread or the whole boot.
MAX_INT = 2**31 - 1
# What an HTTP/1.1 header can carry (RFC 9110 token; visible ASCII with inner spaces).
# Anything else makes every export fail inside requests or grpc, with an error message
# that quotes the value, so such headers are rejected here, where values are never shown.
# Sets of characters, not regular expressions: ``re`` costs every process ~3 ms to import.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_VISIBLE = frozenset(map(chr, range(0x21, 0x7F)))
_INNER = _VISIBLE | {" ", "\t"}


def _header_name(key: str) -> bool:
    """Whether ``key`` is an RFC 9110 token."""
    return bool(key) and all(char in _TOKEN for char in key)


def _header_value(value: str) -> bool:
    """Whether ``value`` is empty or visible ASCII, with spaces and tabs only inside it."""
    if not value:
        return True
    return value[0] in _VISIBLE and value[-1] in _VISIBLE and all(char in _INNER for char in value)


def _finite(value: float) -> bool:
    # math.isfinite without importing math: inf - inf and nan - nan are nan.
    return value - value == 0.0


def _unquote(text: str) -> str:
    """``urllib.parse.unquote(text, errors="strict")``; that module (with ``re`` and
    ``ipaddress``) is imported only for a value that holds a ``%``."""
    if "%" not in text:
        return text
    from urllib.parse import unquote

    return unquote(text, errors="strict")


def utf8_text(value: str) -> str:
    """``value`` as the UTF-8 text it was written as.

    Under a C or POSIX locale without UTF-8 mode (``LC_ALL=C PYTHONUTF8=0``) Python decodes
    the environment and ``argv`` as ASCII, keeping each other byte as a lone surrogate
    (PEP 383). Such a string cannot be encoded into OTLP, and upstream drops the whole
    attribute (a Korean ``OTEL_SERVICE_NAME`` became ``unknown_service``). Telemetry is
    UTF-8 by specification, so the bytes are decoded as UTF-8 (undecodable ones replaced).
    """
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(value).decode("utf-8", "replace")
    return value


def utf8_environ(environ: Mapping[str, str]) -> Mapping[str, str]:
    """``environ`` with every value passed through ``utf8_text`` (itself when all are ASCII)."""
    if all(value.isascii() for value in environ.values()):
        return environ
    return {name: utf8_text(value) for name, value in environ.items()}


def utf8_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with every argument passed through ``utf8_text``."""
    return [utf8_text(arg) for arg in argv]


class Warnings(list[str]):
    """The warnings one parse produced, in order; each is one line without the prefix."""

    def bad(self, name: str, raw: str, problem: str, fallback: object) -> None:
        """Record that ``name=raw`` was rejected for ``problem`` and ``fallback`` used."""
        self.append(f"{name}={_show(raw)} {problem}; using {fallback}")


SHOWN_CHARS = 80
"""How much of a value a message shows; the rest is cut (a 100 KB value is not echoed)."""


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` if it is short, else its first ``limit`` characters, an ellipsis and its length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def show(raw: str) -> str:
    """``raw`` quoted for a message, cut like ``cut`` when it is long."""
    return repr(raw) if len(raw) <= SHOWN_CHARS else repr(raw[:SHOWN_CHARS]) + f"… ({len(raw):,} characters)"


_show = show


def parse_bool(warnings: Warnings, name: str, raw: str | None, default: bool) -> bool:
    """Parse a boolean as the specification does: only ``true``/``false``, any case."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value == _TRUE:
        return True
    if value == _FALSE:
        return False
    warnings.bad(name, raw, "is not 'true' or 'false'", str(default).lower())
    return default


def parse_int(
    warnings: Warnings,
    name: str,
    raw: str | None,
    default: T,
    *,
    minimum: int = 0,
    maximum: int = MAX_INT,
    unit: str = "",
) -> int | T:
    """Parse a whole number from ``minimum`` to ``maximum``; anything else warns."""
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    try:
        value = int(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            warnings.bad(name, raw, "is not a whole number", _with_unit(default, unit))
            return default
        if not _finite(as_float) or as_float != int(as_float):
            warnings.bad(name, raw, "is not a whole number", _with_unit(default, unit))
            return default
        value = int(as_float)
    if value < minimum:
        warnings.bad(name, raw, f"is below the minimum of {minimum}", _with_unit(default, unit))
        return default
    if value > maximum:
        warnings.bad(name, raw, f"is above the maximum of {maximum}", _with_unit(default, unit))
        return default
    return value


def _with_unit(value: object, unit: str) -> str:
    return f"{value} {unit}".strip() if value is not None else "the SDK default"


def parse_ratio(warnings: Warnings, name: str, raw: str | None, default: float) -> float:
    """Parse a probability in [0, 1]."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        warnings.bad(name, raw, "is not a number", default)
        return default
    if not _finite(value) or not 0.0 <= value <= 1.0:
        warnings.bad(name, raw, "is not between 0 and 1", default)
        return default
    return value


def parse_choice(
    warnings: Warnings, name: str, raw: str | None, choices: tuple[str, ...], default: str
) -> str:
    """Parse one value out of ``choices`` (case-insensitive)."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in choices:
        return value
    warnings.bad(name, raw, f"is not one of {', '.join(choices)}", default)
    return default


def parse_list(raw: str | None) -> tuple[str, ...]:
    """Split a comma-separated list, trimming and lower-casing, dropping empties and repeats."""
    if raw is None:
        return ()
    seen: dict[str, None] = {}
    for item in raw.split(","):
        item = item.strip().lower()
        if item:
            seen.setdefault(item, None)
    return tuple(seen)


def parse_key_values(
    warnings: Warnings, name: str, raw: str | None, *, secret: bool
) -> tuple[tuple[str, str], ...]:
    """Parse ``key=value,key2=value2`` with percent-decoded values (W3C baggage style).

    With ``secret`` the variable holds credentials (``OTEL_EXPORTER_OTLP_HEADERS``): the
    warnings name only positions, never keys or values, and entries that are not valid
    HTTP headers are skipped.
    """
    if raw is None or raw.strip() == "":
        return ()
    pairs: dict[str, str] = {}
    # One warning for the whole variable, however many entries are bad.
    problems: list[str] = []
    for index, item in enumerate(raw.split(","), start=1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            where = f"entry {index}" if secret else f"entry {index} {_show(item.strip())}"
            problems.append(f"{where} is not key=value")
            continue
        # A malformed entry may hold a token in its "key" ("Authorization: Bearer x=="),
        # so secret entries are named by position only.
        what = f"entry {index}" if secret else f"the value of {key!r}"
        try:
            decoded = _unquote(value.strip())
        except UnicodeDecodeError:
            problems.append(f"{what} is not valid percent-encoding")
            continue
        if secret and not (_header_name(key) and _header_value(decoded)):
            problems.append(f"{what} is not a valid HTTP header (visible ASCII only)")
            continue
        pairs[key.lower() if secret else key] = decoded
    if problems:
        warnings.append(f"{name}: {', '.join(problems)}; skipped {'it' if len(problems) == 1 else 'them'}")
    return tuple(pairs.items())
