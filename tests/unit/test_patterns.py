"""config/patterns: each hand-written matcher answers exactly what its regular expression does."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from otel_run.config import patterns

SAFE = "bcdfghjklmnpqrstvwxz2456789"
HEX = "0123456789abcdef"


def words(alphabet: str, sizes: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(*(st.text(st.sampled_from(list(alphabet)), min_size=n, max_size=n) for n in sizes))


POD_PART = st.one_of(
    words(SAFE, [4, 5, 6, 10, 11]), words("0123456789", [1, 7, 8, 10, 11]), st.text(max_size=6)
)
PODS = st.one_of(
    st.builds("-".join, st.lists(POD_PART, min_size=1, max_size=5)),
    st.text(st.sampled_from(list(SAFE + "-aeiou01\n\u0661\u00e9")), max_size=30),
)


@pytest.mark.timeout(60)
@settings(max_examples=3000, deadline=None)
@given(pod=PODS)
@example(pod="backend-55d6789c-v98wg")
@example(pod="cron-28312345-x2x9z")
@example(pod="web-0")
@example(pod="-12")
@example(pod="web-bcdfg\n")
@example(pod="web-\u0661\u0662")  # Arabic-Indic digits: \\d matches them
def test_workload_name_is_the_pod_patterns(pod: str) -> None:
    """The first pod pattern that matches gives the name, as re.match does."""
    expected = pod
    for pattern in patterns.POD_PATTERNS:
        match = re.match(pattern, pod)
        if match:
            expected = match.group("name")
            break
    assert patterns.workload_name(pod) == expected


@pytest.mark.timeout(60)
@settings(max_examples=3000, deadline=None)
@given(arg=st.text(st.sampled_from(list("ab_Z09.:()-/ =\né")), max_size=14))
@example(arg="app:create_app()")
@example(arg="mysite.wsgi\n")
@example(arg="1app:x")
def test_app_spec_is_the_regex(arg: str) -> None:
    """module[:attr] is recognised exactly as APP_SPEC recognises it."""
    match = re.match(patterns.APP_SPEC, arg)
    assert patterns.app_spec(arg) == (match.group(1) if match else None)


HEXISH = st.text(st.sampled_from(list(HEX + "g/-_.pod")), max_size=150)


@pytest.mark.timeout(60)
@settings(max_examples=1500, deadline=None)
@given(
    prefix=HEXISH,
    run=words(HEX, [63, 64, 65]),
    suffix=HEXISH,
)
def test_hex_runs_is_findall(prefix: str, run: str, suffix: str) -> None:
    """Runs of exactly 64 hex digits, as the container-id expression finds them."""
    text = prefix + run + suffix
    assert patterns.hex_runs(text, 64) == re.findall(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])", text)


UID = st.builds(
    lambda a, b, c, d, e, seps: seps[0].join([a, b]) + seps[1] + c + seps[2] + d + seps[3] + e,
    words(HEX, [8]),
    words(HEX, [4, 3]),
    words(HEX, [4]),
    words(HEX, [4]),
    words(HEX, [12, 13]),
    st.lists(st.sampled_from("-_x"), min_size=4, max_size=4),
)
NOISE = st.text(st.sampled_from(list("/pod-s_0af.containers")), max_size=25)


@pytest.mark.timeout(60)
@settings(max_examples=1500, deadline=None)
@given(before=NOISE, uid=UID, after=NOISE)
def test_cgroup_pod_uid_is_search(before: str, uid: str, after: str) -> None:
    """The first pod<uid> in a cgroup path, as the cgroup expression finds it."""
    text = f"{before}pod{uid}{after}"
    pattern = r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?![0-9a-f])"
    match = re.search(pattern, text)
    assert patterns.cgroup_pod_uid(text) == (match.group(1) if match else None)


@pytest.mark.timeout(60)
@settings(max_examples=1500, deadline=None)
@given(
    before=NOISE,
    uid=UID,
    middle=st.sampled_from(["/", "/containers/app/0", "/containers//", "/containers/app", "/volumes/x", ""]),
    after=NOISE,
)
def test_kubelet_pod_is_search(before: str, uid: str, middle: str, after: str) -> None:
    """A kubelet mount's pod uid and container, as the kubelet expression finds them."""
    text = f"{before}/pods/{uid}{middle}{after}"
    match = re.search(
        r"/pods/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/(?:containers/([^/]+)/)?", text
    )
    assert patterns.kubelet_pod(text) == (match.groups() if match else None)


@pytest.mark.timeout(60)
@settings(max_examples=1500, deadline=None)
@given(
    before=NOISE,
    directory=st.sampled_from(["/containers/", "/overlay-containers/", "/containers", "containers/"]),
    run=words(HEX, [63, 64, 65]),
    after=st.sampled_from(["", "/", "/hostname", "x/"]),
)
def test_hostname_source_is_search(before: str, directory: str, run: str, after: str) -> None:
    """The container id of a bind-mounted /etc/hostname, as the hostname expression finds it."""
    text = before + directory + run + after
    match = re.search(r"/(?:containers|overlay-containers)/([0-9a-f]{64})/", text)
    assert patterns.hostname_source(text) == (match.group(1) if match else None)
