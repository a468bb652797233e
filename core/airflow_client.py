"""A small client of Airflow 3's REST API: log in, trigger a DAG run, wait for its end, and tell
Airflow that an asset has new data (what schedules the DAGs that consume it)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.secrets import airflow_password
from core.settings import get_settings

FINISHED = {"success", "failed"}


def bronze_uri(table: str) -> str:
    """The Airflow asset of a bronze table (``<source>_<table>``): one per table that changes."""
    return f"lakehouse://bronze/{table}"


class AirflowError(RuntimeError):
    pass


@dataclass
class AirflowClient:
    base_url: str
    username: str
    password: str
    _token: str | None = None
    _asset_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls) -> AirflowClient:
        s = get_settings()
        return cls(s.airflow_url, s.airflow_admin_user, airflow_password(s.airflow_admin_user, s.home))

    def _request(
        self, method: str, path: str, body: dict | None = None, auth: bool = True, relogin: bool = True
    ) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            if e.code == 401 and auth and relogin:  # the token expired: log in again, once
                self._token = None
                return self._request(method, path, body, auth, relogin=False)
            raise AirflowError(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')[:500]}") from e
        except urllib.error.URLError as e:
            raise AirflowError(
                f"Airflow is not answering at {self.base_url} ({e.reason}). Start it: infra/stack.sh start airflow"
            ) from e

    def token(self) -> str:
        if self._token is None:
            resp = self._request(
                "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
            )
            self._token = resp["access_token"]
        return self._token

    def health(self) -> dict:
        return self._request("GET", "/api/v2/monitor/health", auth=False)

    def dag(self, dag_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{dag_id}")

    def dags(self) -> dict[str, bool]:
        """Every DAG's id and whether it is paused."""
        return {d["dag_id"]: d["is_paused"] for d in self._request("GET", "/api/v2/dags?limit=100")["dags"]}

    def event_logs(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Airflow's audit log (who triggered, paused or changed what), newest first."""
        path = f"/api/v2/eventLogs?order_by=-event_log_id&limit={limit}&offset={offset}"
        return self._request("GET", path)["event_logs"]

    def active_tasks(self) -> list[str]:
        """The task instances queued or running, of any DAG (``dag.task``): what may be writing.
        A paused DAG's run starts no new task, but the ones already running finish."""
        path = "/api/v2/dags/~/dagRuns/~/taskInstances?state=running&state=queued&limit=100"
        return [f"{t['dag_id']}.{t['task_id']}" for t in self._request("GET", path)["task_instances"]]

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        """Turn the DAG's schedule off (paused) or on."""
        return self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120) -> dict:
        """Until the dag-processor has parsed the DAG (and it has no import error)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                dag = self._request("GET", f"/api/v2/dags/{dag_id}")
                if dag.get("is_paused"):
                    self.set_paused(dag_id, False)
                return dag
            except AirflowError as e:
                if "HTTP 404" not in str(e):
                    raise
            errors = self._request("GET", "/api/v2/importErrors").get("import_errors", [])
            for err in errors:
                if dag_id in err.get("filename", "") or dag_id in err.get("stack_trace", ""):
                    raise AirflowError(f"DAG {dag_id} does not import: {err['stack_trace'][-800:]}")
            if time.monotonic() > deadline:
                raise AirflowError(f"DAG {dag_id} was not parsed within {timeout_s:.0f}s; see the dag-processor log")
            time.sleep(2)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def _due_interval(self, dag: dict) -> dict:
        """The schedule's due interval as a run's logical date and data interval; empty when no
        run is due."""
        due = dag.get("next_dagrun_run_after")
        if not due or datetime.fromisoformat(due) > datetime.now(UTC):
            return {}
        return {
            "logical_date": dag["next_dagrun_logical_date"],
            "data_interval_start": dag["next_dagrun_data_interval_start"],
            "data_interval_end": dag["next_dagrun_data_interval_end"],
        }

    def trigger_and_switch_on(self, dag_id: str) -> str:
        """Trigger a run and switch the DAG on (a paused DAG's run starts no task); its id. If the
        schedule has a run due, the trigger takes that interval: switched on, the scheduler would
        start the due run too, and with one run at a time the trigger's would wait for it."""
        body = {"logical_date": None, "conf": {}, **self._due_interval(self.dag(dag_id))}
        run_id = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]
        self.wait_for_dag(dag_id)
        return run_id

    def pass_due_run(self, dag_id: str, note: str) -> str | None:
        """Give the schedule's due interval, if any, a run marked successful without running
        (``note`` says why), so that switching the DAG on starts no scheduled run: for a backfill
        of past days only. Its id, or None when no run is due."""
        interval = self._due_interval(self.dag(dag_id))
        if not interval:
            return None
        body = {**interval, "conf": {}, "note": note}
        run_id = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]
        self._request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}", {"state": "success"})
        return run_id

    def backfill(self, dag_id: str, from_date: str, to_date: str, reprocess: str = "completed") -> int:
        """Backfill the runs whose logical dates fall in [from_date, to_date] (ISO dates), one at
        a time, rerunning completed ones (``reprocess``: completed, failed or none); its id. A
        paused DAG's backfill runs start only once the DAG is on."""
        body = {
            "dag_id": dag_id,
            "from_date": f"{from_date}T00:00:00Z",
            "to_date": f"{to_date}T00:00:00Z",
            "reprocess_behavior": reprocess,
            "max_active_runs": 1,
            "run_backwards": False,
            "dag_run_conf": {},
        }
        return self._request("POST", "/api/v2/backfills", body)["id"]

    def wait_for_backfill(self, dag_id: str, backfill_id: int, timeout_s: float = 900) -> dict[str, str]:
        """Until the backfill has completed: {logical date: its run's state}."""
        deadline = time.monotonic() + timeout_s
        while (backfill := self._request("GET", f"/api/v2/backfills/{backfill_id}")).get("completed_at") is None:
            if time.monotonic() > deadline:
                raise AirflowError(f"backfill {backfill_id} of {dag_id} did not complete within {timeout_s:.0f}s")
            time.sleep(5)
        runs = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        # its days only: the API does not say which backfill an earlier run of the same DAG was of
        first, last = backfill["from_date"][:10], backfill["to_date"][:10]
        return {r["logical_date"][:10]: r["state"] for r in runs if first <= r["logical_date"][:10] <= last}

    def wait_until_idle(self, dag_id: str, timeout_s: float = 900) -> bool:
        """Until no run of the DAG is queued or running; whether it got there in time. Pause a
        DAG only then: a run paused midway hangs until the DAG is switched on again."""
        path = f"/api/v2/dags/{dag_id}/dagRuns?state=queued&state=running&limit=5"
        deadline = time.monotonic() + timeout_s
        while self._request("GET", path)["dag_runs"]:
            if time.monotonic() > deadline:
                return False
            time.sleep(5)
        return True

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 900, progress=print) -> str:
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            tasks = self.task_states(dag_id, run_id)
            done = sum(1 for s in tasks.values() if s in ("success", "skipped"))
            line = f"{dag_id} {run_id}: {state}, {done}/{len(tasks)} tasks done"
            if line != last:
                progress(line)
                last = line
            if state in FINISHED:
                return state
            time.sleep(3)
        raise AirflowError(f"{dag_id} run {run_id} did not finish within {timeout_s:.0f}s")

    def asset_id(self, uri: str) -> int:
        """The id of the asset a DAG declared with ``uri`` (404-like error if no DAG did)."""
        if uri not in self._asset_ids:
            query = urllib.parse.urlencode({"uri_pattern": uri, "limit": 100})
            assets = self._request("GET", f"/api/v2/assets?{query}")["assets"]
            match = [a["id"] for a in assets if a["uri"] == uri]
            if not match:
                raise AirflowError(f"no DAG declares the asset {uri}")
            self._asset_ids[uri] = match[0]
        return self._asset_ids[uri]

    def asset_event(self, uri: str, extra: dict | None = None) -> dict:
        """Record that the asset has new data: the DAGs scheduled on it run."""
        return self._request("POST", "/api/v2/assets/events", {"asset_id": self.asset_id(uri), "extra": extra or {}})


class AssetAnnouncer:
    """Asset events from a long-running producer: an event Airflow did not take (it was down,
    restarting) stays pending and goes with the next round, merged with that round's news, so
    new data always ends up scheduling its consumers."""

    def __init__(self, client: AirflowClient | None = None, log=None):
        self.client = client or AirflowClient.from_settings()
        self.pending: dict[str, dict] = {}
        self.log = log
        self.failing = False  # warned once per failure streak, not every round

    def announce(self, news: dict[str, dict]) -> int:
        """Post an event per asset in ``news`` ({uri: extra}) and every pending one; returns how
        many Airflow took. ``extra`` counts of an asset still pending are added up."""
        for uri, extra in news.items():
            merged = self.pending.setdefault(uri, {})
            for k, v in extra.items():
                merged[k] = merged.get(k, 0) + v if isinstance(v, int | float) else v
        taken = 0
        for uri in list(self.pending):
            try:
                self.client.asset_event(uri, self.pending[uri])
            except (AirflowError, OSError) as e:
                if self.log and not self.failing:
                    self.log.warning("asset events kept for the next rounds (%s): %s", uri, e)
                self.failing = True
                continue
            del self.pending[uri]
            taken += 1
        if not self.pending:
            self.failing = False
        return taken
