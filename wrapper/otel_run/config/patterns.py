"""The few text patterns the settings match, written out instead of as regular expressions.

Every Python process in the golden image reads the settings, and ``re`` (with ``enum``,
``functools`` and ``collections``) costs ~3 ms to import, more than the whole read. Each
function here says the expression it stands for; ``tests/unit/test_patterns.py`` checks
each against that expression on generated text. Text outside what a function handles
exactly (non-ASCII, a newline, which ``$`` and ``\\d`` treat specially) goes to ``re``.
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdef")
_DIGITS = frozenset("0123456789")
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_WORD = frozenset(_LETTERS + "0123456789_")
_MODULE_START = frozenset(_LETTERS + "_")
_MODULE = _WORD | {"."}
_ATTRIBUTE = _WORD | {".", "(", ")"}
# Kubernetes writes generated suffixes in an alphabet without vowels or easily confused
# digits (apimachinery's rand.SafeEncodeString), so "web-proxy" is not "web" + a suffix.
_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_SAFE = frozenset(_SAFE_CHARS)

APP_SPEC = r"^([A-Za-z_][\w.]*)(?::[\w.()]*)?$"
# CronJob pods: <cronjob>-<scheduled time in minutes>-<5 chars>; Deployment pods:
# <name>-<pod-template-hash>-<5 chars>; StatefulSet: <name>-<ordinal>; DaemonSet and Job
# pods: <name>-<5 chars>. Tried in this order.
POD_PATTERNS = (
    rf"^(?P<name>.+)-\d{{8,10}}-[{_SAFE_CHARS}]{{5}}$",
    rf"^(?P<name>.+)-[{_SAFE_CHARS}]{{6,10}}-[{_SAFE_CHARS}]{{5}}$",
    r"^(?P<name>.+)-\d+$",
    rf"^(?P<name>.+)-[{_SAFE_CHARS}]{{5}}$",
)


def _plain(text: str) -> bool:
    return text.isascii() and "\n" not in text


def app_spec(arg: str) -> str | None:
    """``re.match(APP_SPEC, arg).group(1)``: the module of ``module[:attr]``, or None."""
    if not _plain(arg):
        import re

        match = re.match(APP_SPEC, arg)
        return match.group(1) if match else None
    module, colon, attribute = arg.partition(":")
    if not module or module[0] not in _MODULE_START or not all(char in _MODULE for char in module):
        return None
    if colon and not all(char in _ATTRIBUTE for char in attribute):
        return None
    return module


def _all(text: str, chars: frozenset[str], shortest: int, longest: int) -> bool:
    return shortest <= len(text) <= longest and all(char in chars for char in text)


def workload_name(pod: str) -> str:
    """The ``name`` of the first of ``POD_PATTERNS`` that matches ``pod``, else ``pod``."""
    if not _plain(pod):
        import re

        for pattern in POD_PATTERNS:
            match = re.match(pattern, pod)
            if match:
                return match.group("name")
        return pod
    # None of the suffixes holds a "-", so each is a whole "-"-separated word at the end,
    # and the name (".+") is what comes before, if anything does.
    words = pod.split("-")
    last = words[-1]
    if len(words) >= 3 and "-".join(words[:-2]):
        middle = words[-2]
        if _all(last, _SAFE, 5, 5) and (_all(middle, _DIGITS, 8, 10) or _all(middle, _SAFE, 6, 10)):
            return "-".join(words[:-2])
    if (
        len(words) >= 2
        and "-".join(words[:-1])
        and (_all(last, _DIGITS, 1, len(last)) or _all(last, _SAFE, 5, 5))
    ):
        return "-".join(words[:-1])
    return pod


CONTAINER_ID_LENGTH = 64


def hex_runs(text: str, length: int) -> list[str]:
    """``re.findall(r"(?<![0-9a-f])([0-9a-f]{length})(?![0-9a-f])", text)``: the runs of
    lower-case hex digits exactly ``length`` long, in order."""
    found = []
    start = None
    for index, char in enumerate(text + " "):
        if char in _HEX:
            if start is None:
                start = index
        elif start is not None:
            if index - start == length:
                found.append(text[start:index])
            start = None
    return found


def _uuid(text: str, separators: str) -> bool:
    """Whether ``text`` is 8-4-4-4-12 lower-case hex digits, each separator one of ``separators``."""
    if len(text) != 36:
        return False
    for index, char in enumerate(text):
        if index in (8, 13, 18, 23):
            if char not in separators:
                return False
        elif char not in _HEX:
            return False
    return True


def cgroup_pod_uid(path: str) -> str | None:
    """``re.search(r"pod(UUID with - or _)(?![0-9a-f])", path).group(1)``: the first pod uid."""
    at = path.find("pod")
    while at >= 0:
        candidate = path[at + 3 : at + 39]
        if _uuid(candidate, "-_") and path[at + 39 : at + 40] not in _HEX:
            return candidate
        at = path.find("pod", at + 1)
    return None


def kubelet_pod(root: str) -> tuple[str, str | None] | None:
    """``re.search(r"/pods/(UUID)/(?:containers/([^/]+)/)?", root).groups()``: a kubelet
    mount's pod uid and, for a container's own mount, the container's name."""
    at = root.find("/pods/")
    while at >= 0:
        uid = root[at + 6 : at + 42]
        if _uuid(uid, "-") and root[at + 42 : at + 43] == "/":
            rest = root[at + 43 :]
            if rest.startswith("containers/"):
                name, slash, _ = rest[11:].partition("/")
                if name and slash:
                    return uid, name
            return uid, None
        at = root.find("/pods/", at + 1)
    return None


def hostname_source(root: str) -> str | None:
    """``re.search(r"/(?:containers|overlay-containers)/([0-9a-f]{64})/", root).group(1)``."""
    at = root.find("/")
    while at >= 0:
        for directory in ("containers/", "overlay-containers/"):
            if root.startswith(directory, at + 1):
                start = at + 1 + len(directory)
                candidate = root[start : start + CONTAINER_ID_LENGTH]
                if (
                    len(candidate) == CONTAINER_ID_LENGTH
                    and all(char in _HEX for char in candidate)
                    and root[start + CONTAINER_ID_LENGTH : start + CONTAINER_ID_LENGTH + 1] == "/"
                ):
                    return candidate
        at = root.find("/", at + 1)
    return None
