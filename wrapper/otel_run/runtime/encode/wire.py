"""Protobuf wire format: varints, fixed-width fields, and the OTLP common messages.

Every function returns the bytes upb (protobuf's default Python backend) writes for the
same message built by opentelemetry-exporter-otlp-proto-common: fields in field-number
order, proto3 defaults left out, oneof members and set sub-messages written even when
empty. ``Unsupported`` means upstream's encoder would take another path for this input
(log and skip an attribute, or raise); the caller then hands the batch to upstream.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes

_ONE_BYTE = [bytes((n,)) for n in range(128)]
_INT64_MASK = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
# A cache of encoded attribute keys (``0a LEN UTF-8``): keys repeat in every span.
_KEYS: dict[str, bytes] = {}
_MAX_KEYS = 1024
_STR_ENTRIES: dict[tuple[str, Any], bytes] = {}
_INT_ENTRIES: dict[tuple[str, Any], bytes] = {}
# The values worth caching repeat (method, route, host, status): a few dozen per app. The
# caches live as long as the process and every entry is idle RSS, so they stay small:
# 512 entries, long values (a SQL statement, a URL with its query) not kept, so at most
# ~0.3 MB for strings and ~0.12 MB for ints, whatever the app puts in its attributes.
_MAX_ENTRIES = 512
_MAX_CACHED_ENTRY = 256
# The peer's port differs on every connection: caching it only ever missed, and filled
# the int cache (0.47 MB at 2,048 entries on the sample app's dev server).
_UNCACHED_INT_KEYS = frozenset(
    ("client.port", "net.peer.port", "net.sock.peer.port", "network.peer.port", "source.port")
)
# "12 LEN 0a LEN" ahead of a string AnyValue of n UTF-8 bytes, for n small enough that
# both lengths take one byte.
_STRING_HEADS = [b"\x12" + bytes((n + 2,)) + b"\x0a" + bytes((n,)) for n in range(0x7E)]


class Unsupported(Exception):
    """A value upstream's encoder does not encode as a plain field (it logs and skips the
    attribute, or raises): the batch goes to upstream's encoder, which does what it does."""


def varint(value: int) -> bytes:
    """An unsigned varint; ``value`` must be >= 0."""
    if value < 0x80:
        return _ONE_BYTE[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length(data: bytes) -> bytes:
    """The varint length prefix of a length-delimited field."""
    size = len(data)
    return _ONE_BYTE[size] if size < 0x80 else varint(size)


def uint32(value: int) -> bytes:
    """A uint32 field's payload; upstream (upb) raises outside 0..2**32-1."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise Unsupported(f"uint32 out of range: {value}")
    return varint(value)


def int64(value: int) -> bytes:
    """An int64 field's payload (negative numbers take ten bytes, two's complement)."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise Unsupported(f"int64 out of range: {value}")
    return varint(value & _INT64_MASK)


def enum(value: int) -> bytes:
    """An enum field's payload (an int32 varint)."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if not -(1 << 31) <= value < (1 << 31):
        raise Unsupported(f"enum out of range: {value}")
    return varint(value & _INT64_MASK)


def fixed64(value: int) -> bytes:
    """A fixed64 field's payload; raises outside 0..2**64-1, as upb does."""
    return _pack_fixed64(value)


def fixed32(value: int) -> bytes:
    """A fixed32 field's payload."""
    return _pack_fixed32(value)


def text(value: str) -> bytes:
    """UTF-8 of a string field; a string with lone surrogates is upstream's to refuse."""
    try:
        return value.encode()
    except (UnicodeEncodeError, AttributeError) as error:
        raise Unsupported(str(error)) from None


def string_field(tag: bytes, value: str | None) -> bytes:
    """A proto3 string field: nothing when None or empty."""
    if value is None:
        return b""
    data = text(value)
    return tag + length(data) + data if data else b""


def any_value(value: Any) -> bytes:
    """The body of an ``AnyValue``, as upstream's ``_encode_value`` builds it.

    The exact-type checks come first for speed; any other type goes through the same
    ``isinstance`` chain as upstream, in the same order.
    """
    kind = type(value)
    if kind is str:
        data = text(value)
        return b"\x0a" + length(data) + data
    if kind is int:
        return b"\x18" + int64(value)
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is float:
        return b"\x21" + _pack_double(value)
    if kind is tuple or kind is list:
        return _array(value)
    return _any_value_slow(value)


def _any_value_slow(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        data = text(value)
        return b"\x0a" + length(data) + data
    if isinstance(value, int):
        return b"\x18" + int64(int(value))
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, bytes):
        return b"\x3a" + length(value) + bytes(value)
    if isinstance(value, Sequence):
        return _array(value)
    if isinstance(value, Mapping):
        entries = [_key_value(text(str(key)), item) for key, item in value.items()]
        body = b"".join(entries)
        return b"\x32" + length(body) + body
    raise Unsupported(f"Invalid type {type(value)} of value {value}")


