"""What one service exported, reduced to what must match between two runs of the same app.

Used by the content-equivalence tests: the same app under otel-run and under upstream
``opentelemetry-instrument``, to one receiver. Everything a user sees is kept (names,
kinds, attribute keys and values, status, events, parents, scopes, metric units and
types, data-point attributes and counts, log bodies, severities and attributes); what
differs between any two runs is replaced by a placeholder: the app's port and the
client's, timestamps in access-log lines, stack traces (file paths of two venvs), and
the site-packages directory in ``code.file.path``. Ids and timings are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_run.receiver.model import AttributeValue, any_value_to_python
from otel_run.receiver.store import Store

Variants = dict[Any, frozenset[Any]]
_PEER_PORTS = ("net.peer.port", "client.port", "network.peer.port")
_STACKTRACE = "exception.stacktrace"
_ACCESS_TIME = re.compile(r"\[\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d\]")
_CLIENT_ADDRESS = re.compile(r"127\.0\.0\.1:\d+ - ")  # uvicorn's access lines
_SITE_PACKAGES = re.compile(r".*/site-packages/")


@dataclass(frozen=True)
class Shape:
    """One service's spans, metrics and log records, each keyed and reduced to its variants."""

    spans: Variants
    """(name, kind) → {(attributes, status, events, parent (name, kind), scope)}"""
    metrics: Variants
    """name → {(unit, description, type, attributes, count or sum)}"""
    logs: Variants
    """(body, severity) → {(attributes, has trace context, scope, event name)}"""


def shape(store: Store, service: str, port: int) -> Shape:
    """What ``service`` (serving on ``port``) exported to ``store``."""
    clean = _Cleaner(port)
    spans = [s for s in store.spans() if s.service == service]
    by_id = {s.span_id: s for s in spans}
    span_variants: dict[Any, set[Any]] = {}
    for span in spans:
        parent = by_id.get(span.parent_span_id)
        variant = (
            clean.attributes(span.attributes),
            (span.status_code, span.status_message),
            tuple(
                (
                    event.name,
                    clean.attributes({kv.key: any_value_to_python(kv.value) for kv in event.attributes}),
                )
                for event in span.span.events
            ),
            (parent.name, parent.kind) if parent is not None else None,
            span.scope,
        )
        span_variants.setdefault((span.name, span.kind), set()).add(variant)

    points: dict[tuple[Any, ...], Any] = {}
    for metric in store.metrics():
        if metric.service != service:
            continue
        for point, value in _points(metric.metric):
            attributes = clean.attributes({kv.key: any_value_to_python(kv.value) for kv in point.attributes})
            # A later export of the same series replaces an earlier one (cumulative).
            points[(metric.name, metric.unit, metric.metric.description, metric.kind, attributes)] = (
                None if "healthz" in repr(attributes) else value  # probes: polled until ready
            )
    metric_variants: dict[Any, set[Any]] = {}
    for (name, *rest), value in points.items():
        metric_variants.setdefault(name, set()).add((*rest, value))

    log_variants: dict[Any, set[Any]] = {}
    for log in store.logs():
        if log.service != service:
            continue
        record = log.record
        variant = (
            clean.attributes(log.attributes),
            bool(record.trace_id),
            bool(record.span_id),
            log.scope,
            record.event_name,
        )
        log_variants.setdefault((clean.text(log.body), log.severity_text, record.severity_number), set()).add(
            variant
        )
    return Shape(_frozen(span_variants), _frozen(metric_variants), _frozen(log_variants))


def differences(ours: Mapping[Any, frozenset[Any]], theirs: Mapping[Any, frozenset[Any]]) -> list[str]:
    """Readable lines naming every key and variant only one side has (empty: the same)."""
    lines = [f"only otel-run has {key!r}" for key in sorted(ours.keys() - theirs.keys(), key=repr)]
    lines += [f"only upstream has {key!r}" for key in sorted(theirs.keys() - ours.keys(), key=repr)]
    for key in sorted(ours.keys() & theirs.keys(), key=repr):
        for variant in sorted(ours[key] - theirs[key], key=repr):
            lines.append(f"{key!r}: only otel-run has {variant!r}")
        for variant in sorted(theirs[key] - ours[key], key=repr):
            lines.append(f"{key!r}: only upstream has {variant!r}")
    return lines


class _Cleaner:
    def __init__(self, port: int) -> None:
        self.port = port

    def text(self, value: str) -> str:
        value = _CLIENT_ADDRESS.sub("127.0.0.1:{peer port} - ", value)
        return _ACCESS_TIME.sub("[time]", value.replace(str(self.port), "{port}"))

    def value(self, key: str, value: AttributeValue) -> Any:
        if key in _PEER_PORTS:
            return "{peer port}"
        if key == _STACKTRACE:
            return "{stack trace}"
        if key == "code.file.path" and isinstance(value, str):
            return _SITE_PACKAGES.sub("{site-packages}/", value)
        if isinstance(value, bool):
            return value
        if value == self.port:
            return "{port}"
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return tuple(self.value(key, item) for item in value)
        return value

    def attributes(self, attributes: Mapping[str, AttributeValue]) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted((key, self.value(key, value)) for key, value in attributes.items()))


def _points(metric: Any) -> Iterable[tuple[Any, Any]]:
    kind = metric.WhichOneof("data")
    if kind == "histogram":
        for point in metric.histogram.data_points:
            yield point, ("count", point.count, tuple(point.explicit_bounds))
    elif kind == "sum":
        for point in metric.sum.data_points:
            value = point.as_int if point.HasField("as_int") else point.as_double
            yield point, ("sum", value, metric.sum.is_monotonic, metric.sum.aggregation_temporality)
    elif kind == "gauge":
        for point in metric.gauge.data_points:
            yield point, ("gauge",)
    elif kind == "exponential_histogram":
        for point in metric.exponential_histogram.data_points:
            yield point, ("count", point.count)


def _frozen(variants: dict[Any, set[Any]]) -> Variants:
    return {key: frozenset(values) for key, values in variants.items()}
