"""A FastAPI service with no OpenTelemetry code: Redis, PostgreSQL and an httpx call to ``back``.

Run with ``uvicorn front:app``; REDIS_URL, PG_DSN and BACK_URL say where the others are.
"""

from __future__ import annotations

import os

import httpx
import psycopg
import redis.asyncio as redis
from fastapi import FastAPI

app = FastAPI()
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/order/{item}")
async def order(item: str) -> dict[str, object]:
    orders = await cache.incr(f"orders:{item}")
    async with await psycopg.AsyncConnection.connect(os.environ["PG_DSN"]) as conn:
        cursor = await conn.execute("SELECT upper(%s)", (item,))
        row = await cursor.fetchone()
    async with httpx.AsyncClient() as client:
        stock = (await client.get(f"{os.environ['BACK_URL']}/stock/{item}", timeout=10)).json()
    return {"item": row[0] if row else None, "orders": orders, "stock": stock["stock"]}
