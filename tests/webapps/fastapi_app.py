"""A small FastAPI service with no OpenTelemetry code, for the ASGI content-equivalence test.

``/`` greets and logs, ``/items/{item_id}`` has a path parameter (a route template),
``/chain`` calls this service's ``/`` with requests (in FastAPI's thread pool, as a sync
endpoint is run), ``/error`` fails on purpose. ``PORT`` is the port uvicorn serves on.
"""

from __future__ import annotations

import logging
import os

import requests
from fastapi import FastAPI

logger = logging.getLogger("fastapi_app")
logger.setLevel(logging.INFO)

app = FastAPI()


@app.get("/")
async def index() -> dict[str, str]:
    logger.info("saying hello")
    return {"hello": "world"}


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@app.get("/chain")
def chain() -> dict[str, int]:
    logger.info("calling downstream")
    answer = requests.get(f"http://127.0.0.1:{os.environ['PORT']}/", timeout=5)
    return {"downstream_status": answer.status_code}


@app.get("/error")
async def error() -> None:
    logger.warning("about to fail on purpose")
    raise RuntimeError("fastapi_app /error was called")


@app.get("/healthz")
async def healthz() -> str:
    return "ok"
