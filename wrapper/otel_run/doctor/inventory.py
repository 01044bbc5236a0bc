"""Which installed libraries have an instrumentation installed, and which have none.

Like ``opentelemetry-bootstrap``, but a report instead of ``pip install``: upstream's
``opentelemetry.instrumentation.bootstrap_gen.libraries`` pairs each library with its
instrumentation package. Reads package metadata only; imports no library. Works on
``sys.path`` as it is, so ``otel-run doctor`` runs it inside the app's interpreter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from otel_run.runtime.instrument import GROUP

OWN_DISTRIBUTION = "otel-run"


@dataclass(frozen=True)
class Library:
    """One installed library that an instrumentation package exists for."""

    library: str
    version: str
    instrumentation: str
    """The instrumentation package's requirement, e.g. ``opentelemetry-instrumentation-flask==0.66b1``."""
    installed: bool
    """Whether that instrumentation package is installed."""
    supported: bool
    """Whether the installed library version is one the instrumentation supports."""
    entry_points: tuple[str, ...]
    """The instrumentor names the installed package registers (for OTEL_PYTHON_DISABLED_INSTRUMENTATIONS)."""
    for_otel_run: bool
    """Whether the library is installed because otel-run itself needs it (grpcio, protobuf, ...)."""
    shipped: bool = False
    """Whether otel-run depends on the instrumentation package (so its absence is a broken install)."""
    supports: str = ""
    """The library versions the instrumentation supports, as a specifier (``<2.1.0,>=1.0.0``); "" for any."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        result = asdict(self)
        result["entry_points"] = list(self.entry_points)
        return result


def scan() -> list[Library]:
    """Every installed library named in upstream's bootstrap list, with its instrumentation's state.

    Raises ImportError when ``opentelemetry-instrumentation`` or ``packaging`` is missing.
    """
    from opentelemetry.instrumentation.bootstrap_gen import libraries
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    installed = _installed()
    instrumentors = _instrumentors()
    ours = _required_by(OWN_DISTRIBUTION, installed)
    found: dict[tuple[str, str], Library] = {}
    for pair in libraries:
        try:
            library = Requirement(pair["library"])
            instrumentation = Requirement(pair["instrumentation"])
        except InvalidRequirement:
            continue
        name = canonicalize_name(library.name)
        if name not in installed:
            continue
        version = installed[name]
        package = canonicalize_name(instrumentation.name)
        found.setdefault(
            (name, package),
            Library(
                library=library.name,
                version=version,
                instrumentation=str(instrumentation),
                installed=package in installed,
                supported=library.specifier.contains(version, prereleases=True),
                entry_points=instrumentors.get(package, ()),
                for_otel_run=name in ours,
                shipped=package in ours,
                supports=str(library.specifier),
            ),
        )
    return sorted(found.values(), key=lambda item: (item.library.lower(), item.instrumentation))


def _installed() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    result: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            result.setdefault(canonicalize_name(name), dist.version)
    return result


def _instrumentors() -> dict[str, tuple[str, ...]]:
    """Instrumentation distribution name → the instrumentor entry points it registers."""
    from packaging.utils import canonicalize_name

    result: dict[str, tuple[str, ...]] = {}
    for dist in metadata.distributions():
        names = tuple(entry.name for entry in dist.entry_points if entry.group == GROUP)
        if names and dist.metadata["Name"]:
            result.setdefault(canonicalize_name(dist.metadata["Name"]), names)
    return result


def _required_by(root: str, installed: dict[str, str]) -> frozenset[str]:
    """The installed distributions ``root`` depends on, directly or not (extras left out)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [canonicalize_name(root)]
    while todo:
        name = todo.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        try:
            requires: Iterable[str] = metadata.requires(name) or ()
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            todo.append(canonicalize_name(requirement.name))
    seen.discard(canonicalize_name(root))
    return frozenset(seen)
