"""Shared test set-up: the stack's environment for tests that talk to real services."""

from __future__ import annotations

from lakehouse.settings import get_settings


def load_rendered_env(name: str) -> dict[str, str]:
    """KEY=VALUE lines of a file infra/stack.sh rendered under $LAKEHOUSE_HOME/conf."""
    path = get_settings().home / "conf" / name
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                values[k] = v
    return values

