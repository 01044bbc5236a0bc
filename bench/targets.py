"""The figures of issue 11's goals table and the goals themselves, defined once for every bench.

``goals.py`` measures all of them; ``startup.py``, ``throughput.py`` and ``memory.py`` each
measure some and judge those with the same ``GOALS``. A figure's value for a side is the
median over rounds, in the figure's unit (ms, MiB, req/s, µs). Wall-time figures are the
judged ones (the goals are stated in wall time); the CPU-time figures beside them are
printed, never judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PLAIN, OURS, UPSTREAM = "plain", "otel-run", "upstream"
IDLE_REQUESTS = 500  # the table's "idle RSS after 500 requests"


@dataclass(frozen=True)
class Figure:
    """One row of the table: what is measured, in which unit, with how many decimals."""

    key: str
    title: str
    unit: str
    decimals: int = 1
    judged: bool = True


FIGURES = (
    Figure("pass_wall", "python -c pass, wall", "ms"),
    Figure("pass_cpu", "  the same, CPU (user+sys)", "ms", judged=False),
    Figure("pass_peak_rss", "peak RSS of python -c pass", "MiB"),
    Figure("first_wall", "time to first response, Flask sample_app, wall", "ms"),
    Figure("first_cpu", "  the same, CPU (user+sys)", "ms", judged=False),
    Figure("rps", "req/s, gunicorn -w 2, 3 signals, 100% sampled", "req/s", 0),
    Figure("cpu_per_request", "CPU per request (GET /)", "µs", 0),
    Figure("p99", "p99 under that load", "ms", 2),
    Figure("idle_rss", "idle RSS after 500 requests", "MiB"),
)
BY_KEY = {figure.key: figure for figure in FIGURES}


@dataclass(frozen=True)
class Goal:
    """``otel-run``'s median compared with plain's or upstream's.

    ``compare`` is ``"plus"`` (otel-run minus plain, in the figure's unit), ``"x plain"``
    or ``"x upstream"`` (otel-run divided by that side); ``at_most`` says which way the
    limit goes.
    """

    figure: str
    compare: str
    limit: float
    at_most: bool = True

    def value(self, medians: Mapping[str, float]) -> float:
        """What is compared with the limit, from the medians of the three sides."""
        if self.compare == "plus":
            return medians[OURS] - medians[PLAIN]
        other = medians[PLAIN] if self.compare == "x plain" else medians[UPSTREAM]
        return medians[OURS] / other if other else float("inf")

    def passed(self, medians: Mapping[str, float]) -> bool:
        """True when the goal holds (a NaN, a figure not measured, fails)."""
        value = self.value(medians)
        return value <= self.limit if self.at_most else value >= self.limit

    def text(self) -> str:
        """The goal as the issue states it, e.g. ``≤ plain + 40 ms``."""
        sign = "≤" if self.at_most else "≥"
        if self.compare == "plus":
            return f"{sign} plain + {self.limit:g} {BY_KEY[self.figure].unit}"
        return f"{sign} {self.limit:g}x {self.compare.split()[1]}"

    def show(self, medians: Mapping[str, float]) -> str:
        """The measured value in the goal's terms, e.g. ``+137.2 ms`` or ``0.45x``."""
        value = self.value(medians)
        if self.compare == "plus":
            figure = BY_KEY[self.figure]
            return f"{value:+.{figure.decimals}f} {figure.unit}"
        return f"{value:.2f}x"


GOALS = (
    Goal("pass_wall", "plus", 40.0),
    Goal("pass_wall", "x upstream", 0.15),
    Goal("pass_peak_rss", "plus", 6.0),
    Goal("first_wall", "x plain", 1.35),
    Goal("rps", "x plain", 0.75, at_most=False),
    Goal("rps", "x upstream", 1.3, at_most=False),
    Goal("cpu_per_request", "plus", 285.0),
    Goal("p99", "x plain", 3.0),
    Goal("idle_rss", "plus", 10.0),
)


def verdicts(medians: Mapping[str, Mapping[str, float]], keys: Sequence[str] | None = None) -> bool:
    """Print PASS/FAIL for every goal on the figures in ``medians`` (or ``keys``); True if all pass."""
    print("\ngoals (issue 11; judged on the median wall time where a figure has both):")
    ok = True
    for goal in GOALS:
        if goal.figure not in medians or (keys is not None and goal.figure not in keys):
            continue
        passed = goal.passed(medians[goal.figure])
        ok = ok and passed
        title = BY_KEY[goal.figure].title.strip()
        shown = goal.show(medians[goal.figure])
        print(f"  {'PASS' if passed else 'FAIL'}  {title}: {shown}, goal {goal.text()}")
    return ok
