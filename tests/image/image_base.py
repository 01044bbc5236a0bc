"""A local stand-in for ``python:X.Y-slim`` on a machine that reaches no container registry.

``debootstrap`` builds a minimal Debian (python3, python3-venv, python-is-python3, passwd for
``useradd``) from the machine's own apt mirror, read from its apt sources at run time, and the
result is cached as a tarball keyed by mirror, suite, architecture and packages. The engine
imports it, and one more layer makes pip inside builds behave as the host's pip does: the
host's CA bundle replaces the image's, and ``/etc/pip.conf`` names the host's package index.
Index locations that are directories on this machine (``file://`` indexes, ``find-links``
directories) are served read-only over HTTP on 127.0.0.1 for the session, since a build
cannot see the host's files. All of this is the tests' base image only: ``Dockerfile.base``
takes it through its ``BASE_IMAGE`` build argument and carries none of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

from image_engine import Engine, EngineError

PACKAGES = ("python3", "python3-venv", "python-is-python3", "passwd")
VARIANT = "minbase"
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBOOTSTRAP_TIMEOUT_S = 900


@dataclass(frozen=True)
class AptSource:
    """The mirror, suite and keyring debootstrap reads from."""

    uri: str
    suite: str
    keyring: str


def _deb822_paragraphs(text: str) -> Iterator[dict[str, str]]:
    paragraph: dict[str, str] = {}
    key = ""
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if paragraph:
                yield paragraph
            paragraph, key = {}, ""
        elif line[0] in " \t" and key:
            paragraph[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            paragraph[key] = value.strip()


def parse_apt_sources(files: Mapping[str, str], codename: str) -> AptSource:
    """The first enabled ``deb`` source of ``codename``'s own suite with ``main``.

    ``files`` maps file names to contents: ``*.sources`` files are deb822, ``*.list`` and
    ``sources.list`` one-line entries; other names are ignored, as apt ignores them.
    """
    for name, text in files.items():
        if name.endswith(".sources"):
            for entry in _deb822_paragraphs(text):
                if entry.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in entry.get("types", "").split():
                    continue
                if codename not in entry.get("suites", "").split():
                    continue
                if "main" not in entry.get("components", "").split():
                    continue
                keyring = entry.get("signed-by", DEFAULT_KEYRING)
                if not keyring.startswith("/"):  # an inline key block: use the distribution's
                    keyring = DEFAULT_KEYRING
                return AptSource(entry["uris"].split()[0], codename, keyring)
        elif name.endswith(".list"):
            for line in text.splitlines():
                words = line.split("#", 1)[0].split()
                if len(words) < 4 or words[0] != "deb":
                    continue
                options: dict[str, str] = {}
                if words[1].startswith("["):
                    end = next(i for i, word in enumerate(words) if word.endswith("]"))
                    for option in " ".join(words[1 : end + 1]).strip("[]").split():
                        key, _, value = option.partition("=")
                        options[key] = value
                    words = [words[0], *words[end + 1 :]]
                if len(words) >= 4 and words[2] == codename and "main" in words[3:]:
                    return AptSource(words[1], codename, options.get("signed-by", DEFAULT_KEYRING))
    raise EngineError(f"no enabled 'deb' source for suite {codename!r} with 'main' in the apt sources")


def host_apt_source() -> AptSource:
    """The mirror this machine's apt uses (never a host named in the repository)."""
    os_release = Path("/etc/os-release").read_text(encoding="utf-8")
    match = re.search(r"^VERSION_CODENAME=\"?([\w-]+)", os_release, re.MULTILINE)
    if not match:
        raise EngineError("/etc/os-release names no VERSION_CODENAME: not a Debian-like machine")
    files: dict[str, str] = {}
    main_list = Path("/etc/apt/sources.list")
    if main_list.exists():
        files["sources.list"] = main_list.read_text(encoding="utf-8")
    parts = Path("/etc/apt/sources.list.d")
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            files[path.name] = path.read_text(encoding="utf-8", errors="replace")
    return parse_apt_sources(files, match.group(1))


def _architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def debootstrap_tarball(cache: Path, source: AptSource) -> Path:
    """A cached tarball of the minimal Debian root filesystem; made with debootstrap on a miss."""
    if shutil.which("debootstrap") is None:
        raise EngineError("debootstrap is missing: apt-get install debootstrap (.ci/run does)")
    arch = _architecture()
    key = json.dumps([source.uri, source.suite, arch, VARIANT, sorted(PACKAGES)])
    tarball = cache / f"debian-{source.suite}-{arch}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.tar"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions on one cache make it once
        if tarball.exists():
            return tarball
        with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as work:
            rootfs = Path(work) / "rootfs"
            done = subprocess.run(
                [
                    "debootstrap",
                    f"--variant={VARIANT}",
                    f"--include={','.join(PACKAGES)}",
                    f"--keyring={source.keyring}",
                    f"--arch={arch}",
                    source.suite,
                    str(rootfs),
                    source.uri,
                ],
                capture_output=True,
                text=True,
                timeout=DEBOOTSTRAP_TIMEOUT_S,
                check=False,
            )
            if done.returncode != 0:
                raise EngineError(
                    f"debootstrap failed ({done.returncode}):\n{done.stdout[-4000:]}{done.stderr}"
                )
            # What a slim image leaves out too: downloaded packages and package lists.
            for leftover in [
                *(rootfs / "var/cache/apt/archives").glob("*.deb"),
                rootfs / "var/lib/apt/lists",
            ]:
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                    leftover.mkdir()
                else:
                    leftover.unlink()
            partial_tar = tarball.with_suffix(".partial")
            subprocess.run(
                ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial_tar), "."],
                check=True,
                timeout=300,
            )
            partial_tar.rename(tarball)
    return tarball


