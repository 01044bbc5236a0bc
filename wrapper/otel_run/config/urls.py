"""``urllib.parse.urlsplit`` / ``urlunsplit`` for the settings, without importing it for
plain URLs.

``urllib.parse`` imports ``re``, ``enum``, ``ipaddress``, ``collections`` and
``functools`` (~5 ms), and every boot parses its endpoints. ``split`` parses a URL made
only of the characters below (no brackets, no spaces or controls, no non-ASCII) with a
plain ASCII numeric port or none, where every Python from 3.10 on splits the same way
(scheme, ``//`` netloc, ``?`` query, ``#`` fragment; no netloc checks apply to ASCII),
and hands every other URL to ``urllib.parse`` itself. ``tests/unit/test_urls.py`` checks
both against ``urllib.parse`` on generated URLs.
"""

from __future__ import annotations

from otel_run.config.frozen import Frozen, fill

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from urllib.parse import SplitResult

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
# urllib.parse.scheme_chars.
_SCHEME_CHARS = frozenset(_LETTERS + _DIGITS + "+-.")
# RFC 3986's unreserved, sub-delims, gen-delims but "[]", and "%".
_PLAIN = frozenset(_LETTERS + _DIGITS + "-._~!$&'()*+,;=:/?#@%")


class Parts(Frozen):
    """A split URL, as ``urllib.parse.SplitResult`` gives it (the fields and the
    ``hostname``, ``port``, ``username`` and ``password`` properties)."""

    __slots__ = ("scheme", "netloc", "path", "query", "fragment", "real")  # noqa: RUF023 (the order is the fields' order)
    _uncompared = ("real",)
    scheme: str
    netloc: str
    path: str
    query: str
    fragment: str
    real: SplitResult | None
    """urllib's own result, when it did the split; its properties answer then."""

    def __init__(
        self,
        scheme: str,
        netloc: str,
        path: str,
        query: str,
        fragment: str,
        real: SplitResult | None = None,
    ) -> None:
        fill(self, locals())

    def with_path(self, path: str) -> Parts:
        """These parts with another path (``SplitResult._replace(path=...)``)."""
        real = self.real._replace(path=path) if self.real is not None else None
        return Parts(self.scheme, self.netloc, path, self.query, self.fragment, real)

    def _hostinfo(self) -> tuple[str, str | None]:
        hostinfo = self.netloc.rpartition("@")[2]
        hostname, _, port = hostinfo.partition(":")
        return hostname, port or None

    @property
    def hostname(self) -> str | None:
        """The host, lower-cased; None when there is none."""
        if self.real is not None:
            return self.real.hostname
        hostname = self._hostinfo()[0]
        if not hostname:
            return None
        # As urllib: an IPv6 zone ("%eth0") keeps its case.
        hostname, percent, zone = hostname.partition("%")
        return hostname.lower() + percent + zone

    @property
    def port(self) -> int | None:
        """The port; raises ValueError as urllib does when it is out of range."""
        if self.real is not None:
            return self.real.port
        port = self._hostinfo()[1]
        if port is None:
            return None
        number = int(port)  # split() checked that it is ASCII digits
        if not 0 <= number <= 65535:
            raise ValueError("Port out of range 0-65535")
        return number

    @property
    def username(self) -> str | None:
        """The user name of the user info, or None."""
        if self.real is not None:
            return self.real.username
        userinfo, have_info, _ = self.netloc.rpartition("@")
        return userinfo.partition(":")[0] if have_info else None

    @property
    def password(self) -> str | None:
        """The password of the user info, or None."""
        if self.real is not None:
            return self.real.password
        userinfo, have_info, _ = self.netloc.rpartition("@")
        if not have_info:
            return None
        _, have_password, password = userinfo.partition(":")
        return password if have_password else None


def split(url: str) -> Parts:
    """``urllib.parse.urlsplit(url)``; raises ValueError where it does."""
    if url and all(char in _PLAIN for char in url) and (url[0] in _LETTERS or ":" not in url):
        # (A scheme must start with a letter since 3.10.9; earlier 3.10s took "1x:" as one.)
        parts = _split_plain(url)
        port = parts._hostinfo()[1]
        if port is None or all(char in _DIGITS for char in port):
            return parts
    from urllib.parse import urlsplit

    real = urlsplit(url)
    return Parts(real.scheme, real.netloc, real.path, real.query, real.fragment, real)


def _split_plain(url: str) -> Parts:
    scheme = netloc = query = fragment = ""
    colon = url.find(":")
    if colon > 0 and url[0] in _LETTERS and all(char in _SCHEME_CHARS for char in url[:colon]):
        scheme, url = url[:colon].lower(), url[colon + 1 :]
    if url[:2] == "//":
        end = len(url)
        for delimiter in "/?#":
            found = url.find(delimiter, 2)
            if found >= 0:
                end = min(end, found)
        netloc, url = url[2:end], url[end:]
    if "#" in url:
        url, fragment = url.split("#", 1)
    if "?" in url:
        url, query = url.split("?", 1)
    return Parts(scheme, netloc, url, query, fragment)


def unsplit(parts: Parts) -> str:
    """``urllib.parse.urlunsplit`` of ``parts``."""
    if not parts.netloc:
        # Without a netloc, Python versions differ (3.12.4 keeps an empty "//"): urllib's answer.
        from urllib.parse import urlunsplit

        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment))
    path = parts.path
    if path and path[:1] != "/":
        path = "/" + path
    url = "//" + parts.netloc + path
    if parts.scheme:
        url = parts.scheme + ":" + url
    if parts.query:
        url = url + "?" + parts.query
    if parts.fragment:
        url = url + "#" + parts.fragment
    return url
