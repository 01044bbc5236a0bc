"""The pure parts of ``bench/goals.py``: how a goal is judged, and the peak-RSS probe.

``bench/targets.py`` holds issue 11's goals once for every bench; ``bench/peak.py`` reads a
child's own peak RSS, which ``ru_maxrss`` cannot give (it carries the parent's memory over
the exec).
"""

from __future__ import annotations

import math
import sys

import pytest

from apps import PYTHON, REPO, clean_env

sys.path.insert(0, str(REPO / "bench"))

import peak  # bench/ is not a package: found through sys.path
import targets


def _sides(plain: float, ours: float, upstream: float) -> dict[str, float]:
    return {"plain": plain, "otel-run": ours, "upstream": upstream}


@pytest.mark.timeout(10)
def test_a_goal_over_plain_compares_the_difference_in_the_figures_unit() -> None:
    goal = targets.Goal("pass_wall", "plus", 40.0)
    assert goal.passed(_sides(8.0, 48.0, 300.0))
    assert not goal.passed(_sides(8.0, 48.1, 300.0))
    assert goal.text() == "≤ plain + 40 ms"
    assert goal.show(_sides(8.0, 145.0, 300.0)) == "+137.0 ms"


@pytest.mark.timeout(10)
def test_a_ratio_goal_divides_by_the_side_it_names_and_goes_the_stated_way() -> None:
    at_most = targets.Goal("pass_wall", "x upstream", 0.15)
    assert at_most.passed(_sides(8.0, 45.0, 300.0))
    assert not at_most.passed(_sides(8.0, 46.0, 300.0))
    at_least = targets.Goal("rps", "x plain", 0.75, at_most=False)
    assert at_least.passed(_sides(1000.0, 750.0, 500.0))
    assert not at_least.passed(_sides(1000.0, 749.0, 500.0))
    assert (at_most.text(), at_least.text()) == ("≤ 0.15x upstream", "≥ 0.75x plain")
    assert at_least.show(_sides(1000.0, 500.0, 500.0)) == "0.50x"


@pytest.mark.timeout(10)
def test_a_figure_not_measured_fails_its_goal() -> None:
    for goal in targets.GOALS:
        assert not goal.passed(_sides(math.nan, math.nan, math.nan)), goal
        assert not goal.passed(_sides(1.0, math.nan, 1.0)), goal


@pytest.mark.timeout(10)
def test_every_goal_of_the_issue_is_defined_on_a_figure_of_the_table() -> None:
    stated = [(targets.BY_KEY[goal.figure].title, goal.text()) for goal in targets.GOALS]
    assert stated == [
        ("python -c pass, wall", "≤ plain + 40 ms"),
        ("python -c pass, wall", "≤ 0.15x upstream"),
        ("peak RSS of python -c pass", "≤ plain + 6 MiB"),
        ("time to first response, Flask sample_app, wall", "≤ 1.35x plain"),
        ("req/s, gunicorn -w 2, 3 signals, 100% sampled", "≥ 0.75x plain"),
        ("req/s, gunicorn -w 2, 3 signals, 100% sampled", "≥ 1.3x upstream"),
        ("CPU per request (GET /)", "≤ plain + 285 µs"),
        ("p99 under that load", "≤ 3x plain"),
        ("idle RSS after 500 requests", "≤ plain + 10 MiB"),
    ]
    assert [f.key for f in targets.FIGURES if not f.judged] == ["pass_cpu", "first_cpu"]


@pytest.mark.timeout(60)
def test_peak_rss_is_the_childs_own_not_the_parents() -> None:
    """A small child of a big parent reports its own peak; an allocating child, its allocation."""
    ballast = bytearray(200 * 1024 * 1024)  # this process: 200 MiB more, touched
    for index in range(0, len(ballast), 4096):
        ballast[index] = 1
    small = peak.peak_rss_kib([PYTHON, "-c", "pass"], clean_env(), str(REPO))
    grown = peak.peak_rss_kib(
        [PYTHON, "-c", "b = bytearray(100 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1"],
        clean_env(),
        str(REPO),
    )
    assert small is not None and grown is not None
    assert small < 64 * 1024, small  # a bare interpreter, far below the parent's 200+ MiB
    assert 100 * 1024 < grown < 100 * 1024 + small + 32 * 1024, (grown, small)
    del ballast


@pytest.mark.timeout(60)
def test_peak_rss_follows_an_exec_and_passes_signals_and_failures_on() -> None:
    """Through a launcher-style exec the final image's peak is read; a failing child raises."""
    execs = "import os, sys; os.execv(sys.executable, [sys.executable, '-c', 'b = b\\'x\\' * (64 << 20)'])"
    after_exec = peak.peak_rss_kib([PYTHON, "-c", execs], clean_env(), str(REPO))
    assert after_exec is not None and after_exec > 64 * 1024
    # A signal the child sends itself is delivered, not swallowed by the tracing: it ends the child.
    with pytest.raises(RuntimeError, match="exited with -15"):
        peak.peak_rss_kib([PYTHON, "-c", "import os; os.kill(os.getpid(), 15)"], clean_env(), str(REPO))
    with pytest.raises(RuntimeError, match="exited with 3"):
        peak.peak_rss_kib([PYTHON, "-c", "raise SystemExit(3)"], clean_env(), str(REPO))
