"""Settings and its parts are frozen values: compared, hashed, shown and copied as the dataclasses were."""

from __future__ import annotations

import copy
import pickle

import pytest

from otel_run.config.frozen import FrozenError
from otel_run.config.settings import BatchSettings, Redacted, Settings

ARGV = ("python", "app.py")


@pytest.mark.timeout(10)
def test_settings_compare_and_hash_by_their_fields() -> None:
    """Two reads of one environment are equal and hash alike; a changed field is not equal."""
    env = {"OTEL_SERVICE_NAME": "shop", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr3t"}
    first, second = Settings.from_env(env, ARGV), Settings.from_env(env, ARGV)
    assert first == second and hash(first) == hash(second)
    assert first.replace(service_name="other") != first
    assert first != "shop"


@pytest.mark.timeout(10)
def test_assignment_is_refused() -> None:
    """Settings are frozen: assigning or deleting a field raises an AttributeError."""
    settings = Settings.from_env({}, ARGV)
    with pytest.raises(FrozenError):
        settings.quiet = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del settings.traces.endpoint  # type: ignore[misc]


@pytest.mark.timeout(10)
def test_replace_changes_only_what_it_names() -> None:
    """replace() is dataclasses.replace: a new object with the named fields changed; unknown names raise."""
    settings = Settings.from_env({}, ARGV)
    changed = settings.replace(traces=settings.traces.replace(exporters=()))
    assert changed.traces.exporters == () and settings.traces.exporters == ("otlp",)
    assert changed.metrics is settings.metrics
    with pytest.raises(TypeError, match="no field 'nope'"):
        settings.replace(nope=1)


@pytest.mark.timeout(10)
def test_repr_is_the_dataclass_repr_without_secrets() -> None:
    """repr names each field in order, as a dataclass's did, and never a header value."""
    assert repr(BatchSettings(1, None)) == (
        "BatchSettings(schedule_delay_ms=1, export_timeout_ms=None, max_queue_size=None, "
        "max_export_batch_size=None)"
    )
    settings = Settings.from_env({"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr3t"}, ARGV)
    shown = repr(settings)
    assert shown.startswith("Settings(disabled=False, service_name='app', ")
    assert "headers={'api-key': '***'}" in shown and "s3cr3t" not in shown
    assert str(Redacted((("a", "b"),))) == "{'a': '***'}"


@pytest.mark.timeout(10)
def test_copies_and_pickles_are_equal() -> None:
    """copy, deepcopy and pickle give equal settings (fields restored past the refused assignment)."""
    settings = Settings.from_env({"OTEL_RESOURCE_ATTRIBUTES": "team=a"}, ARGV)
    for made in (copy.copy(settings), copy.deepcopy(settings), pickle.loads(pickle.dumps(settings))):
        assert made == settings and made is not settings
