"""Integration tests run against the real stack that `make test` starts first."""

from __future__ import annotations

import socket
import subprocess

import pytest

from core import services
from core.settings import REPO_DIR, get_settings


@pytest.fixture(scope="session", autouse=True)
def stack_is_up():
    s = get_settings()
    down = []
    for name, port in [
        ("postgres", s.pg_port),
        ("kafka", s.kafka_port),
        ("connect", s.connect_port),
        ("ldap", s.ldap_port),
        ("thrift", s.thrift_port),
        ("serving", s.serving_port),
        ("airflow", s.airflow_port),
    ]:
        try:
            socket.create_connection((s.bind_host, port), timeout=2).close()
        except OSError:
            down.append(f"{name}:{port}")
    if down:
        pytest.fail(f"stack services not reachable ({', '.join(down)}); start them: infra/stack.sh start")
    if services.running("capture"):  # left on by `make start`: the tests run consumers of their own
        subprocess.run([str(REPO_DIR / "infra" / "stack.sh"), "stop", "capture"], check=True, timeout=300)
