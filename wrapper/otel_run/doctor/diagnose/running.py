"""Booted processes already running here: doctor checks a new interpreter, ``status`` checks them."""

from __future__ import annotations

from collections.abc import Sequence

from otel_run.doctor.diagnose.check import INFO, WARN, Check, _join

HEALTHY = ("exporting", "idle")


def running_checks(processes: Sequence[tuple[int, str, str]] | None) -> list[Check]:
    """A pointer to ``otel-run status`` when processes booted by otel-run run here now.

    ``processes`` are ``(pid, service, verdict)`` of the live ones (``otel-run status``'s
    reading); None or empty adds nothing. ``warn`` when one of them is failing or dropping.
    """
    if not processes:
        return []
    count = len(processes)
    services = sorted({service for _pid, service, _verdict in processes})
    verdicts: dict[str, int] = {}
    for _pid, _service, verdict in processes:
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    told = ", ".join(f"{n} {verdict}" for verdict, n in sorted(verdicts.items()))
    noun = "process" if count == 1 else "processes"
    message = (
        f"{count} {noun} booted by otel-run run here now ({_join(services)}: {told}); this report "
        "checks a new interpreter with this environment, 'otel-run status' shows what the running "
        "ones are exporting right now"
    )
    unhealthy = [verdict for _pid, _service, verdict in processes if verdict not in HEALTHY]
    if unhealthy:
        return [Check("running processes", WARN, message, "run 'otel-run status' for each one's reason")]
    return [Check("running processes", INFO, message)]
