"""The capture service: ``python -m lakehouse.capture`` (``infra/stack.sh start capture``).

Change capture always on: the CDC consumer (``spark_jobs.cdc.consumer --interval``) and the
current-state apply (``spark_jobs.cdc.current_state --interval``) run as child processes, and a
child that dies is started again after a backoff that doubles with each quick failure and
resets once the child has stayed up a while. Both are safe to kill at any moment: bronze
recovers its Kafka positions and the apply its offsets from their own Delta commits.

Every few seconds the service measures the capture's lag: the records between the offsets the
consumer group committed (the landed ones) and Kafka's end offsets, and the seconds since the
capture was last caught up. It writes its state to ``<home>/run/capture.json`` (what
``make status`` shows), appends it to ``ops.capture_health`` through the Thrift server about
once a minute, and alerts (``core.alerts``) when the capture has been behind for longer than
``LAKEHOUSE_CAPTURE_LAG_ALERT_S``. Once a minute it also watches gold's freshness and the rows
set aside (``lakehouse.watch``). The consumer posts an Airflow asset event, every few seconds,
for each bronze table that received changes (``lakehouse_refresh`` is scheduled on them): a
change is readable once it lands (merge on read, ``spark_jobs.cdc.current_state``). SIGTERM or SIGINT stops the
children, then the service.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core import alerts
from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query
from lakehouse import audit, watch

log = logging.getLogger("capture")

CHILDREN = {
    "consumer": ["spark_jobs.cdc.consumer", "--interval", "0.5", "--announce", "5"],
    # Readers see a change once it lands (merge on read): the MERGE only bounds the change log's
    # tail the view reads, in fewer, larger batches.
    "apply": ["spark_jobs.cdc.current_state", "--interval", "30"],
}
HEALTH_TABLE = "ops.capture_health"


@dataclass
class Backoff:
    """The wait before a child's next start: ``initial_s`` after its first failure, doubled on
    each failure that follows a short life, at most ``max_s``; a child that stayed up for
    ``stable_s`` starts over at ``initial_s``."""

    initial_s: float = 1.0
    max_s: float = 60.0
    stable_s: float = 60.0
    current_s: float = 0.0

    def after_exit(self, uptime_s: float) -> float:
        if uptime_s >= self.stable_s or self.current_s == 0:
            self.current_s = self.initial_s
        else:
            self.current_s = min(self.current_s * 2, self.max_s)
        return self.current_s


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    backoff: Backoff = field(default_factory=Backoff)
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    next_start_at: float = 0.0
    restarts: int = 0
    last_exit: int | None = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    """Starts the children, notices when one has exited and starts it again after its backoff.
    ``spawn`` and ``clock`` are injectable so the policy is testable without processes."""

    def __init__(self, children: list[Child], spawn=None, clock=time.monotonic):
        self.children = children
        self.spawn = spawn or _spawn
        self.clock = clock

    def step(self) -> None:
        now = self.clock()
        for c in self.children:
            if c.proc is not None and c.proc.poll() is not None:
                c.last_exit = c.proc.returncode
                wait = c.backoff.after_exit(now - c.started_at)
                c.proc, c.next_start_at = None, now + wait
                c.restarts += 1
                log.warning("capture: %s exited %s; starting it again in %.0fs", c.name, c.last_exit, wait)
            if c.proc is None and now >= c.next_start_at:
                c.proc, c.started_at = self.spawn(c), now

    def stop(self, grace_s: float = 30.0) -> None:
        for c in self.children:
            if c.running():
                c.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for c in self.children:
            if c.proc is None:
                continue
            try:
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()

    def state(self) -> dict:
        now = self.clock()
        return {
            c.name: {
                "pid": c.proc.pid if c.running() else None,
                "up_s": round(now - c.started_at, 1) if c.running() else None,
                "restarts": c.restarts,
                "last_exit": c.last_exit,
                "log": str(c.log_path),
            }
            for c in self.children
        }


def start_module(argv: list[str], log_path: Path) -> subprocess.Popen:
    """``python -m <argv>`` as the stack runs its jobs: the stack's Spark configuration, output
    appended to ``log_path``."""
    env = {**os.environ, "SPARK_CONF_DIR": str(get_settings().spark_conf_dir)}
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *argv], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_DIR
        )


def _spawn(child: Child) -> subprocess.Popen:
    return start_module(child.argv, child.log_path)


@dataclass
class Lag:
    records: int | None  # None: Kafka did not answer
    behind_s: float  # since the capture was last caught up (0 when it is)


class LagMeter:
    """Lag from Kafka: end offsets of the CDC topics against the consumer group's commits."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.caught_up_at = clock()

    def measure(self, records: int | None) -> Lag:
        now = self.clock()
        if records == 0:
            self.caught_up_at = now
        return Lag(records, round(now - self.caught_up_at, 1))


def kafka_lag_records(bootstrap: str) -> int:
    from spark_jobs.cdc.consumer import group_offsets

    end, committed = group_offsets(bootstrap)
    return sum(max(0, off - committed.get(tp, 0)) for tp, off in end.items())


def create_health_table() -> None:
    thrift_query(
        f"create table if not exists {HEALTH_TABLE} (at timestamp, consumer_up boolean, apply_up boolean, "
        f"consumer_restarts int, apply_restarts int, lag_records bigint, behind_s double) using delta"
    )


