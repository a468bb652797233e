"""Whether a service of the local stack (``infra/stack.sh``) is up, from the pid file it keeps."""

from __future__ import annotations

import os

from core.settings import get_settings


def pid(name: str) -> int | None:
    """The pid ``infra/stack.sh`` recorded for the service (None: no pid file)."""
    try:
        return int((get_settings().home / "run" / f"{name}.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def running(name: str) -> bool:
    """The service's recorded pid is a live process."""
    number = pid(name)
    if number is None:
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
