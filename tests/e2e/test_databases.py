"""Databases and caches traced with no code: psycopg, psycopg2, sqlite3, SQLAlchemy and redis,
against real PostgreSQL and Redis servers, through a real OTLP receiver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from apps import PYTHON, REPO, clean_env, otlp_env, run
from otel_run.receiver import Receiver
from otel_run.receiver.model import ReceivedSpan
from services import Postgres, Redis

STACKS = REPO / "tests" / "stacks"
DB_APP = str(STACKS / "db_app.py")
REDIS_APP = str(STACKS / "redis_app.py")
SCOPE = "opentelemetry.instrumentation."


def _env(
    receiver: Receiver | None, postgres: Postgres | None = None, redis: Redis | None = None
) -> dict[str, str]:
    extra: dict[str, str] = {"OTEL_SERVICE_NAME": "db-app"}
    if postgres is not None:
        extra.update(PG_DSN=postgres.dsn, PG_URL=postgres.url)
    if redis is not None:
        extra["REDIS_URL"] = redis.url
    return otlp_env(receiver, **extra) if receiver is not None else clean_env(**extra)


def _traced_and_plain(
    args: list[str], receiver: Receiver, postgres: Postgres | None = None, redis: Redis | None = None
) -> str:
    """Run the app under otel-run and without it: same stdout and exit status; the stdout."""
    traced = run([PYTHON, *args], _env(receiver, postgres, redis), timeout=60)
    plain = subprocess.run(
        [PYTHON, *args],
        env=_env(None, postgres, redis),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert traced.returncode == plain.returncode == 0, traced.stderr + plain.stderr
    assert traced.stdout == plain.stdout
    return traced.stdout


def _spans(receiver: Receiver, library: str, count: int) -> list[ReceivedSpan]:
    """The spans of instrumentation ``library``, in the order they were started (waits for ``count``)."""

    def found() -> list[ReceivedSpan]:
        return [span for span in receiver.store.spans() if span.scope == SCOPE + library]

    receiver.store.wait_for(lambda store: len(found()) >= count, 10)
    return sorted(found(), key=lambda span: span.start_time_unix_nano)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_postgres_driver_statements_are_client_spans(
    driver: str, receiver: Receiver, postgres: Postgres
) -> None:
    """Each statement through psycopg or psycopg2 is one CLIENT span naming the real server; the
    failing one is an error; the app's output is unchanged."""
    assert _traced_and_plain([DB_APP, driver], receiver, postgres) == "total 15\nmissing table\n"
    spans = _spans(receiver, driver, 5)
    assert [span.name for span in spans] == ["DROP", "CREATE", "INSERT", "SELECT", "SELECT"]
    assert {span.kind for span in spans} == {"CLIENT"}
    for span in spans:
        assert span.attributes["db.system"] == "postgresql"
        assert span.attributes["db.name"] == postgres.database
        assert span.attributes["net.peer.port"] == postgres.port
        assert span.service == "db-app"
    assert spans[3].attributes["db.statement"] == f"SELECT sum(qty) FROM fruit_{driver}"
    assert [span.status_code for span in spans] == ["UNSET"] * 4 + ["ERROR"]


