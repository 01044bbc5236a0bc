"""Build the SDK from ``OTEL_CONFIG_FILE`` through the upstream ``opentelemetry-configuration``.

``load`` reads the file with upstream's ``load_config_file`` (YAML or JSON, ``${VAR}`` and
``${VAR:-default}`` substitution, schema validation, ``file_format`` check) and turns any
failure into one ``ConfigFileError`` line naming the file, the line and field, and what is
wrong. ``build`` makes the providers, processors, exporters, sampler, propagator and
resource with upstream's ``create_*`` functions, as ``opentelemetry-instrument`` does, with
otel-run's additions on top: every exporter is a ``WatchedExporter``, the providers leave
the exit flush to otel-run's lifecycle, and the ``OTEL_*`` variables the file replaces are
hidden from upstream constructors (the OTLP exporters would otherwise read them for what
the file leaves out, e.g. ``OTEL_EXPORTER_OTLP_HEADERS``).

Upstream's own log records (``_logger.exception`` with a traceback for a YAML error) are
caught while it works and passed on as single lines.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any

from otel_run.config import configfile, filesettings
from otel_run.config.configfile import ConfigFileError
from otel_run.config.settings import Settings

_UPSTREAM_LOGGER = "opentelemetry.configuration"


@dataclass
class Loaded:
    """A file that upstream read and validated, and what otel-run makes of it."""

    path: str
    text: str
    model: Any
    """Upstream's ``OpenTelemetryConfiguration``."""
    document: dict[str, Any]
    """The same, as a mapping keyed as in the file (after substitution)."""
    resource: Any
    notes: list[str] = field(default_factory=list)
    """One line each: what the file gets wrong without being invalid, and ignored variables."""


def boot_load(settings: Settings, problems: list[str], exit_strict: Callable[[str], None]) -> Settings:
    """The boot's step for ``OTEL_CONFIG_FILE``: the settings the file resolves to.

    A file that cannot be used is one line (or, under ``OTEL_RUN_STRICT=true``, the exit)
    and ``settings`` back without a ``file``: the app then runs without telemetry, never
    with the OTEL_* variables instead. Notes about a usable file are told by the launched
    process only.
    """
    from otel_run.runtime import report

    try:
        resolved, loaded = load(settings, os.environ)
    except ConfigFileError as error:
        problems.append(str(error))
        if settings.strict:
            exit_strict(str(error))
        report.line(f"{error}; {configfile.FAIL_OPEN}")
        return settings
    if not settings.child:
        report.warn_all(loaded.notes)
    return resolved


def load(settings: Settings, environ: Mapping[str, str]) -> tuple[Settings, Loaded]:
    """Read ``settings.config_file``; the settings it resolves to, and the loaded file.

    Raises ``ConfigFileError`` (one line, for people) when the file is missing, unreadable,
    not YAML/JSON or invalid against the schema; never anything else.
    """
    path = settings.config_file or ""
    text = _read(path)
    heard: list[str] = []
    try:
        from opentelemetry.configuration import ConfigurationError, load_config_file
        from opentelemetry.configuration.file import create_resource
    except Exception as error:
        raise ConfigFileError(
            f"OTEL_CONFIG_FILE={path}: opentelemetry-configuration cannot be imported "
            f"({type(error).__name__}: {error}); pip install 'opentelemetry-configuration>=0.66b1,<0.67'"
        ) from error
    with _upstream_lines(heard), _env_prefix_substitution(), _schema_checked_once():
        try:
            model = load_config_file(path)
        except ConfigurationError as error:
            raise ConfigFileError(f"{_explain(path, text, error)}") from error
        except Exception as error:
            raise ConfigFileError(f"{path}: {type(error).__name__}: {error}") from error
        document = _document(model)
        try:
            resource = create_resource(model.resource)
        except Exception as error:
            raise ConfigFileError(f"{configfile.where(path, text, ['resource'])}: {error}") from error
    ignored = configfile.ignored_variables(environ, text)
    notes = configfile.lint(document, text, path)
    notes += [
        f"{path} line {line}: ${{{name}}} is not set and has no default, so the value is empty"
        for line, name in configfile.unset_references(environ, text)
    ]
    notes += [f"{path}: {line}" for line in heard]
    notes += _unknown_instrumentations(document, text, path)
    if ignored:
        notes.append(
            f"{path} (OTEL_CONFIG_FILE) is the configuration, so {', '.join(ignored)} "
            f"{'is' if len(ignored) == 1 else 'are'} ignored; reference a variable in the file as "
            "${NAME} to use it"
        )
    loaded = Loaded(path, text, model, document, resource, notes)
    resolved = filesettings.resolve(settings, document, dict(resource.attributes), path, ignored, loaded)
    return resolved, loaded


def _unknown_instrumentations(document: Mapping[str, Any], text: str, path: str) -> list[str]:
    """``instrumentation/development.python`` entries that name no installed instrumentor."""
    from otel_run.runtime import entrypoints

    python = (document.get("instrumentation/development") or {}).get("python") or {}
    installed = {entry.name for entry in entrypoints.group("opentelemetry_instrumentor")}
    known = ", ".join(sorted(installed))
    return [
        f"{configfile.where(path, text, ['instrumentation/development', 'python', name])}: no "
        f"instrumentation {name!r} is installed, so these options are not used (installed: {known})"
        for name in python
        if name not in installed
    ]


