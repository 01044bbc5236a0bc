"""The pure parts of OTEL_CONFIG_FILE handling: replaced variables, places in the file, lint, resolve."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from otel_run.config import configfile, filesettings
from otel_run.config.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "sample_app" / "otel-config.yaml"
TEXT = """file_format: "1.0"
# ${IN_A_COMMENT} is not a reference
tracer_provider:
  processors:
    - batch:
        schedule_delay: ${DELAY:-100}
        exporter:
          otlp_http:
            endpoint: ${COLLECTOR}/v1/traces
"""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("OTEL_SERVICE_NAME", True),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", True),
        ("OTEL_BSP_SCHEDULE_DELAY", True),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", True),
        ("OTEL_SDK_DISABLED", True),
        ("OTEL_CONFIG_FILE", False),
        ("OTEL_RUN_STRICT", False),
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", False),
        ("OTEL_PYTHON_FLASK_EXCLUDED_URLS", False),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", False),
        ("PATH", False),
    ],
)
def test_the_file_replaces_the_sdk_variables_only(name: str, expected: bool) -> None:
    """SDK variables with a schema equivalent are replaced; ours and the instrumentations' are not."""
    assert configfile.replaced(name) is expected


def test_a_variable_the_file_references_is_not_ignored() -> None:
    """``${VAR}`` in a value uses the variable; a comment does not; unset ones are empty."""
    environ = {
        "OTEL_SERVICE_NAME": "x",
        "COLLECTOR": "http://c:4318",
        "OTEL_BSP_SCHEDULE_DELAY": "5",
        "DELAY": "",
    }
    assert configfile.references(TEXT) == {"DELAY", "COLLECTOR"}
    assert configfile.ignored_variables(environ, TEXT) == ("OTEL_BSP_SCHEDULE_DELAY", "OTEL_SERVICE_NAME")
    assert configfile.unset_references({}, TEXT) == [(9, "COLLECTOR")]
    assert configfile.references("a: ${env:ENV_NAME:-dev}\nb: $${LITERAL}") == {"ENV_NAME"}


def test_a_field_path_has_a_line() -> None:
    """Field paths read as in the file and point at their line (or the nearest parent's)."""
    parts = ["tracer_provider", "processors", 0, "batch", "schedule_delay"]
    assert configfile.field_path(parts) == "tracer_provider.processors[0].batch.schedule_delay"
    assert configfile.locate(TEXT, parts) == 6
    assert configfile.locate(TEXT, ["tracer_provider", "processors", 0, "batch", "nothing"]) == 5
    assert configfile.where("c.yaml", TEXT, ["file_format"]) == "c.yaml line 1 (file_format)"
    assert configfile.locate("{not: [yaml", ["x"]) is None


def test_lint_says_what_upstream_accepts_but_does_not_do() -> None:
    """An unknown top-level key, an exporter's tls and encoding, instrumentation ``general``."""
    text = """file_format: "1.0"
instrumentation:
  python: {}
instrumentation/development:
  general: {}
tracer_provider:
  processors:
    - batch:
        exporter:
          otlp_http:
            encoding: json
            tls: {ca_file: /ca.pem}
"""
    found = configfile.lint(yaml.safe_load(text), text, "c.yaml")
    assert found == [
        "c.yaml line 2 (instrumentation): 'instrumentation' is not a file_format 1.0 key and is ignored; "
        "did you mean 'instrumentation/development'?",
        "c.yaml line 5 (instrumentation/development.general): not supported by the Python instrumentations "
        "(opentelemetry-configuration ignores it); use instrumentation/development.python instead",
        "c.yaml line 12 (tracer_provider.processors[0].batch.exporter.otlp_http.tls): not applied by "
        "opentelemetry-configuration (its otlp_http exporter is built without it): the traces exporter uses "
        "the system's CAs and no client certificate",
        "c.yaml line 11 (tracer_provider.processors[0].batch.exporter.otlp_http.encoding): 'json' is not "
        "applied by opentelemetry-configuration; the traces exporter sends protobuf",
    ]
    assert configfile.lint(yaml.safe_load(EXAMPLE.read_text()), EXAMPLE.read_text(), "x") == []


def test_a_typo_of_a_built_in_component_is_found() -> None:
    """Upstream takes ``otlp_htp`` or ``batchh`` for a plugin; the nearest built-in name is the fix."""
    document = {
        "tracer_provider": {
            "processors": [{"batchh": {}}, {"simple": {"exporter": {"otlp_htp": {}}}}],
            "sampler": {"parentbased": {}},
        }
    }
    assert configfile.unknown_components(document, "tracer_provider") == [
        (["tracer_provider", "processors", 0, "batchh"], "batch"),
        (["tracer_provider", "processors", 1, "simple", "exporter", "otlp_htp"], "otlp_http"),
        (["tracer_provider", "sampler", "parentbased"], "parent_based"),
    ]


