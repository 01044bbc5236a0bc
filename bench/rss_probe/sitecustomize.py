"""``bench/rss_breakdown.py``'s probe, loaded into the app as its ``sitecustomize``.

otel-run chains to it (plain Python imports it directly). On SIGUSR1 it writes, as JSON to
``$RSS_PROBE_OUT``: the RSS by kind of mapping, pymalloc's arena statistics, the modules
in import order, and, last (it changes the state), what one ``malloc_trim(0)`` returns.
Nothing is imported before the RSS is read except what reading it needs.
"""

from __future__ import annotations

import os
import signal
import sys

_THREAD_HEAP = 64 << 20  # glibc's per-thread arenas are 64 MiB-aligned reservations


def _rss_kib() -> int:
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Rss:"):
                return int(line.split()[1])
    return 0


def _mappings() -> dict[str, int]:
    """KiB of RSS per kind: the main heap, thread arenas, stacks, other anonymous (pymalloc's
    1 MiB arenas and large blocks), and each file (shared libraries, extension modules)."""
    kinds: dict[str, int] = {}
    kind = ""
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                low, high = (int(value, 16) for value in parts[0].split("-"))
                name = parts[5] if len(parts) > 5 else ""
                if name == "[heap]":
                    kind = "C heap (main arena)"
                elif name.startswith("["):
                    kind = name
                elif name:
                    kind = "file " + os.path.basename(name)
                elif low % _THREAD_HEAP == 0:
                    kind = "C heap (thread arenas)"
                elif high - low == 8192 << 10:
                    kind = "thread stacks"
                else:
                    kind = "anonymous (pymalloc arenas, large blocks)"
            elif first == "Rss:":
                kinds[kind] = kinds.get(kind, 0) + int(line.split()[1])
    return kinds


def _pymalloc() -> dict[str, int]:
    """The totals of ``sys._debugmallocstats()`` (written to the C stderr, so fd 2 is lent)."""
    path = os.environ["RSS_PROBE_OUT"] + ".pymalloc"
    saved = os.dup(2)
    with open(path, "w") as out:
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    found = {}
    with open(path) as stats:
        for line in stats:
            for key, label in (
                ("arenas", "# arenas allocated current"),
                ("allocated_bytes", "# bytes in allocated blocks"),
                ("available_bytes", "# bytes in available blocks"),
            ):
                if line.startswith(label):
                    found[key] = int(line.split("=")[1].replace(",", ""))
            if "unused pools *" in line:
                found["unused_pool_bytes"] = int(line.split("=")[1].replace(",", ""))
    os.unlink(path)
    return found


def _report(signum: int, frame: object) -> None:
    import json

    rss = _rss_kib()
    report: dict[str, object] = {"rss_kib": rss, "mappings": _mappings(), "pymalloc": _pymalloc()}
    report["modules"] = [name for name in sys.modules if name not in ("__main__", "sitecustomize")]
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
        before = _rss_kib()
        trim(0)
        report["trimmed_kib"] = before - _rss_kib()
    except (OSError, AttributeError):
        report["trimmed_kib"] = None
    with open(os.environ["RSS_PROBE_OUT"], "w") as out:
        json.dump(report, out)


signal.signal(signal.SIGUSR1, _report)
