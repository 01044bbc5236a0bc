"""``bench/export_cpu.py`` measures the export path inside real gunicorn workers under load.

One short run (gunicorn -w 2 under ``otel-run``, exporting to ``bench/sink.py``, the probe as
the app's ``sitecustomize``): every stage of the export path was entered, in the batch
threads, with the items the sink received; the figures add up (a stage's CPU is at least
its callees'); the sleeper saw wakes; nothing of the run is left behind. Figures are not
judged (that is ``bench/``'s job on a quiet machine).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from apps import PYTHON, REPO, pids_with_env

STAGES = (
    "1 processor._export",
    "2 watched.export",
    "4 encode",
    "4 http client.export",
    "6 requests Session.request",
    "9 urllib3 urlopen",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    out = tmp_path_factory.mktemp("export_cpu") / "runs.json"
    done = subprocess.run(
        [
            PYTHON,
            "bench/export_cpu.py",
            "--rounds",
            "1",
            "--duration",
            "2",
            "--warmup",
            "1",
            "--sleeper",
            "--json",
            str(out),
            # Exports within the two seconds whatever the request rate; no waiting them out.
            "--set",
            "OTEL_BSP_SCHEDULE_DELAY=100",
            "--set",
            "OTEL_BLRP_SCHEDULE_DELAY=100",
        ],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    return done, json.loads(out.read_text()) if out.exists() else []


@pytest.mark.timeout(200)
def test_every_export_stage_is_measured_on_the_batch_threads(
    run: tuple[subprocess.CompletedProcess[str], list[Any]],
) -> None:
    done, runs = run
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert len(runs) == 1
    figures = runs[0]
    assert figures["requests"] > 0 and figures["errors"] == 0
    counters = figures["counters"]
    for thread in ("spans", "logs"):
        for stage in STAGES:
            calls, cpu_ns, wall_ns = counters[f"{stage} @{thread}"][:3]
            assert calls >= 1 and cpu_ns > 0 and wall_ns >= cpu_ns // 2, (stage, thread)
        # Inclusive figures: an export contains its encoding and its HTTP request.
        export = counters[f"2 watched.export @{thread}"]
        inner = counters[f"4 encode @{thread}"][1] + counters[f"4 http client.export @{thread}"][1]
        assert export[1] >= inner
        assert export[3] >= export[0]  # at least one item per export
    # One server span and one log record per GET /: the exported items are about the requests
    # (batches started before the run and still queued after it shift the count a little).
    spans = counters["2 watched.export @spans"][3]
    logs = counters["2 watched.export @logs"][3]
    assert 0.5 * figures["requests"] <= spans <= 1.5 * figures["requests"] + 1024
    assert 0.5 * figures["requests"] <= logs <= 1.5 * figures["requests"] + 1024
    threads = figures["threads"]
    assert threads["OtelBatchSpanRecordProcessor"][0] > 0 and threads["OtelBatchLogRecordProcessor"][0] > 0
    assert threads["MainThread"][0] > threads["OtelBatchSpanRecordProcessor"][0]
    assert sum(sum(buckets) for buckets in figures["late"].values()) > 100  # 1 ms sleeps for 2 s
    for line in ("threads, CPU µs/request:", "export stages:", "1 ms sleeper, lateness"):
        assert line in done.stdout


@pytest.mark.timeout(200)
def test_nothing_of_the_run_is_left_behind(run: tuple[subprocess.CompletedProcess[str], list[Any]]) -> None:
    done, runs = run
    assert done.returncode == 0, done.stderr
    directory = runs[0]["probe_dir"]
    assert not Path(directory).exists()
    assert pids_with_env("EXPORT_PROBE_DIR", directory) == []
