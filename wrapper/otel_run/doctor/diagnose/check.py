"""The ``Check`` a diagnosis yields, its statuses, and small text helpers the sections share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"
STATUSES = (OK, INFO, WARN, FAIL)
"""``info`` is a fact worth knowing that asks for no action; ``warn`` asks for one."""
_NOUNS = {"traces": "spans", "metrics": "metrics", "logs": "log records"}
_ITEM = {"traces": "span", "metrics": "metric", "logs": "log record"}


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, info, warn or fail; ``fix`` says what to change (empty when ok)."""

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
