"""Settings.from_env: the specification's semantics, our deliberate differences, and warnings.

Spec references: specification/configuration/sdk-environment-variables.md (types, defaults,
empty values) and specification/protocol/exporter.md (OTLP options and per-signal overrides).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from otel_run.config.settings import Settings

ARGV = ("python", "checkout.py")


def read(env: Mapping[str, str]) -> Settings:
    """Settings for ``env`` with a command line that names a script."""
    return Settings.from_env(env, ARGV)


def warnings_naming(settings: Settings, name: str) -> list[str]:
    """The warnings that start with the variable ``name``."""
    return [w for w in settings.warnings if w.startswith((f"{name}=", f"{name}:", f"{name} "))]


# --- defaults -------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_defaults_follow_the_specification() -> None:
    """With no variables: OTLP for all signals, parentbased_always_on, tracecontext+baggage, 10 s."""
    settings = read({})
    assert settings.warnings == ()
    assert not settings.disabled
    assert settings.sampler == "parentbased_always_on"
    assert settings.sampler_arg is None
    assert settings.propagators == ("tracecontext", "baggage")
    assert settings.id_generator == "random"
    for name in ("traces", "metrics", "logs"):
        signal = settings.signal(name)
        assert signal.exporters == ("otlp",)
        assert signal.timeout_s == 10.0
        assert signal.compression == "none"
        assert signal.headers.as_dict() == {}
        assert signal.certificate is None


@pytest.mark.timeout(10)
def test_default_protocol_is_http_protobuf_on_4318() -> None:
    """Unlike upstream Python (grpc), the default protocol is http/protobuf to localhost:4318."""
    settings = read({})
    for name in ("traces", "metrics", "logs"):
        signal = settings.signal(name)
        assert (signal.protocol, signal.protocol_source) == ("http/protobuf", "default")
        assert signal.endpoint == f"http://localhost:4318/v1/{name}"
        assert signal.endpoint_source == "default"


@pytest.mark.timeout(10)
def test_grpc_default_endpoint_is_4317() -> None:
    """With grpc and no endpoint, every signal goes to localhost:4317."""
    settings = read({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert {settings.signal(n).endpoint for n in ("traces", "metrics", "logs")} == {"http://localhost:4317"}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("empty", ["", " ", "\t\n"])
def test_empty_values_mean_unset(empty: str) -> None:
    """An empty (or blank) value is interpreted as if the variable were unset, without warnings."""
    names = [
        "OTEL_SDK_DISABLED",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "OTEL_PROPAGATORS",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_RUN_SHUTDOWN_TIMEOUT",
    ]
    assert read(dict.fromkeys(names, empty)) == read({})


@pytest.mark.timeout(10)
def test_signal_rejects_unknown_names() -> None:
    """Settings.signal only knows traces, metrics and logs."""
    with pytest.raises(KeyError):
        read({}).signal("profiles")


# --- booleans -------------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", ["true", "TRUE", "True", " true "])
def test_only_true_in_any_case_is_true(value: str) -> None:
    """A boolean is true only for the case-insensitive string 'true'."""
    settings = read({"OTEL_SDK_DISABLED": value})
    assert settings.disabled
    assert settings.warnings == ()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", ["false", "FALSE", "False"])
def test_false_is_false_without_warning(value: str) -> None:
    """'false' in any case is false and is not warned about."""
    settings = read({"OTEL_SDK_DISABLED": value})
    assert not settings.disabled
    assert settings.warnings == ()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", ["1", "yes", "on", "t", "truthy"])
def test_other_boolean_values_are_false_with_one_warning(value: str) -> None:
    """Any value other than true/false falls back to false with one warning naming it."""
    settings = read({"OTEL_SDK_DISABLED": value})
    assert not settings.disabled
    assert settings.warnings == (f"OTEL_SDK_DISABLED={value!r} is not 'true' or 'false'; using false",)


@pytest.mark.timeout(10)
def test_own_booleans_and_shutdown_budget() -> None:
    """OTEL_RUN_QUIET, _STRICT and _DEBUG are booleans; OTEL_RUN_SHUTDOWN_TIMEOUT is in ms."""
    settings = read(
        {
            "OTEL_RUN_QUIET": "true",
            "OTEL_RUN_STRICT": "TRUE",
            "OTEL_RUN_DEBUG": "true",
            "OTEL_RUN_SHUTDOWN_TIMEOUT": "1500",
            "OTEL_PYTHON_LOG_CORRELATION": "true",
        }
    )
    assert (settings.quiet, settings.strict, settings.debug, settings.log_correlation) == (True,) * 4
    assert settings.shutdown_timeout_ms == 1500
    assert read({}).shutdown_timeout_ms == 5000


# --- service name and resource --------------------------------------------------------


@pytest.mark.timeout(10)
def test_service_name_wins_over_resource_attributes() -> None:
    """OTEL_SERVICE_NAME takes precedence over service.name in OTEL_RESOURCE_ATTRIBUTES."""
    settings = read({"OTEL_SERVICE_NAME": "checkout", "OTEL_RESOURCE_ATTRIBUTES": "service.name=other,a=b"})
    assert settings.service_name == "checkout"
    assert not settings.service_name_derived
    assert settings.resource_attributes == (("a", "b"),)


@pytest.mark.timeout(10)
def test_service_name_from_resource_attributes() -> None:
    """Without OTEL_SERVICE_NAME, service.name in the resource attributes names the service."""
    settings = read({"OTEL_RESOURCE_ATTRIBUTES": "service.name=billing"})
    assert (settings.service_name, settings.service_name_origin) == ("billing", None)
    assert settings.resource_attributes == ()


@pytest.mark.timeout(10)
def test_service_name_is_derived_and_says_so() -> None:
    """With no name configured, it is derived from the command line and marked as derived."""
    settings = read({})
    assert settings.service_name == "checkout"
    assert settings.service_name_derived
    assert settings.service_name_origin == "script checkout.py"


@pytest.mark.timeout(10)
def test_resource_attribute_values_are_percent_decoded() -> None:
    """Resource attribute values are percent-decoded, keys kept as written, blanks trimmed."""
    settings = read({"OTEL_RESOURCE_ATTRIBUTES": " deployment.environment = prod%20eu ,team=a%2Cb,Key=v=w "})
    assert settings.resource_attributes == (
        ("deployment.environment", "prod eu"),
        ("team", "a,b"),
        ("Key", "v=w"),
    )
    assert settings.warnings == ()


@pytest.mark.timeout(10)
def test_bad_resource_attribute_entries_are_skipped_with_one_warning() -> None:
    """Entries without '=' or with bad percent-encoding are skipped; one warning for the variable."""
    settings = read({"OTEL_RESOURCE_ATTRIBUTES": "a=1,oops,b=%ff,=x,c=3"})
    assert settings.resource_attributes == (("a", "1"), ("c", "3"))
    [warning] = settings.warnings
    assert warning.startswith("OTEL_RESOURCE_ATTRIBUTES: ")
    assert "'oops'" in warning


# --- sampler --------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_sampler_names_are_case_insensitive() -> None:
    """A known sampler name is accepted in any case."""
    assert read({"OTEL_TRACES_SAMPLER": "Always_Off"}).sampler == "always_off"


@pytest.mark.timeout(10)
def test_unknown_sampler_warns_and_uses_the_default() -> None:
    """An unknown sampler is one warning and parentbased_always_on."""
    settings = read({"OTEL_TRACES_SAMPLER": "sometimes"})
    assert settings.sampler == "parentbased_always_on"
    assert len(warnings_naming(settings, "OTEL_TRACES_SAMPLER")) == 1


@pytest.mark.timeout(10)
@pytest.mark.parametrize("sampler", ["traceidratio", "parentbased_traceidratio"])
def test_ratio_sampler_reads_its_argument(sampler: str) -> None:
    """The ratio samplers take OTEL_TRACES_SAMPLER_ARG as a probability."""
    settings = read({"OTEL_TRACES_SAMPLER": sampler, "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert (settings.sampler, settings.sampler_arg) == (sampler, 0.25)


@pytest.mark.timeout(10)
def test_ratio_sampler_argument_defaults_to_one() -> None:
    """A ratio sampler without an argument samples everything (1.0)."""
    assert read({"OTEL_TRACES_SAMPLER": "traceidratio"}).sampler_arg == 1.0


@pytest.mark.timeout(10)
@pytest.mark.parametrize("arg", ["abc", "1.5", "-0.1", "nan", "inf"])
def test_bad_sampler_argument_is_ignored_with_one_warning(arg: str) -> None:
    """An invalid ratio is logged and ignored: the sampler behaves as if no argument were set."""
    settings = read({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": arg})
    assert settings.sampler_arg == 1.0
    assert len(warnings_naming(settings, "OTEL_TRACES_SAMPLER_ARG")) == 1
    assert len(settings.warnings) == 1


@pytest.mark.timeout(10)
def test_sampler_argument_is_unused_without_a_ratio_sampler() -> None:
    """OTEL_TRACES_SAMPLER_ARG only matters for a sampler that takes one; otherwise it is ignored."""
    settings = read({"OTEL_TRACES_SAMPLER_ARG": "garbage"})
    assert settings.sampler_arg is None
    assert settings.warnings == ()


# --- propagators, exporters, instrumentations ----------------------------------------


@pytest.mark.timeout(10)
def test_propagators_are_deduplicated_in_order() -> None:
    """OTEL_PROPAGATORS is a list; duplicates are registered once, order kept, case folded."""
    settings = read({"OTEL_PROPAGATORS": "b3, Baggage,b3,,tracecontext"})
    assert settings.propagators == ("b3", "baggage", "tracecontext")


@pytest.mark.timeout(10)
def test_propagators_none_means_no_propagator() -> None:
    """OTEL_PROPAGATORS=none configures no propagator at all."""
    assert read({"OTEL_PROPAGATORS": "none"}).propagators == ()


@pytest.mark.timeout(10)
def test_exporter_none_exports_nothing_for_that_signal() -> None:
    """OTEL_<SIGNAL>_EXPORTER=none turns off only that signal."""
    settings = read({"OTEL_METRICS_EXPORTER": "none"})
    assert settings.metrics.exporters == ()
    assert not settings.metrics.otlp
    assert settings.traces.exporters == ("otlp",)


@pytest.mark.timeout(10)
def test_several_exporters_per_signal() -> None:
    """A comma-separated exporter list is accepted and deduplicated."""
    settings = read({"OTEL_TRACES_EXPORTER": "console, otlp,console"})
    assert settings.traces.exporters == ("console", "otlp")


@pytest.mark.timeout(10)
def test_none_mixed_with_exporters_warns_and_exports_nothing() -> None:
    """'none' together with other exporters is one warning and no exporter."""
    settings = read({"OTEL_LOGS_EXPORTER": "otlp,none"})
    assert settings.logs.exporters == ()
    assert len(warnings_naming(settings, "OTEL_LOGS_EXPORTER")) == 1


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("name", "protocol"),
    [("otlp_proto_grpc", "grpc"), ("otlp_proto_http", "http/protobuf"), ("otlp_json_http", "http/json")],
)
def test_upstream_protocol_specific_exporter_names_force_the_protocol(name: str, protocol: str) -> None:
    """Upstream's otlp_proto_grpc-style exporter names mean otlp over that protocol."""
    settings = read({"OTEL_TRACES_EXPORTER": name, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert settings.traces.exporters == ("otlp",)
    assert (settings.traces.protocol, settings.traces.protocol_source) == (protocol, "OTEL_TRACES_EXPORTER")
    assert settings.metrics.protocol == "http/json"


@pytest.mark.timeout(10)
def test_disabled_instrumentations_match_case_insensitively() -> None:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names entry points in any case; '*' disables all."""
    settings = read({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "Flask, sqlite3"})
    assert settings.instrumentation_disabled("flask")
    assert settings.instrumentation_disabled("SQLite3")
    assert not settings.instrumentation_disabled("requests")
    assert read({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*"}).instrumentation_disabled("requests")


@pytest.mark.timeout(10)
def test_log_level_accepts_known_levels() -> None:
    """OTEL_LOG_LEVEL takes a known level; an unknown one warns and uses info."""
    assert read({"OTEL_LOG_LEVEL": "WARN"}).log_level == "warn"
    assert read({}).log_level is None
    settings = read({"OTEL_LOG_LEVEL": "loud"})
    assert settings.log_level == "info"
    assert len(warnings_naming(settings, "OTEL_LOG_LEVEL")) == 1


# --- OTLP options and per-signal overrides --------------------------------------------


@pytest.mark.timeout(10)
def test_signal_specific_options_override_the_general_ones() -> None:
    """Each OTLP option is overridden by its signal-specific variable, for that signal only."""
    settings = read(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=general",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "b=metrics",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "500",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/ca.pem",
            "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE": "/logs-ca.pem",
        }
    )
    assert settings.warnings == ()
    assert (settings.traces.protocol, settings.traces.protocol_source) == (
        "grpc",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    )
    assert settings.metrics.protocol == settings.logs.protocol == "http/json"
    assert settings.traces.headers.as_dict() == {"a": "general"}
    assert settings.metrics.headers.as_dict() == {"b": "metrics"}
    assert (settings.traces.timeout_s, settings.logs.timeout_s) == (2.0, 0.5)
    assert (settings.traces.compression, settings.metrics.compression) == ("gzip", "none")
    assert (settings.traces.certificate, settings.logs.certificate) == ("/ca.pem", "/logs-ca.pem")


@pytest.mark.timeout(10)
def test_timeout_is_milliseconds() -> None:
    """OTEL_EXPORTER_OTLP_TIMEOUT is in milliseconds, as the specification says (upstream reads seconds)."""
    assert read({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}).traces.timeout_s == 2.5


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", ["10s", "-5", "0", "1.5", "abc"])
def test_bad_timeout_is_one_warning_and_the_default(value: str) -> None:
    """A timeout that is not a positive whole number of ms warns once (not once per signal) and uses 10 s."""
    settings = read({"OTEL_EXPORTER_OTLP_TIMEOUT": value})
    assert {settings.signal(n).timeout_s for n in ("traces", "metrics", "logs")} == {10.0}
    assert len(settings.warnings) == 1
    assert settings.warnings[0].startswith(f"OTEL_EXPORTER_OTLP_TIMEOUT={value!r} ")
    assert settings.warnings[0].endswith("using 10000 ms")


@pytest.mark.timeout(10)
def test_protocol_names_are_checked_with_a_hint() -> None:
    """An unknown protocol warns once, suggests http/protobuf for 'http', and uses http/protobuf."""
    settings = read({"OTEL_EXPORTER_OTLP_PROTOCOL": "HTTP"})
    assert settings.traces.protocol == "http/protobuf"
    assert settings.warnings == (
        "OTEL_EXPORTER_OTLP_PROTOCOL='HTTP' is not one of http/protobuf, grpc, http/json "
        "(did you mean http/protobuf?); using http/protobuf",
    )


@pytest.mark.timeout(10)
def test_headers_are_percent_decoded_and_keys_lowercased() -> None:
    """Headers use the W3C baggage format: values percent-decoded, keys case-insensitive."""
    settings = read({"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc, x-tenant = t1 "})
    assert settings.traces.headers.as_dict() == {"authorization": "Bearer abc", "x-tenant": "t1"}
    assert settings.traces.headers.keys() == ["authorization", "x-tenant"]


@pytest.mark.timeout(10)
def test_header_values_never_appear_in_repr_or_warnings() -> None:
    """Header values are secrets: not in repr(Settings), not in any warning."""
    settings = read({"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr3t,Bearer s3cr3t,k=s3cr3t%zz"})
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in str(settings.traces.headers)
    assert len(settings.warnings) == 1
    assert "s3cr3t" not in settings.warnings[0]
    assert settings.warnings[0].startswith("OTEL_EXPORTER_OTLP_HEADERS: ")


@pytest.mark.timeout(10)
def test_compression_choices() -> None:
    """Compression is none, gzip or deflate; an unknown one warns and uses none."""
    assert read({"OTEL_EXPORTER_OTLP_COMPRESSION": "GZIP"}).traces.compression == "gzip"
    settings = read({"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"})
    assert settings.traces.compression == "none"
    assert len(settings.warnings) == 1


@pytest.mark.timeout(10)
def test_deflate_over_grpc_becomes_gzip_with_a_warning() -> None:
    """gRPC has no deflate, so it uses gzip and says so."""
    settings = read({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_COMPRESSION": "deflate"})
    assert settings.traces.compression == "gzip"
    assert settings.warnings == (
        "OTEL_EXPORTER_OTLP_COMPRESSION='deflate' is not supported over grpc; using gzip",
    )


@pytest.mark.timeout(10)
def test_insecure_applies_to_grpc_endpoints_without_a_scheme() -> None:
    """OTEL_EXPORTER_OTLP_INSECURE=true makes a scheme-less gRPC endpoint plaintext; default is TLS."""
    secure = read({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"})
    assert not secure.traces.insecure
    plain = read(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
    )
    assert plain.traces.insecure
    assert plain.traces.endpoint == "http://collector:4317"
    assert plain.warnings == ()


@pytest.mark.timeout(10)
def test_https_scheme_wins_over_insecure() -> None:
    """A URL with https is secure even when OTEL_EXPORTER_OTLP_INSECURE=true."""
    settings = read(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
    )
    assert not settings.traces.insecure


@pytest.mark.timeout(10)
def test_base_endpoint_gets_signal_paths_appended() -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: each signal's /v1/<signal> is appended."""
    settings = read({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/prefix/"})
    assert settings.traces.endpoint == "http://collector:4318/prefix/v1/traces"
    assert settings.metrics.endpoint == "http://collector:4318/prefix/v1/metrics"
    assert settings.logs.endpoint == "http://collector:4318/prefix/v1/logs"
    assert settings.traces.endpoint_source == "OTEL_EXPORTER_OTLP_ENDPOINT"


@pytest.mark.timeout(10)
def test_signal_endpoint_is_used_as_is_and_wins() -> None:
    """A signal-specific endpoint with a path is used unchanged and takes precedence over the base."""
    settings = read(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.com/custom/ingest",
        }
    )
    assert settings.traces.endpoint == "https://traces.example.com/custom/ingest"
    assert settings.traces.endpoint_source == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    assert settings.metrics.endpoint == "http://base:4318/v1/metrics"
    assert settings.warnings == ()


@pytest.mark.timeout(10)
def test_doubled_signal_path_in_base_is_fixed_once() -> None:
    """A base endpoint ending in /v1/traces is used without it, with one warning (not three)."""
    settings = read({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/v1/traces"})
    assert settings.traces.endpoint == "http://collector:4318/v1/traces"
    assert settings.metrics.endpoint == "http://collector:4318/v1/metrics"
    assert len(settings.warnings) == 1
    assert "already ends in /v1/traces" in settings.warnings[0]


@pytest.mark.timeout(10)
def test_signal_endpoint_without_path_gets_the_signal_path() -> None:
    """An HTTP signal endpoint with no path would 404, so /v1/<signal> is added with a warning."""
    settings = read({"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://collector:4318"})
    assert settings.logs.endpoint == "http://collector:4318/v1/logs"
    assert len(warnings_naming(settings, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")) == 1


@pytest.mark.timeout(10)
def test_invalid_endpoint_falls_back_with_one_warning() -> None:
    """An endpoint that is not an http(s) URL is ignored with one warning; the default is used."""
    settings = read({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector"})
    assert settings.traces.endpoint == "http://localhost:4318/v1/traces"
    assert len(settings.warnings) == 1


# --- processors, readers, limits ------------------------------------------------------


@pytest.mark.timeout(10)
def test_batch_processor_settings() -> None:
    """OTEL_BSP_* and OTEL_BLRP_* are read separately; unset values leave the SDK default."""
    settings = read(
        {
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BSP_EXPORT_TIMEOUT": "0",
            "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "256",
            "OTEL_BLRP_SCHEDULE_DELAY": "250",
        }
    )
    assert (settings.bsp.schedule_delay_ms, settings.bsp.export_timeout_ms) == (100, 0)
    assert (settings.bsp.max_queue_size, settings.bsp.max_export_batch_size) == (4096, 256)
    assert settings.blrp.schedule_delay_ms == 250
    assert settings.blrp.max_queue_size is None


@pytest.mark.timeout(10)
def test_batch_size_larger_than_queue_is_clamped_with_a_warning() -> None:
    """The batch size must not exceed the queue size: it is clamped, with one warning."""
    settings = read({"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "200"})
    assert (settings.bsp.max_queue_size, settings.bsp.max_export_batch_size) == (100, 100)
    assert len(warnings_naming(settings, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) == 1


@pytest.mark.timeout(10)
def test_small_queue_shrinks_the_default_batch() -> None:
    """A queue smaller than the SDK's default batch (512) makes the batch the queue size, silently."""
    settings = read({"OTEL_BLRP_MAX_QUEUE_SIZE": "10"})
    assert (settings.blrp.max_queue_size, settings.blrp.max_export_batch_size) == (10, 10)
    assert settings.warnings == ()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", ["-1", "0", "many", "1e400"])
def test_bad_sizes_are_ignored_with_one_warning(value: str) -> None:
    """A queue size must be a positive integer; anything else is one warning and the SDK default."""
    settings = read({"OTEL_BSP_MAX_QUEUE_SIZE": value})
    assert settings.bsp.max_queue_size is None
    assert settings.warnings == (
        f"OTEL_BSP_MAX_QUEUE_SIZE={value!r} "
        + ("is not a whole number" if value in ("many", "1e400") else "is below the minimum of 1")
        + "; using the SDK default",
    )


@pytest.mark.timeout(10)
def test_integers_above_the_32_bit_range_are_rejected() -> None:
    """Integers beyond 2**31-1 are outside the supported range: one warning and the default."""
    ok = read({"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": str(2**31 - 1)})
    assert ok.limits.span_attribute_count == 2**31 - 1
    settings = read({"OTEL_BSP_MAX_QUEUE_SIZE": str(2**31), "OTEL_EXPORTER_OTLP_TIMEOUT": "1e30"})
    assert settings.bsp.max_queue_size is None
    assert settings.traces.timeout_s == 10.0
    assert len(settings.warnings) == 2


@pytest.mark.timeout(10)
def test_metric_reader_settings() -> None:
    """OTEL_METRIC_EXPORT_INTERVAL must be positive; OTEL_METRIC_EXPORT_TIMEOUT may be 0."""
    settings = read({"OTEL_METRIC_EXPORT_INTERVAL": "500", "OTEL_METRIC_EXPORT_TIMEOUT": "0"})
    assert (settings.metric_export_interval_ms, settings.metric_export_timeout_ms) == (500, 0)
    zero = read({"OTEL_METRIC_EXPORT_INTERVAL": "0"})
    assert zero.metric_export_interval_ms is None
    assert len(zero.warnings) == 1


@pytest.mark.timeout(10)
def test_limits_are_non_negative_integers() -> None:
    """Attribute and span limits accept 0 and up; a negative limit warns and leaves the default."""
    settings = read(
        {
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "0",
            "OTEL_ATTRIBUTE_COUNT_LIMIT": "64",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "-3",
            "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "1e3",
        }
    )
    assert settings.limits.attribute_value_length == 0
    assert settings.limits.attribute_count == 64
    assert settings.limits.span_event_count is None
    assert settings.limits.link_attribute_count == 1000
    assert len(settings.warnings) == 1


# --- typos ----------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_misspelled_variable_is_reported_with_the_likely_name() -> None:
    """A name one or two edits from a known variable gets one warning suggesting it."""
    settings = read({"OTEL_SERVIC_NAME": "checkout"})
    assert settings.warnings == (
        "OTEL_SERVIC_NAME is not a known variable and is ignored; did you mean OTEL_SERVICE_NAME?",
    )
    assert settings.service_name_derived


@pytest.mark.timeout(10)
def test_children_of_a_booted_process_do_not_announce() -> None:
    """OTEL_RUN_PARENT_PID (set by a booted parent) makes a process a child: no startup line."""
    assert Settings.from_env({}).announces
    child = Settings.from_env({"OTEL_RUN_PARENT_PID": "4321"})
    assert (child.child, child.announces, child.warnings) == (True, False, ())
    assert not Settings.from_env({"OTEL_RUN_QUIET": "true"}).announces


@pytest.mark.timeout(10)
def test_undecodable_bytes_of_the_c_locale_are_read_as_utf8() -> None:
    """Values Python decoded as ASCII with surrogates (LC_ALL=C, no UTF-8 mode) are read as UTF-8."""

    def escaped(text: str) -> str:
        return text.encode().decode("ascii", "surrogateescape")

    settings = Settings.from_env(
        {"OTEL_SERVICE_NAME": escaped("결제"), "OTEL_RESOURCE_ATTRIBUTES": "team=" + escaped("팀")}
    )
    assert settings.service_name == "결제"
    assert dict(settings.resource_attributes)["team"] == "팀"
    derived = Settings.from_env({}, ["python", "/srv/" + escaped("앱") + ".py"])
    assert derived.service_name == "앱"
