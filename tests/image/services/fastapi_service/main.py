"""A small FastAPI service with no OpenTelemetry code: a query on sqlite3, a call out with httpx."""

from __future__ import annotations

import logging
import os
import sqlite3

import httpx
from fastapi import FastAPI

logger = logging.getLogger("orders")
app = FastAPI()


@app.get("/healthz")
async def healthz() -> str:
    """Answer a probe."""
    return "ok"


@app.get("/orders")
async def orders() -> dict[str, int]:
    """Count the orders in a fresh database and ask the downstream service about them."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
    db.execute("INSERT INTO orders (item) VALUES ('apple')")
    count = db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    db.close()
    async with httpx.AsyncClient() as client:
        downstream = await client.get(os.environ["DOWNSTREAM_URL"], timeout=5)
    logger.warning("counted %d orders", count)
    return {"orders": count, "downstream": downstream.status_code}
