"""Which processes are tools rather than the app, so the boot leaves them alone."""

from __future__ import annotations

import os

_TOOL_SCRIPTS = frozenset({"otel-run", "pip", "pip3", "_in_process.py"})
_TOOL_MODULES = frozenset({"otel_run", "pip", "ensurepip", "venv"})


def tool_not_app(argv: list[str]) -> str | None:
    """Why this process is a tool rather than the app, or None.

    In the image the boot directory is on ``PYTHONPATH`` for every process, so
    otel-run's own commands and ``pip install`` (a child image's build step, pip's
    build backends) would boot too: an extra startup line, and a flush at exit to a
    collector that is not there during ``docker build``.
    """
    args = list(argv[1:])
    while args and args[0].startswith("-") and args[0] not in ("-m", "-c"):
        if args.pop(0) in ("-X", "-W") and args:
            args.pop(0)  # the option's value ("-X importtime"), not a script
    if not args:
        return None
    if args[0] == "-m" and len(args) > 1:
        top = args[1].split(".")[0]
        return f"python -m {args[1]} is a tool" if top in _TOOL_MODULES else None
    if args[0] == "-c" and args[1:] and args[1].startswith("from multiprocessing.resource_tracker import"):
        return "multiprocessing's resource tracker runs no app code"  # spawn's helper process
    name = os.path.basename(args[0])
    if name in _TOOL_SCRIPTS or name.startswith("pip3."):
        return f"{name} is a tool"
    return None