def record_health(at: datetime, state: dict, lag: Lag) -> None:
    """One row of ``ops.capture_health`` through the Thrift server (the service has no JVM)."""
    records = "null" if lag.records is None else str(lag.records)
    c, a = state["consumer"], state["apply"]
    thrift_query(
        f"insert into {HEALTH_TABLE} values (timestamp'{at:%Y-%m-%d %H:%M:%S.%f}', "
        f"{str(c['pid'] is not None).lower()}, {str(a['pid'] is not None).lower()}, "
        f"{c['restarts']}, {a['restarts']}, {records}, {lag.behind_s})"
    )


def status_path() -> Path:
    return get_settings().home / "run" / "capture.json"


def write_status(state: dict) -> None:
    path = status_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)  # make status never reads half a file


def status_line(state: dict | None) -> str:
    """``make status``'s line for the service, from its status file."""
    if not state:
        return "no status yet"
    kids = ", ".join(
        f"{name} {'up' if s['pid'] else 'DOWN'} ({s['restarts']} restarts)" for name, s in state["children"].items()
    )
    lag = state["lag"]
    behind = "caught up" if lag["records"] == 0 else f"{lag['records']} records behind for {lag['behind_s']:.0f}s"
    if lag["records"] is None:
        behind = "lag unknown (Kafka did not answer)"
    return f"{kids}; {behind}; as of {state['at']}"


class Service:
    def __init__(self, probe_s: float = 5.0, record_every_s: float = 60.0):
        settings = get_settings()
        logs = settings.home / "logs"
        self.supervisor = Supervisor([Child(n, argv, logs / f"capture-{n}.log") for n, argv in CHILDREN.items()])
        self.meter = LagMeter()
        self.probe_s, self.record_every_s = probe_s, record_every_s
        self.alert_after_s = settings.capture_lag_alert_s
        self.watch = watch.Watch(settings.gold_merged_target_s)
        self.bootstrap = settings.kafka_bootstrap
        self.stopping = threading.Event()
        self.watching: threading.Thread | None = None
        self.alerted = False
        self.recorded_at = 0.0
        self.table_ready = False

    def probe(self) -> None:
        try:
            records = kafka_lag_records(self.bootstrap)
        except Exception as e:  # noqa: BLE001 - Kafka down: the consumer's restarts show it too
            log.warning("capture: lag unknown: %s", e)
            records = None
        lag = self.meter.measure(records)
        at = datetime.now(UTC)
        state = {"at": at.isoformat(timespec="seconds"), "children": self.supervisor.state(), "lag": vars(lag)}
        write_status(state)
        self._alert(lag)
        if time.monotonic() - self.recorded_at >= self.record_every_s:
            try:
                if not self.table_ready:
                    create_health_table()
                    self.table_ready = True
                record_health(at, state["children"], lag)
                self.recorded_at = time.monotonic()
            except Exception as e:  # noqa: BLE001 - the Thrift server down: the status file still has it
                log.warning("capture: %s not written: %s", HEALTH_TABLE, e)
            if self.watching is None or not self.watching.is_alive():
                # Beside the loop, not in it: queries that queue behind a busy Thrift server must
                # not hold up restarting a child or measuring the lag.
                self.watching = threading.Thread(target=self._watch, name="capture-watch", daemon=True)
                self.watching.start()

    def _watch(self) -> None:
        """Gold's freshness and the rows set aside (``lakehouse.watch``), alerted on change; and
        the audit's new statements and Airflow events collected (``lakehouse.audit``)."""
        try:
            audit.collect()
        except Exception as e:  # noqa: BLE001 - the next minute tries again
            log.warning("capture: audit not collected: %s", e)
        try:
            found = self.watch.observe(watch.measure())
        except Exception as e:  # noqa: BLE001 - the Thrift server down: the next minute tries again
            log.warning("capture: freshness and set-aside rows not measured: %s", e)
            return
        with contextlib.suppress(alerts.AlertDeliveryError):  # logged by post
            alerts.post("operations", [line for line, _ in found], [item for _, item in found])

    def _alert(self, lag: Lag) -> None:
        """One alert when the capture falls behind for longer than the threshold, one when it is back."""
        late = lag.behind_s > self.alert_after_s
        if late == self.alerted:
            return
        self.alerted = late
        line = (
            f"CDC capture behind for {lag.behind_s:.0f}s ({lag.records} records; threshold {self.alert_after_s:.0f}s)"
            if late
            else "CDC capture caught up again"
        )
        with contextlib.suppress(alerts.AlertDeliveryError):  # logged by post; the next change of state retries
            alerts.post("capture", [line], [{"check": "capture_lag", "behind_s": lag.behind_s, "records": lag.records}])

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        log.info("capture: starting %s", ", ".join(CHILDREN))
        next_probe = 0.0
        while not self.stopping.is_set():
            self.supervisor.step()
            if time.monotonic() >= next_probe:
                self.probe()
                next_probe = time.monotonic() + self.probe_s
            self.stopping.wait(0.5)
        log.info("capture: stopping")
        self.supervisor.stop()
        self.probe()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    Service().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
