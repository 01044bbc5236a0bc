"""``OTEL_CONFIG_FILE``: what a declarative configuration file replaces, says, and gets wrong.

When the variable is set, the file (schema ``file_format: "1.0"``) is the configuration:
the upstream ``opentelemetry-configuration`` package reads, substitutes, validates and
builds it (``otel_run.runtime.sdk.fromfile``). This module holds the pure parts around
that, so that boot, the startup line and doctor say the same thing:

- ``replaced`` / ``ignored_variables``: the ``OTEL_*`` variables the file replaces
  (the specification: "all other environment variables ... MUST be ignored"), except
  those the file itself references as ``${VAR}``;
- ``locate`` and ``field_path``: a field path in the file as text and as a line number;
- ``lint``: what upstream accepts silently but does not do (an unknown top-level key,
  an exporter's ``tls`` or ``encoding``, ``instrumentation/development.general``);
- the ``Settings`` view of the file is ``filesettings.resolve``.

It reads no file and imports neither the SDK nor anything else of otel-run.
"""

from __future__ import annotations

from otel_run.config import otel_vars

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

# Which variables the file replaces is otel_vars' to say (the settings read it without this module).
VARIABLE = otel_vars.CONFIG_FILE
replaced = otel_vars.replaced_by_file
TOP_LEVEL = (
    "file_format",
    "disabled",
    "log_level",
    "attribute_limits",
    "logger_provider",
    "meter_provider",
    "propagator",
    "tracer_provider",
    "resource",
    "instrumentation/development",
    "distribution",
)
# The specification's substitution syntax; the "env:" prefix is optional. Compiled on
# first use (``reference_pattern``): the settings of a process without a file need no ``re``.
REFERENCE = r"(?<!\$)\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(:-[^}\n]*)?\}"
_compiled: list[re.Pattern[str]] = []


def reference_pattern() -> re.Pattern[str]:
    """``REFERENCE``, compiled."""
    if not _compiled:
        import re

        _compiled.append(re.compile(REFERENCE))
    return _compiled[0]


_SECTIONS = {"traces": "tracer_provider", "metrics": "meter_provider", "logs": "logger_provider"}


FAIL_OPEN = (
    "the app runs without telemetry (OTEL_CONFIG_FILE is set, so the OTEL_* variables are not used instead)"
)


class ConfigFileError(Exception):
    """The file cannot be used; ``str(error)`` says where and why, in one line."""


def references(text: str) -> set[str]:
    """Names of the variables the file's values reference as ``${VAR}`` (comments skipped)."""
    found: set[str] = set()
    for line in text.splitlines():
        value = line.split(" #", 1)[0]
        if not value.lstrip().startswith("#"):
            found.update(match.group(1) for match in reference_pattern().finditer(value))
    return found


def ignored_variables(environ: Mapping[str, str], text: str) -> tuple[str, ...]:
    """The variables set in ``environ`` that the file replaces and does not reference."""
    used = references(text)
    return tuple(
        sorted(
            name for name, value in environ.items() if value.strip() and replaced(name) and name not in used
        )
    )


def unset_references(environ: Mapping[str, str], text: str) -> list[tuple[int, str]]:
    """``(line, name)`` for each ``${VAR}`` without a default whose variable is not set."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for match in reference_pattern().finditer(line.split(" #", 1)[0]):
            if match.group(2) is None and match.group(1) not in environ:
                found.append((number, match.group(1)))
    return found


def field_path(parts: Iterable[str | int]) -> str:
    """``('tracer_provider', 'processors', 0, 'batch')`` → ``tracer_provider.processors[0].batch``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def locate(text: str, parts: Sequence[str | int]) -> int | None:
    """The line (1-based) of the field at ``parts`` in YAML or JSON ``text``, or its nearest parent's."""
    import yaml  # here: only an error or a lint finding needs it

    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None if node is None else node.start_mark.line + 1
    for part in parts:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    line, child = key.start_mark.line + 1, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def where(path: str, text: str, parts: Sequence[str | int]) -> str:
    """``otel-config.yaml line 7 (tracer_provider.sampler)``: a place in the file for people."""
    line = locate(text, parts)
    at = f" line {line}" if line is not None else ""
    shown = field_path(parts)
    return f"{path}{at}" + (f" ({shown})" if shown else "")


