"""config/urls: split and unsplit give what urllib.parse gives, for every URL (the fast path and the rest)."""

from __future__ import annotations

import pickle
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from otel_run.config import urls

# Mostly the characters URLs are made of, plus some the fast path hands to urllib.
ALPHABET = st.sampled_from(list("abcHTtp:/?#@%[]-._~!$&'()*+,;=0123456789 \t\né1"))
URLS = st.one_of(
    st.text(ALPHABET, max_size=40),
    st.builds(
        lambda scheme, user, host, port, path, query, fragment: (
            f"{scheme}{user}{host}{port}{path}{query}{fragment}"
        ),
        st.sampled_from(["", "http://", "https://", "HTTP://", "grpc:", "//", "1x://", "localhost:"]),
        st.sampled_from(["", "user@", "user:pw@", ":pw@", "u%40x:p@ss@"]),
        st.sampled_from(["", "collector", "Collector.Example", "10.0.0.1", "[::1]", "ho%ST", "é"]),
        st.sampled_from(["", ":", ":4318", ":04317", ":99999", ":abc", ":+1", ":4318:1"]),
        st.sampled_from(["", "/", "/v1/traces", "v1", "/a/../b", "//x"]),
        st.sampled_from(["", "?", "?a=1&b", "?token=s3cr3t"]),
        st.sampled_from(["", "#", "#frag"]),
    ),
)


def outcome(call: object) -> object:
    """The value of ``call()``, or the ValueError's message it raised."""
    try:
        return call()  # type: ignore[operator]
    except ValueError as error:
        return f"ValueError: {error}"


@pytest.mark.timeout(60)
@settings(max_examples=3000, deadline=None)
@given(url=URLS)
@example(url="http://localhost:4318/v1/traces")
@example(url="user:pw@host:4318")
@example(url="http://HO%ST:80")
@example(url="http://[::1")
def test_split_is_urlsplit(url: str) -> None:
    """Fields, hostname, port (or its error), username, password and unsplit match urllib's."""
    theirs = outcome(lambda: urlsplit(url))
    ours = outcome(lambda: urls.split(url))
    if isinstance(theirs, str):
        assert ours == theirs
        return
    assert isinstance(ours, urls.Parts)
    assert (ours.scheme, ours.netloc, ours.path, ours.query, ours.fragment) == tuple(theirs)
    for name in ("hostname", "port", "username", "password"):
        assert outcome(lambda name=name: getattr(ours, name)) == outcome(
            lambda name=name: getattr(theirs, name)
        )
    assert urls.unsplit(ours) == urlunsplit(theirs)
    assert urls.unsplit(ours.with_path("/v1/logs")) == urlunsplit(theirs._replace(path="/v1/logs"))


def test_a_plain_url_is_split_without_urllib() -> None:
    """An everyday endpoint takes the fast path: no urllib result behind it."""
    parts = urls.split("https://user:pw@Collector.example:4318/v1/traces?x=1#f")
    assert parts.real is None
    assert (parts.hostname, parts.port, parts.username, parts.password) == (
        "collector.example",
        4318,
        "user",
        "pw",
    )


def test_parts_are_frozen_values() -> None:
    """Parts compare by their fields, refuse assignment and survive pickling."""
    parts = urls.split("http://a:1/b")
    assert parts == urls.split("http://a:1/b") != urls.split("http://a:2/b")
    with pytest.raises(AttributeError):
        parts.path = "/c"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(parts)) == parts
    assert repr(parts) == "Parts(scheme='http', netloc='a:1', path='/b', query='', fragment='')"
