"""The Airflow REST client's asset events against a local stand-in of the API: the asset's id
looked up by URI, an expired token renewed once, and events Airflow did not take kept for the
next round."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.airflow_client import AirflowClient, AirflowError, AssetAnnouncer, bronze_uri


class FakeAirflow(BaseHTTPRequestHandler):
    assets = {bronze_uri("bss_orders"): 7, bronze_uri("bss_orders_archive"): 8}
    events: list[dict] = []
    tokens_issued = 0
    valid_token = "t1"
    down = False

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {FakeAirflow.valid_token}"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/auth/token":
            FakeAirflow.tokens_issued += 1
            return self._reply(201, {"access_token": FakeAirflow.valid_token})
        if FakeAirflow.down:
            return self._reply(503, {"detail": "restarting"})
        if not self._authorized():
            return self._reply(401, {"detail": "expired"})
        FakeAirflow.events.append(body)
        return self._reply(200, {"id": len(FakeAirflow.events)})

    def do_GET(self):
        if not self._authorized():
            return self._reply(401, {"detail": "expired"})
        pattern = self.path.split("uri_pattern=")[1].split("&")[0].replace("%3A", ":").replace("%2F", "/")
        found = [{"id": i, "uri": u} for u, i in FakeAirflow.assets.items() if pattern in u]
        return self._reply(200, {"assets": found, "total_entries": len(found)})

    def log_message(self, *args):
        pass


@pytest.fixture
def airflow():
    FakeAirflow.events, FakeAirflow.tokens_issued, FakeAirflow.valid_token, FakeAirflow.down = [], 0, "t1", False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAirflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield AirflowClient(f"http://127.0.0.1:{server.server_port}", "admin", "admin")
    server.shutdown()


def test_an_event_goes_to_the_asset_with_that_exact_uri(airflow):
    airflow.asset_event(bronze_uri("bss_orders"), {"changes": 3})
    assert FakeAirflow.events == [{"asset_id": 7, "extra": {"changes": 3}}]
    with pytest.raises(AirflowError, match="no DAG declares"):
        airflow.asset_event(bronze_uri("bss_unknown"))


def test_an_expired_token_is_renewed_once(airflow):
    airflow.asset_event(bronze_uri("bss_orders"))
    FakeAirflow.valid_token = "t2"  # the first token expired; the next login gets the new one
    airflow.asset_event(bronze_uri("bss_orders"))
    assert FakeAirflow.tokens_issued == 2 and len(FakeAirflow.events) == 2


def test_events_airflow_did_not_take_go_with_the_next_round(airflow):
    announcer = AssetAnnouncer(airflow)
    airflow.asset_id(bronze_uri("bss_orders"))  # looked up while Airflow was up
    FakeAirflow.down = True
    assert announcer.announce({bronze_uri("bss_orders"): {"changes": 2}}) == 0
    assert announcer.announce({bronze_uri("bss_orders"): {"changes": 5}}) == 0
    FakeAirflow.down = False
    assert announcer.announce({}) == 1
    assert FakeAirflow.events == [{"asset_id": 7, "extra": {"changes": 7}}]
    assert announcer.pending == {}