# ---- the host's pip configuration, as pip inside a build should see it -------------------------

CARRIED = ("index-url", "extra-index-url", "find-links", "timeout", "retries", "trusted-host")
ALIASES = {"default-timeout": "timeout"}
PRECEDENCE = {"global": 0, "install": 1, "wheel": 1, "download": 1, ":env:": 2}


def parse_pip_config(listing: str) -> dict[str, str]:
    """``pip config list`` output as option -> value, the way pip resolves it for ``install``.

    Environment variables (``:env:``) win over command sections, which win over ``global``;
    other sections (``freeze``, ``list``, ...) do not apply to installs.
    """
    ranked: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        match = re.match(r"^([^.=\s]+)\.([\w-]+)='(.*)'$", line.strip())
        if not match or match.group(1) not in PRECEDENCE:
            continue
        section, option, value = match.groups()
        option = ALIASES.get(option, option)
        rank = PRECEDENCE[section]
        if option not in ranked or rank >= ranked[option][0]:
            ranked[option] = (rank, value)
    return {option: value for option, (_, value) in ranked.items()}


def local_path(location: str) -> Path | None:
    """The directory behind a ``file://`` URL or a plain path; ``None`` for a network URL."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and location.startswith("/"):
        return Path(location)
    return None


def served_roots(settings: Mapping[str, str]) -> list[Path]:
    """The host directories a build must reach over HTTP: each local index's parent (an index
    page may link to ``../../files/...`` next to it) and each local ``find-links`` directory."""
    roots: list[Path] = []
    for option in ("index-url", "extra-index-url"):
        for location in settings.get(option, "").split():
            path = local_path(location)
            if path is not None and path.is_dir():
                roots.append(path.parent)
    for location in settings.get("find-links", "").split():
        path = local_path(location)
        if path is not None and path.is_dir():
            roots.append(path)
    return roots


def image_pip_conf(settings: Mapping[str, str], served: str | None, cert: str) -> str:
    """The ``/etc/pip.conf`` of the tests' base image: the host's index and trust.

    Local locations become ``served`` + their absolute path (see ``served_roots``); ``cert`` is
    the path of the host's CA bundle inside the image.
    """

    def carried(location: str) -> str | None:
        path = local_path(location)
        if path is None:
            return location
        if served is None or not path.exists():
            return None
        return served + str(path) + ("/" if path.is_dir() else "")

    lines = ["[global]", f"cert = {cert}"]
    for option in CARRIED:
        if option not in settings:
            continue
        values = settings[option].split()
        if option in ("index-url", "extra-index-url", "find-links"):
            values = [v for v in map(carried, values) if v]
        if values:
            lines.append(f"{option} = {' '.join(values)}")
    return "\n".join(lines) + "\n"


def host_pip_settings() -> dict[str, str]:
    """What ``pip config list`` says for this interpreter's pip (files and ``PIP_*`` variables)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return parse_pip_config(done.stdout)


def host_ca_bundle(settings: Mapping[str, str]) -> Path:
    """The CA bundle the host's pip trusts: its ``cert`` option, else OpenSSL's default file."""
    for candidate in (
        settings.get("cert"),
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        ssl.get_default_verify_paths().cafile,
        ssl.get_default_verify_paths().openssl_cafile,
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise EngineError("no CA bundle found for pip (pip config 'cert', PIP_CERT, SSL_CERT_FILE, OpenSSL's)")


class _Handler(SimpleHTTPRequestHandler):
    """Serves files by their absolute host path, only under the allowed roots, read-only."""

    def __init__(self, *args: object, roots: tuple[Path, ...], **kwargs: object) -> None:
        self.roots = roots
        super().__init__(*args, directory="/", **kwargs)

    def translate_path(self, path: str) -> str:
        local = Path(unquote(urlparse(path).path)).resolve()
        if not any(local == root or root in local.parents for root in self.roots):
            return "/nonexistent-outside-served-roots"
        return str(local) + ("/" if path.endswith("/") else "")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_directories(roots: Iterable[Path]) -> Iterator[str | None]:
    """Serve ``roots`` on a free 127.0.0.1 port for the block; yields its URL (``None``: nothing to serve)."""
    allowed = tuple(sorted({root.resolve() for root in roots}))
    if not allowed:
        yield None
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, roots=allowed))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="pip-index", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass(frozen=True)
class BaseImage:
    """The tests' stand-in for ``python:X.Y-slim``."""

    tag: str
    python_version: str
    seconds: float


def build_local_base(engine: Engine, cache: Path, pip_conf: str, ca_bundle: Path, work: Path) -> BaseImage:
    """Import the (cached) debootstrap tarball and add the host's CA bundle and pip configuration."""
    started = time.monotonic()
    tarball = debootstrap_tarball(cache, host_apt_source())
    plain = "otel-run-test/debian-python:plain"
    engine.docker("import", "-", plain, stdin=tarball, timeout=300)
    version = engine.run(plain, ["python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout
    context = work / "local-base"
    context.mkdir()
    shutil.copyfile(ca_bundle, context / "ca-certificates.crt")
    (context / "pip.conf").write_text(pip_conf, encoding="utf-8")
    (context / "Dockerfile").write_text(
        f"FROM {plain}\n"
        "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
        "COPY pip.conf /etc/pip.conf\n",
        encoding="utf-8",
    )
    tag = "otel-run-test/debian-python:local"
    engine.build(context, tag)
    return BaseImage(tag, version.strip(), time.monotonic() - started)