def _array(values: Sequence[Any]) -> bytes:
    parts = []
    for item in values:
        encoded = any_value(item)
        parts.append(b"\x0a" + length(encoded) + encoded)
    body = b"".join(parts)
    return b"\x2a" + length(body) + body


def _key_value(key: bytes, value: Any) -> bytes:
    """One ``KeyValue`` entry of an ``ArrayValue``/``KeyValueList``: ``0a LEN body``."""
    encoded = any_value(value)
    body = (b"\x0a" + length(key) + key if key else b"") + b"\x12" + length(encoded) + encoded
    return b"\x0a" + length(body) + body


def _key(key: Any) -> bytes:
    cached = _KEYS.get(key) if type(key) is str else None
    if cached is not None:
        return cached
    if not isinstance(key, str):
        raise Unsupported(f"attribute key {key!r} is not a string")
    data = text(key)
    encoded = b"\x0a" + length(data) + data if data else b""
    if type(key) is str:
        if len(_KEYS) >= _MAX_KEYS:
            _KEYS.clear()
        _KEYS[key] = encoded
    return encoded


def attributes(tag: bytes, attrs: Mapping[str, Any] | None) -> list[bytes]:
    """Repeated ``KeyValue`` fields under ``tag``, one per attribute, in mapping order.

    A ``KeyValue`` whose value is a ``str`` or an ``int`` is cached (length prefix and
    body) by ``(key, value)``: server spans repeat the same method, route, host and
    status in every span. One cache per value type, so ``1`` never meets ``True`` or
    ``1.0``; entries up to 256 bytes, cleared when full (``_MAX_ENTRIES``); peer ports
    are never cached.
    """
    if not attrs:
        return []
    out: list[bytes] = []
    # BoundedAttributes' own items() goes through __iter__ (a lock and a copy unless
    # immutable) and __getitem__ per key: 5 µs for 13 attributes. Its dict holds the same
    # pairs in the same order; if another thread changes it meanwhile, the RuntimeError
    # sends the batch to upstream's encoder.
    pairs = attrs._dict.items() if type(attrs) is BoundedAttributes else attrs.items()
    append = out.append
    # Each pair is the (key, value) tuple the caches are keyed by: no tuple built per lookup.
    for pair in pairs:
        kind = type(pair[1])
        if kind is str:
            entry = _STR_ENTRIES.get(pair)
            if entry is None:
                entry = _remember(_STR_ENTRIES, *pair)
        elif kind is int:
            entry = _INT_ENTRIES.get(pair)
            if entry is None:
                key, value = pair
                entry = (
                    _entry(key, value) if key in _UNCACHED_INT_KEYS else _remember(_INT_ENTRIES, key, value)
                )
        else:
            entry = _entry(*pair)
        append(tag + entry)
    return out


def _remember(cache: dict[tuple[str, Any], bytes], key: Any, value: Any) -> bytes:
    entry = _entry(key, value)
    if type(key) is str and len(entry) <= _MAX_CACHED_ENTRY:
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        cache[(key, value)] = entry
    return entry


def _entry(key: Any, value: Any) -> bytes:
    """One attribute as ``LEN KeyValue``; a short string value without the generic calls."""
    name = _KEYS.get(key) if type(key) is str else None
    if name is None:
        name = _key(key)
    if type(value) is str:
        data = text(value)
        size = len(data)
        if size < len(_STRING_HEADS):
            body = name + _STRING_HEADS[size] + data
        else:
            body = name + b"\x12" + varint(size + 1 + len(varint(size))) + b"\x0a" + varint(size) + data
    else:
        encoded = any_value(value)
        body = name + b"\x12" + length(encoded) + encoded
    size = len(body)
    return (_ONE_BYTE[size] if size < 0x80 else varint(size)) + body


def instrumentation_scope(scope: Any) -> bytes:
    """The body of an ``InstrumentationScope`` (empty for no scope, as upstream)."""
    if scope is None:
        return b""
    parts = [string_field(b"\x0a", scope.name), string_field(b"\x12", scope.version)]
    parts += attributes(b"\x1a", scope.attributes)
    return b"".join(parts)


def resource(res: Any) -> bytes:
    """The body of a ``Resource``: its attributes (upstream sets nothing else)."""
    return b"".join(attributes(b"\x0a", res.attributes))


def message(tag: bytes, body: bytes) -> bytes:
    """A length-delimited field: ``tag LEN body``."""
    return tag + length(body) + body
