"""Whether a service of the local stack (``infra/stack.sh``) is up, from the pid file it keeps;
calls to Kafka Connect's REST API, with its login."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from typing import Any

from core.secrets import secret
from core.settings import get_settings

# The one login of Kafka Connect's REST API (basic authentication; password in the secret store).
CONNECT_REST_USER = "connect"


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


def connect_api(path: str, method: str = "GET", timeout: float = 10) -> Any:
    """``path`` (e.g. ``/connectors``) of Kafka Connect's REST API, logged in; the JSON reply."""
    token = base64.b64encode(f"{CONNECT_REST_USER}:{secret('connect_rest')}".encode()).decode()
    request = urllib.request.Request(
        get_settings().connect_url + path, method=method, headers={"Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as r:
        body = r.read()
    return json.loads(body) if body else None
