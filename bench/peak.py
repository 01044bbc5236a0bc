"""The peak RSS of a short-lived command, read from ``/proc/PID/status`` as it exits (Linux).

``ru_maxrss`` from ``wait4`` cannot give it: at ``exec`` the kernel folds the high-water mark
of the memory the child had before into ``ru_maxrss``, and a child forked (or vforked) from
the bench starts with the bench's own memory, so every small process reports the bench's
RSS (~24 MiB here) instead of its own. Instead the child asks to be traced
(``PTRACE_TRACEME``) and is stopped once, at its exit (``PTRACE_O_TRACEEXIT``), while its
memory is still mapped: ``VmHWM`` is then the peak of its final image. The launchers
(``otel-run``, ``opentelemetry-instrument``) exec the app in the same PID; ``VmHWM`` is the
app's peak, the launcher's own memory having been released at the exec.

The tracing costs a few stops and a fork instead of a vfork (~3 ms here), so timings are
taken from a separate, untraced run. Where tracing is refused, ``peak_rss_kib`` returns None.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

_PTRACE_TRACEME = 0
_PTRACE_CONT = 7
_PTRACE_SETOPTIONS = 0x4200
_PTRACE_O_TRACEEXIT = 0x40
_PTRACE_O_EXITKILL = 0x100000  # the child dies with the bench, never left stopped
_PTRACE_EVENT_EXIT = 6

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def _trace_me() -> None:
    # Runs in the child between fork and exec; a refusal leaves it untraced (no stops at all).
    _libc.ptrace(_PTRACE_TRACEME, 0, None, None)


def _vm_hwm_kib(pid: int) -> int | None:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def peak_rss_kib(argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float = 60.0) -> int | None:
    """Run ``argv`` to its end; its peak RSS in KiB (None if it could not be traced).

    Raises if the command fails. Killed (SIGKILL through a pidfd, which cannot reach a reused
    PID) if it runs past ``timeout`` seconds.
    """
    process = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_trace_me,  # noqa: PLW1509 - the bench has no other threads while it runs
    )
    pidfd = os.pidfd_open(process.pid)

    def kill() -> None:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    peak = None
    traced = False
    try:
        while True:
            _, status, _ = os.wait4(process.pid, 0)
            if not os.WIFSTOPPED(status):
                break
            deliver = 0
            if not traced:  # the stop at the first exec: ask for the exit stop from now on
                options = _PTRACE_O_TRACEEXIT | _PTRACE_O_EXITKILL
                _libc.ptrace(_PTRACE_SETOPTIONS, process.pid, None, ctypes.c_void_p(options))
                traced = True
            elif status >> 16 == _PTRACE_EVENT_EXIT:
                peak = _vm_hwm_kib(process.pid)
            elif os.WSTOPSIG(status) != signal.SIGTRAP:  # SIGTRAP: a later exec (the launcher's)
                deliver = os.WSTOPSIG(status)  # any real signal goes on to the child
            _libc.ptrace(_PTRACE_CONT, process.pid, None, ctypes.c_void_p(deliver))
    finally:
        watchdog.cancel()
        watchdog.join()
        os.close(pidfd)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{list(argv)} exited with {process.returncode}")
    return peak
