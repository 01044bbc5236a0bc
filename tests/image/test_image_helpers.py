"""The pure parts of the image tests' set-up: apt sources, pip configuration, manifest options.

They read the machine's configuration, which differs from one CI machine to the next, so
the spellings they accept are pinned down here (no engine needed).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from image_base import AptSource, image_pip_conf, parse_apt_sources, parse_pip_config, served_roots
from image_engine import EngineError
from test_image_runtime import kubernetes_options

DEB822 = """\
Types: deb
# a comment line
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.mark.timeout(10)
def test_deb822_source_of_the_codename_is_found() -> None:
    """A .sources file's paragraph for the machine's own suite names the mirror and keyring."""
    found = parse_apt_sources({"debian.sources": DEB822}, "bookworm")
    assert found == AptSource(
        "http://mirror.invalid/debian", "bookworm", "/usr/share/keyrings/debian-archive-keyring.gpg"
    )


@pytest.mark.timeout(10)
def test_one_line_sources_with_options_and_disabled_files() -> None:
    """sources.list lines with [options] work; files apt ignores, and disabled entries, are skipped."""
    files = {
        "other.list.disabled-by-farm": "deb http://wrong.invalid/debian bookworm main\n",
        "off.sources": DEB822.replace("Types: deb\n# a", "Enabled: no\nTypes: deb\n# a"),
        "sources.list": "deb-src http://src.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/etc/keys/k.gpg] http://mirror.invalid/debian bookworm main contrib\n",
    }
    assert parse_apt_sources(files, "bookworm") == AptSource(
        "http://mirror.invalid/debian", "bookworm", "/etc/keys/k.gpg"
    )


@pytest.mark.timeout(10)
def test_no_matching_source_is_an_error() -> None:
    """Without a source for the codename there is nothing to debootstrap from: a clear error."""
    with pytest.raises(EngineError, match="no enabled 'deb' source for suite 'trixie'"):
        parse_apt_sources({"debian.sources": DEB822}, "trixie")


LISTING = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
freeze.timeout='1'
global.cert='/etc/ssl/certs/other.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple https://extra.invalid/simple'
global.find-links='/opt/other-wheels'
"""


@pytest.mark.timeout(10)
def test_pip_config_listing_resolves_as_pip_does() -> None:
    """Environment beats files, `default-timeout` is `timeout`, and sections pip install skips are skipped."""
    settings = parse_pip_config(LISTING)
    assert settings["cert"] == "/etc/ssl/certs/ca-certificates.crt"
    assert settings["timeout"] == "180"
    assert settings["find-links"] == "/opt/wheels"
    assert settings["extra-index-url"] == "file:///opt/pypi/simple https://extra.invalid/simple"


@pytest.mark.timeout(10)
def test_image_pip_conf_serves_local_indexes_and_drops_the_host_constraint(tmp_path: Path) -> None:
    """file:// indexes become the session's HTTP server; URLs stay; the host's constraint is not carried."""
    simple = tmp_path / "pypi" / "simple"
    simple.mkdir(parents=True)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    settings = {
        "extra-index-url": f"file://{simple} https://extra.invalid/simple",
        "find-links": str(wheels),
        "constraint": "/etc/xdg/pip/constraints.txt",
        "timeout": "180",
    }
    assert served_roots(settings) == [tmp_path / "pypi", wheels]
    conf = image_pip_conf(settings, "http://127.0.0.1:9", "/etc/ssl/certs/ca-certificates.crt")
    assert conf.splitlines() == [
        "[global]",
        "cert = /etc/ssl/certs/ca-certificates.crt",
        f"extra-index-url = http://127.0.0.1:9{simple}/ https://extra.invalid/simple",
        f"find-links = http://127.0.0.1:9{wheels}/",
        "timeout = 180",
    ]


@pytest.mark.timeout(10)
def test_kubernetes_security_context_becomes_docker_run_options() -> None:
    """The pod's user and group, read-only root, dropped capabilities and /tmp emptyDir map to flags."""
    deployment = {
        "spec": {
            "template": {
                "spec": {
                    "securityContext": {"runAsUser": 10001, "runAsGroup": 10001},
                    "containers": [
                        {
                            "securityContext": {
                                "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
                }
            }
        }
    }
    assert kubernetes_options(deployment) == [
        "--user",
        "10001:10001",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/tmp:size=16m",
    ]
