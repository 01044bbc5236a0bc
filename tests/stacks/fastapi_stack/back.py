"""A second FastAPI service with no OpenTelemetry code: stock levels kept in Redis at REDIS_URL."""

from __future__ import annotations

import os

import redis.asyncio as redis
from fastapi import FastAPI

app = FastAPI()
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/stock/{item}")
async def stock(item: str) -> dict[str, int]:
    return {"stock": int(await cache.get(f"stock:{item}") or 42)}