@pytest.mark.parametrize(
    ("sampler", "text", "env_name", "arg"),
    [
        (None, "parent_based(root: always_on)", "parentbased_always_on", None),
        ({"always_off": {}}, "always_off", "always_off", None),
        ({"trace_id_ratio_based": {"ratio": 0.1}}, "trace_id_ratio_based 0.1", "traceidratio", 0.1),
        (
            {"parent_based": {"root": {"trace_id_ratio_based": {"ratio": 0.25}}}},
            "parent_based(root: trace_id_ratio_based 0.25)",
            "parentbased_traceidratio",
            0.25,
        ),
        (
            {"parent_based": {"root": {"always_on": {}}, "remote_parent_sampled": {"always_off": {}}}},
            "parent_based(root: always_on, remote_parent_sampled: always_off)",
            "parent_based(root: always_on, remote_parent_sampled: always_off)",
            None,
        ),
    ],
)
def test_the_sampler_reads_as_the_file_writes_it(
    sampler: object, text: str, env_name: str, arg: object
) -> None:
    """One phrase for people; the OTEL_TRACES_SAMPLER name doctor's checks know, where one fits."""
    document = {"file_format": "1.0", "tracer_provider": {"sampler": sampler}}
    settings = filesettings.resolve(Settings.from_env({}), document, {"service.name": "s"}, "c.yaml")
    assert settings.file is not None and settings.file.sampler == text
    assert (settings.sampler, settings.sampler_arg) == (env_name, arg)


def test_resolve_takes_what_the_file_replaces_from_the_file() -> None:
    """Service, resource, exporters, endpoints, headers, propagators, instrumentation: from the file."""
    environ = {
        "OTEL_SERVICE_NAME": "env-name",
        "OTEL_RUN_QUIET": "true",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "redis",
    }
    document = {
        "file_format": "1.0",
        "propagator": {"composite": [{"tracecontext": {}}], "composite_list": "b3, none"},
        "tracer_provider": {
            "processors": [
                {
                    "batch": {
                        "exporter": {"otlp_grpc": {"endpoint": "http://collector:4317", "timeout": 2000}}
                    }
                },
                {"simple": {"exporter": {"console": {}}}},
            ]
        },
        "logger_provider": {
            "processors": [
                {
                    "batch": {
                        "exporter": {
                            "otlp_http": {
                                "headers": [{"name": "authorization", "value": "Bearer s3cret"}],
                                "headers_list": "x-tenant=a,authorization=other",
                                "compression": "gzip",
                            }
                        }
                    }
                }
            ]
        },
        "instrumentation/development": {
            "python": {"flask": {"excluded_urls": "healthz"}, "django": {"enabled": False}}
        },
    }
    resource = {"service.name": "file-name", "deployment.environment.name": "prod"}
    settings = filesettings.resolve(
        Settings.from_env(environ), document, resource, "c.yaml", ("OTEL_SERVICE_NAME",)
    )
    assert (settings.service_name, settings.service_name_derived) == ("file-name", False)
    assert settings.resource_attributes == (("deployment.environment.name", "prod"),)
    assert settings.quiet is True  # otel-run's own variables still count
    traces, metrics, logs = settings.traces, settings.metrics, settings.logs
    assert (traces.exporters, traces.protocol, traces.endpoint, traces.insecure) == (
        ("otlp", "console"),
        "grpc",
        "http://collector:4317",
        True,
    )
    assert traces.timeout_s == 2.0
    assert traces.endpoint_source == "c.yaml tracer_provider.processors[0].batch.exporter.otlp_grpc.endpoint"
    assert metrics.exporters == ()
    assert (logs.endpoint, logs.compression) == ("http://localhost:4318/v1/logs", "gzip")
    assert logs.headers.as_dict() == {"x-tenant": "a", "authorization": "Bearer s3cret"}
    assert "s3cret" not in repr(settings)
    assert settings.propagators == ("tracecontext", "b3")
    assert settings.instrumentation_disabled("django") and settings.instrumentation_disabled("redis")
    assert settings.file is not None
    assert settings.file.instrumentation_options == {"flask": {"excluded_urls": "healthz"}}
    assert settings.file.ignored_variables == ("OTEL_SERVICE_NAME",)


def test_settings_ignore_bad_values_of_replaced_variables() -> None:
    """With a file, a bad OTEL_TRACES_SAMPLER changes nothing, so it earns no warning; typos still do."""
    environ = {"OTEL_CONFIG_FILE": "c.yaml", "OTEL_TRACES_SAMPLER": "sometimes", "OTEL_SERVIC_NAME": "x"}
    settings = Settings.from_env(environ)
    assert settings.config_file == "c.yaml"
    assert settings.warnings == (
        "OTEL_SERVIC_NAME is not a known variable and is ignored; did you mean OTEL_SERVICE_NAME?",
    )
    assert len(Settings.from_env({"OTEL_TRACES_SAMPLER": "sometimes"}).warnings) == 1


def test_the_readme_shows_the_example_file_as_it_is() -> None:
    """The README's example configuration file is sample_app/otel-config.yaml, byte for byte."""
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "```yaml\n" + EXAMPLE.read_text(encoding="utf-8") + "```" in readme


def test_upstreams_schema_is_valid_so_the_boot_may_skip_checking_it() -> None:
    """fromfile skips jsonschema's per-load check of upstream's vendored schema; this is that check."""
    import jsonschema
    from opentelemetry.configuration.file import _loader

    jsonschema.Draft202012Validator.check_schema(_loader._get_schema())
