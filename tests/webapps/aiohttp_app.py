"""A small aiohttp service with no OpenTelemetry code: ``python aiohttp_app.py PORT``.

``/items`` answers; ``/chain`` calls ``DOWNSTREAM_URL/items`` with aiohttp's own client, so
the trace must cross into that service.
"""

from __future__ import annotations

import os
import sys

from aiohttp import ClientSession, web


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def items(request: web.Request) -> web.Response:
    return web.json_response({"items": ["apple", "pear", "plum"]})


async def chain(request: web.Request) -> web.Response:
    url = os.environ["DOWNSTREAM_URL"] + "/items"
    async with ClientSession() as session, session.get(url) as answer:
        body = await answer.read()
        return web.Response(body=body, status=answer.status, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/items", items), web.get("/chain", chain)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
