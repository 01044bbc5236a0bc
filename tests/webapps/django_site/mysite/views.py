"""The views a new project adds first; no OpenTelemetry code, as in any Django app."""

import os

import requests
from django.http import HttpRequest, HttpResponse, JsonResponse


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def items(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"items": ["apple", "pear", "plum"]})


def chain(request: HttpRequest) -> HttpResponse:
    """Calls the service named by DOWNSTREAM_URL: the trace must cross into it."""
    answer = requests.get(os.environ["DOWNSTREAM_URL"] + "/items", timeout=5)
    return HttpResponse(answer.content, status=answer.status_code, content_type="application/json")
