"""A small Starlette service with no OpenTelemetry code, for uvicorn and gunicorn's UvicornWorker.

``/items`` answers; ``/chain`` calls ``DOWNSTREAM_URL/items`` (with requests, in Starlette's
thread pool, as a sync endpoint is run) so the trace must cross into that service.
"""

from __future__ import annotations

import os

import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def items(request: Request) -> Response:
    return JSONResponse({"items": ["apple", "pear", "plum"]})


def chain(request: Request) -> Response:
    answer = requests.get(os.environ["DOWNSTREAM_URL"] + "/items", timeout=5)
    return Response(answer.content, status_code=answer.status_code, media_type="application/json")


app = Starlette(
    routes=[Route("/healthz", healthz), Route("/items", items), Route("/chain", chain)],
)
