"""The shop's views: a query through Django's database connection and a call out with requests."""

from __future__ import annotations

import logging
import os

import requests
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("orders")


def healthz(request: HttpRequest) -> HttpResponse:
    """Answer a probe."""
    return HttpResponse("ok")


def orders(request: HttpRequest) -> JsonResponse:
    """Count the orders and ask the downstream service about them."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
        cursor.execute("INSERT INTO orders (item) VALUES (%s)", ["apple"])
        cursor.execute("SELECT COUNT(*) FROM orders")
        (count,) = cursor.fetchone()
    downstream = requests.get(os.environ["DOWNSTREAM_URL"], timeout=5)
    logger.info("counted %d orders", count)
    return JsonResponse({"orders": count, "downstream": downstream.status_code})