@pytest.mark.timeout(60)
def test_sqlite3_connection_shortcuts_are_traced(receiver: Receiver) -> None:
    """``Connection.execute``, ``executemany`` and ``executescript`` each make the same CLIENT span a
    cursor's ``execute`` makes (upstream traces cursors only: opentelemetry-python-contrib#3082)."""
    assert _traced_and_plain([DB_APP, "sqlite3"], receiver) == "total 15\nrows 3\nmissing table\n"
    spans = _spans(receiver, "sqlite3", 5)
    assert [span.name for span in spans] == ["CREATE", "INSERT", "SELECT", "SELECT", "SELECT"]
    assert {span.kind for span in spans} == {"CLIENT"}
    assert {span.attributes["db.system"] for span in spans} == {"sqlite"}
    statements = [span.attributes["db.statement"] for span in spans]
    assert statements[0].startswith("CREATE TABLE fruit") and "CREATE INDEX" in statements[0]  # the script
    assert statements[1] == "INSERT INTO fruit VALUES (?, ?)"  # executemany
    assert statements[2] == "SELECT sum(qty) FROM fruit"  # execute
    assert statements[3] == "SELECT count(*) FROM fruit"  # a cursor, as upstream
    assert [span.status_code for span in spans] == ["UNSET"] * 4 + ["ERROR"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("flavour", ["sqlalchemy", "sqlalchemy-orm"])
def test_sqlalchemy_statement_and_driver_span_are_one_trace(
    flavour: str, receiver: Receiver, postgres: Postgres
) -> None:
    """Every SQLAlchemy statement span (Core and ORM) has exactly one psycopg span as its child, in
    the same trace, for the same SQL: no driver span is a root of its own."""
    assert _traced_and_plain([DB_APP, flavour], receiver, postgres) == "total 15\n"
    statements = [span for span in _spans(receiver, "sqlalchemy", 4) if span.name != "connect"]
    connects = [span for span in _spans(receiver, "sqlalchemy", 4) if span.name == "connect"]
    driver = _spans(receiver, "psycopg", len(statements))
    assert len(statements) >= 4 and connects
    by_parent: dict[str, list[ReceivedSpan]] = {}
    for span in driver:
        by_parent.setdefault(span.parent_span_id, []).append(span)
    for statement in statements:
        assert statement.kind == "CLIENT"
        children = by_parent.get(statement.span_id, [])
        assert len(children) == 1, (statement.name, [c.name for c in children])
        assert children[0].trace_id == statement.trace_id
        assert children[0].attributes["db.statement"] == statement.attributes["db.statement"]
    parents = {span.span_id for span in statements + connects}
    # The rest are the queries SQLAlchemy's dialect makes on its first connection, under "connect".
    assert [span.name for span in driver if span.parent_span_id not in parents] == []


@pytest.mark.timeout(60)
def test_redis_commands_are_client_spans(receiver: Receiver, redis_server: Redis) -> None:
    """Each Redis command, and a pipeline as one, is a CLIENT span naming the real server."""
    assert _traced_and_plain([REDIS_APP], receiver, redis=redis_server) == (
        "apple 5\npipeline [True, b'5']\nerror WRONGTYPE\n"
    )
    spans = _spans(receiver, "redis", 5)
    assert [span.name for span in spans] == ["SET", "INCRBY", "GET", "SET GET", "LPUSH"]
    assert {span.kind for span in spans} == {"CLIENT"}
    for span in spans:
        assert span.attributes["db.system"] == "redis"
        assert span.attributes["net.peer.port"] == redis_server.port
    assert spans[3].attributes["db.redis.pipeline_length"] == 2
    assert [span.status_code for span in spans] == ["UNSET"] * 4 + ["ERROR"]


def _sqlalchemy_2_1(tmp_path: Path) -> Path:
    """A ``site`` directory whose SQLAlchemy metadata says 2.1.0, to put ahead of the real one.

    The dev environment must carry SQLAlchemy 2.0 for the tests above; contrib 0.66 decides
    support from the installed distribution's metadata, which this relabels. The code that
    runs is the real SQLAlchemy 2.0.
    """
    info = tmp_path / "site" / "sqlalchemy-2.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: SQLAlchemy\nVersion: 2.1.0\n")
    return info.parent


SQLALCHEMY_ON_SQLITE = (
    "import sqlalchemy as sa\n"
    "with sa.create_engine('sqlite://').connect() as conn:\n"
    "    print(conn.execute(sa.text('SELECT 41 + 1')).scalar())\n"
)


@pytest.mark.timeout(90)
def test_unsupported_sqlalchemy_version_is_one_line_with_the_supported_range(
    receiver: Receiver, tmp_path: Path
) -> None:
    """With SQLAlchemy 2.1 (outside contrib 0.66's range) the app runs as without otel-run, one
    stderr line names the installed version and the supported range, the driver's span is still
    made; doctor's fix asks for a supported SQLAlchemy, not for an instrumentation release."""
    env = _env(receiver)
    env["PYTHONPATH"] = str(_sqlalchemy_2_1(tmp_path))
    env["OTEL_RUN_QUIET"] = "true"  # no startup line: every line left is a warning
    result = run([PYTHON, "-c", SQLALCHEMY_ON_SQLITE], env, timeout=60)
    assert (result.returncode, result.stdout) == (0, "42\n"), result.stderr
    told = [line for line in result.stderr.splitlines() if "sqlalchemy" in line.lower()]
    assert len(told) == 1, result.stderr
    assert told[0].startswith("otel-run: instrumentation sqlalchemy is off")
    assert "sqlalchemy 2.1.0" in told[0] and "< 2.1.0" in told[0], told
    assert [s.name for s in _spans(receiver, "sqlite3", 2)][-1] == "SELECT"  # after the dialect's PRAGMA
    assert _spans(receiver, "sqlalchemy", 0) == []

    doctor = run(["doctor", "--json"], env, timeout=60)
    report = json.loads(doctor.stdout)
    [warning] = [c for c in report["checks"] if c["name"] == "instrumentation sqlalchemy"]
    assert warning["status"] == "warn"
    assert "sqlalchemy 2.1.0 is installed" in warning["message"]
    assert warning["fix"].endswith("pip install 'sqlalchemy<2.1.0,>=1.0.0'")
    fixes = " ".join(str(c.get("fix") or "") for c in report["checks"])
    assert "opentelemetry-instrumentation-sqlalchemy==" not in fixes