def lint(document: Mapping[str, Any], text: str, path: str) -> list[str]:
    """What upstream accepts without a word but does not do, one line each."""
    import difflib
    from collections.abc import Mapping  # here, as below: the file's checks only, not every boot

    found = []
    for key in document:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), TOP_LEVEL, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            found.append(
                f"{where(path, text, [key])}: {key!r} is not a file_format 1.0 key and is ignored{hint}"
            )
    instrumentation = document.get("instrumentation/development") or {}
    if isinstance(instrumentation, Mapping) and instrumentation.get("general") is not None:
        found.append(
            f"{where(path, text, ['instrumentation/development', 'general'])}: not supported by the Python "
            "instrumentations (opentelemetry-configuration ignores it); use "
            "instrumentation/development.python instead"
        )
    for signal, parts, kind, options in exporter_entries(document):
        if not isinstance(options, Mapping):
            continue
        if kind in ("otlp_http", "otlp_grpc") and options.get("tls") is not None:
            found.append(
                f"{where(path, text, [*parts, kind, 'tls'])}: not applied by opentelemetry-configuration "
                f"(its {kind} exporter is built without it): the {signal} exporter uses the system's CAs "
                "and no client certificate"
            )
        if kind == "otlp_http" and options.get("encoding") not in (None, "protobuf"):
            found.append(
                f"{where(path, text, [*parts, kind, 'encoding'])}: {options.get('encoding')!r} is not "
                f"applied by opentelemetry-configuration; the {signal} exporter sends protobuf"
            )
    return found


def exporter_entries(document: Mapping[str, Any]) -> list[tuple[str, list[str | int], str, Any]]:
    """``(signal, path to the exporter mapping, exporter kind, its options)`` in file order."""
    from collections.abc import Mapping

    entries: list[tuple[str, list[str | int], str, Any]] = []
    for signal, section in _SECTIONS.items():
        provider = document.get(section)
        if not isinstance(provider, Mapping):
            continue
        slot = "readers" if signal == "metrics" else "processors"
        for index, item in enumerate(provider.get(slot) or ()):
            if not isinstance(item, Mapping):
                continue
            for processor, body in item.items():
                if isinstance(body, Mapping) and isinstance(body.get("exporter"), Mapping):
                    parts: list[str | int] = [section, slot, index, processor, "exporter"]
                    for kind, options in body["exporter"].items():
                        entries.append((signal, parts, str(kind), options))
    return entries


_EXPORTERS = ("otlp_http", "otlp_grpc", "console", "otlp_file/development")
_BUILT_IN = {
    "processors": ("batch", "simple", "event_to_span_event_bridge/development"),
    "readers": ("periodic", "pull"),
    "sampler": (
        "always_on",
        "always_off",
        "trace_id_ratio_based",
        "parent_based",
        "composite/development",
        "jaeger_remote/development",
        "probability/development",
    ),
}


def unknown_components(document: Mapping[str, Any], section: str) -> list[tuple[list[str | int], str]]:
    """``(field path, built-in name it is close to)`` for each component name in ``section``
    that is not built in and looks like a typo of one (upstream takes it for a plugin)."""
    import difflib
    from collections.abc import Mapping

    found: list[tuple[list[str | int], str]] = []

    def check(parts: list[str | int], names: Any, known: Sequence[str]) -> None:
        for name in names if isinstance(names, Mapping) else ():
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.7)
                if close:
                    found.append(([*parts, name], close[0]))

    provider = document.get(section)
    if not isinstance(provider, Mapping):
        return found
    for slot in ("processors", "readers"):
        for index, item in enumerate(provider.get(slot) or ()):
            check([section, slot, index], item, _BUILT_IN[slot])
    for _signal, parts, kind, _options in exporter_entries(document):
        if parts[0] == section:
            check(parts, {kind: None}, _EXPORTERS)
    check([section, "sampler"], provider.get("sampler"), _BUILT_IN["sampler"])
    return found
