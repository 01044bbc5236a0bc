"""A small Flask service with no OpenTelemetry code: otel-run instruments it from outside.

Routes exercise what zero-code instrumentation should capture: an incoming request (``/``),
a database query (``/items``), an outgoing HTTP call that carries the trace context
(``/chain``), an unhandled exception (``/error``) and log lines in every route.

Run it directly (``python sample_app/app.py``; ``HOST`` and ``PORT`` choose the address) or
under a WSGI server from the repository root (``gunicorn sample_app.app:app``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import NoReturn

import requests
from flask import Flask, Response, jsonify

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
logger = logging.getLogger("sample_app")

app = Flask(__name__)

_ITEMS = (("apple", 3), ("banana", 12), ("cherry", 40))
_DOWNSTREAM_TIMEOUT_S = 5.0

# One in-memory database per process, shared by that process's threads behind a lock.
# Keyed by PID because a connection must never cross a fork (gunicorn --preload, multiprocessing).
_db_lock = threading.Lock()
_db: sqlite3.Connection | None = None
_db_pid = 0


def _service_name() -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or "sample-app"


def _port() -> int:
    return int(os.environ.get("PORT", "8000"))


def _connect() -> sqlite3.Connection:
    # Called with _db_lock held. sqlite3.connect is looked up at call time so an
    # instrumentation that wraps it (installed after this module was imported) applies.
    global _db, _db_pid
    if _db is None or _db_pid != os.getpid():
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL)")
        db.executemany("INSERT INTO items (name, qty) VALUES (?, ?)", _ITEMS)
        db.commit()
        _db, _db_pid = db, os.getpid()
    return _db


@app.route("/")
def index() -> str:
    """Greet the caller with this service's name."""
    logger.info("saying hello")
    return f"hello from {_service_name()}\n"


@app.route("/items")
def items() -> Response:
    """List the rows of the ``items`` table as JSON."""
    with _db_lock:
        cursor = _connect().cursor()
        cursor.execute("SELECT id, name, qty FROM items ORDER BY id")
        rows = cursor.fetchall()
    logger.info("listing %d items", len(rows))
    return jsonify([{"id": row[0], "name": row[1], "qty": row[2]} for row in rows])


@app.route("/chain")
def chain() -> tuple[Response, int]:
    """Call ``CHAIN_URL`` (default: this service's ``/``) and report what it answered."""
    url = os.environ.get("CHAIN_URL") or f"http://127.0.0.1:{_port()}/"
    logger.info("calling downstream %s", url)
    try:
        downstream = requests.get(url, timeout=_DOWNSTREAM_TIMEOUT_S)
    except requests.RequestException as exc:
        logger.warning("downstream %s failed: %s", url, exc)
        return jsonify({"downstream_status": None, "downstream_body": None, "error": str(exc)}), 502
    return jsonify({"downstream_status": downstream.status_code, "downstream_body": downstream.text}), 200


@app.route("/error")
def error() -> NoReturn:
    """Fail on purpose, so error spans and exception logs can be checked."""
    logger.warning("about to fail on purpose")
    raise RuntimeError("sample_app /error was called")


@app.route("/healthz")
def healthz() -> str:
    """Answer a liveness or readiness probe; silent, since probes come every few seconds."""
    return "ok\n"


def main() -> None:
    """Serve with Flask's development server on ``HOST``:``PORT`` (default 127.0.0.1:8000)."""
    debug = os.environ.get("FLASK_DEBUG") == "1"
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=_port(), debug=debug, use_reloader=debug)


if __name__ == "__main__":
    main()
