"""Shared test set-up: the stack's environment for tests that talk to real services."""

from __future__ import annotations

from core.settings import get_settings, read_env_file


def load_rendered_env(name: str) -> dict[str, str]:
    """KEY=VALUE lines of a file infra/stack.sh rendered under $LAKEHOUSE_HOME/conf."""
    path = get_settings().home / "conf" / name
    return dict(read_env_file(path)) if path.exists() else {}
