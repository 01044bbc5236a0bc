"""A small script with no OpenTelemetry code: one GET through each of httpx (sync and async) and aiohttp.

Usage: python http_clients.py URL; prints each status.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import httpx


async def _async_calls(url: str) -> list[int]:
    async with httpx.AsyncClient() as client:
        first = (await client.get(url + "?client=httpx-async", timeout=10)).status_code
    async with aiohttp.ClientSession() as session, session.get(url + "?client=aiohttp") as response:
        second = response.status
    return [first, second]


url = sys.argv[1]
statuses = [httpx.get(url + "?client=httpx", timeout=10).status_code, *asyncio.run(_async_calls(url))]
print("statuses", statuses)
