"""Shared test set-up: the stack's environment for tests that talk to real services."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread

import pytest

from core.settings import get_settings, read_env_file

# The services the tests run against; the capture service is started by the tests that need it
# (others run consumers of their own, which would race it).
TEST_SERVICES = ("postgres", "kafka", "connect", "ldap", "thrift", "serving", "airflow")


def load_rendered_env(name: str) -> dict[str, str]:
    """KEY=VALUE lines of a file infra/stack.sh rendered under $LAKEHOUSE_HOME/conf."""
    path = get_settings().home / "conf" / name
    return dict(read_env_file(path)) if path.exists() else {}


@pytest.fixture
def webhook():
    """A local HTTP receiver standing in for the alert channel: ``(url, received JSON bodies)``."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()