def _read(path: str) -> str:
    if not os.path.exists(path):
        raise ConfigFileError(f"OTEL_CONFIG_FILE={path}: no such file")
    if os.path.isdir(path):
        raise ConfigFileError(f"OTEL_CONFIG_FILE={path}: is a directory, not a file")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise ConfigFileError(f"{path}: is not UTF-8 text ({error.reason})") from error
    except OSError as error:
        raise ConfigFileError(
            f"OTEL_CONFIG_FILE={path}: cannot be read ({error.strerror or error})"
        ) from error


def _explain(path: str, text: str, error: Exception) -> str:
    """Upstream's ``ConfigurationError`` as: the file, the line and field, what is wrong."""
    cause = error.__cause__
    if cause is not None and hasattr(cause, "absolute_path") and hasattr(cause, "message"):
        parts = list(cause.absolute_path)  # a jsonschema.ValidationError
        return f"{configfile.where(path, text, parts)}: {cause.message}"
    mark = getattr(cause, "problem_mark", None)
    if mark is not None:  # a yaml.MarkedYAMLError
        problem = getattr(cause, "problem", None) or "unreadable"
        context = getattr(cause, "context", None)
        context_mark = getattr(cause, "context_mark", None)
        extra = f" ({context} at line {context_mark.line + 1})" if context and context_mark else ""
        return f"{path} line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {problem}{extra}"
    if isinstance(cause, json.JSONDecodeError):
        return f"{path} line {cause.lineno}, column {cause.colno}: not valid JSON: {cause.msg}"
    message = str(error)
    if message.startswith("Unsupported file_format"):
        return f"{configfile.where(path, text, ['file_format'])}: {message}"
    return f"{path}: {message}"


def _document(value: Any) -> Any:
    """Upstream's model as plain data keyed as in the file (``x_development`` → ``x/development``)."""
    if is_dataclass(value) and not isinstance(value, type):
        result = {
            _key(item.name): _document(getattr(value, item.name))
            for item in fields(value)
            if getattr(value, item.name) is not None
        }
        result.update(
            {str(k): _document(v) for k, v in (getattr(value, "additional_properties", None) or {}).items()}
        )
        return result
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): _document(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_document(item) for item in value]
    return value


def _key(name: str) -> str:
    return name[: -len("_development")] + "/development" if name.endswith("_development") else name


@contextmanager
def _upstream_lines(heard: list[str]) -> Iterator[None]:
    """Collect upstream's log messages (no tracebacks) while it works."""

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                try:
                    heard.append(" ".join(record.getMessage().split()))
                except Exception:  # noqa: BLE001 - a message that cannot be formatted is dropped
                    pass

    logger = logging.getLogger(_UPSTREAM_LOGGER)
    handler = _Collect(logging.WARNING)
    saved = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = saved


@contextmanager
def _env_prefix_substitution() -> Iterator[None]:
    """Substitute ``${env:VAR}`` too, as the specification's syntax allows.

    opentelemetry-configuration 0.66 matches only ``${VAR}``: ``${env:VAR}`` (the form the
    Collector and the Java SDK use) would stay in the value as literal text.
    """
    try:
        from opentelemetry.configuration.file import _loader
    except Exception:  # noqa: BLE001 - then upstream's own substitution is all there is
        yield
        return
    original: Callable[[str], str] | None = getattr(
        _loader, "substitute_env_vars", None
    )  # private, so guarded
    standalone = getattr(_loader, "_STANDALONE_ENV_REF", None)
    if original is None or standalone is None:
        yield
        return
    import re

    def substitute(text: str) -> str:
        return original(re.sub(r"(?<!\$)\$\{env:", "${", text))

    setattr(_loader, "substitute_env_vars", substitute)  # noqa: B010 - mypy: not re-exported
    _loader._STANDALONE_ENV_REF = re.compile(r"\A\$\{(?:env:)?[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}\Z")
    try:
        yield
    finally:
        setattr(_loader, "substitute_env_vars", original)  # noqa: B010
        _loader._STANDALONE_ENV_REF = standalone


@contextmanager
def _schema_checked_once() -> Iterator[None]:
    """Validate the file without first validating upstream's own schema against the metaschema.

    ``jsonschema.validate`` checks the schema before the instance; for the configuration's
    vendored schema that check is most of the load (0.5 s here, in every booted Python).
    The instance is still validated exactly as upstream does (same validator class, the
    same best-matching error).
    """
    try:
        import jsonschema
        from opentelemetry.configuration.file import _loader
    except Exception:  # noqa: BLE001 - then upstream validates as it always does
        yield
        return
    if getattr(_loader, "jsonschema", None) is not jsonschema:
        yield
        return

    class _Unchecked:
        ValidationError = jsonschema.ValidationError
        SchemaError = jsonschema.SchemaError
        Draft202012Validator = jsonschema.Draft202012Validator

        @staticmethod
        def validate(instance: Any, schema: Any, cls: Any = jsonschema.Draft202012Validator) -> None:
            error = jsonschema.exceptions.best_match(cls(schema).iter_errors(instance))
            if error is not None:
                raise error

    setattr(_loader, "jsonschema", _Unchecked)  # noqa: B010 - private, so guarded above
    try:
        yield
    finally:
        setattr(_loader, "jsonschema", jsonschema)  # noqa: B010
