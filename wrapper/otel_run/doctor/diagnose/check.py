"""The ``Check`` a diagnosis yields, its statuses, and small text helpers the sections share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "fail"
STATUSES = (OK, WARN, FAIL)
_NOUNS = {"traces": "spans", "metrics": "metrics", "logs": "log records"}
_ITEM = {"traces": "span", "metrics": "metric", "logs": "log record"}


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warn or fail; ``fix`` says what to change (empty when ok)."""

    name: str
    status: str
    message: str
    fix: str = ""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
