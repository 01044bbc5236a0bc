"""Keep the exit status an unhandled KeyboardInterrupt gives, whatever the exit flush imports.

When the main module ends with an unhandled ``KeyboardInterrupt``, CPython remembers it in
a flag and, after finalizing, kills itself with SIGINT: the shell sees status 130. But
every ``exec`` of source text clears that flag (``run_eval_code_obj`` in
``Python/pythonrun.c`` resets it before evaluating), and importing modules that build
namedtuples or dataclasses execs source text. A short job's first export happens in the
exit flush, which imports the exporter (``requests``, ``urllib3``, protobuf): the process
then ended with status 1 instead of 130. The same function of CPython sets the flag again
when the evaluated code raises ``KeyboardInterrupt``, so re-raising one through ``exec``
restores it.
"""

from __future__ import annotations

import sys


def ended_by_keyboard_interrupt() -> bool:
    """Whether the main module ended with an unhandled ``KeyboardInterrupt``.

    Python prints that exception and records it in ``sys.last_value`` before running the
    exit handlers; nothing else sets it in a non-interactive process.
    """
    return isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)


def keep_keyboard_interrupt_status() -> None:
    """Make CPython end the process "killed by SIGINT" again, if the app's main module ended
    with an unhandled ``KeyboardInterrupt``. Call after the exit flush; never raises."""
    if not ended_by_keyboard_interrupt():
        return
    try:
        exec("raise KeyboardInterrupt")  # sets CPython's flag again (see the module docstring)
    except KeyboardInterrupt:
        pass
