"""Fault harness: ``python -m lakehouse.faults [--trials N] [--components a,b,...] [--seed S]``.

The pipeline runs as it runs always-on: the CDC consumer, the current-state apply and the
landing loader each a continuous process, started again whenever it dies. A round puts an OLTP
workload on the sources and files in the landing zone, and SIGKILLs every component once, in a
random order, each at a random moment: a job (``cdc-consumer``, ``current-state``,
``landing-loader``) or a service of the stack (``thrift``, ``connect``, ``kafka``, ``postgres``,
each restarted by ``infra/stack.sh start``); a kill may land while the last one is still
recovering. Then the load stops and the running pipeline is left to converge, checked every
few seconds until it is exact (or a deadline): every source table against its current state,
key by key and by row hash (``reconcile``), each change log for offsets landed twice, and every
row of every file that arrived, by key, in its bronze table.

Prints a table: per component, kills, rows lost and duplicated in its rounds, time to recover
(from a round's last kill until everything reconciled) and a service's time down; writes the
rounds as JSON to ``<home>/reports/faults.json`` as they finish.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core import services
from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query
from lakehouse.capture import CHILDREN as CAPTURE_CHILDREN
from lakehouse.capture import start_module

JOBS = ("cdc-consumer", "current-state", "landing-loader")
SERVICES = ("thrift", "connect", "kafka", "postgres")
PIPELINE_SERVICES = ("postgres", "kafka", "connect", "thrift")
COMPONENTS = JOBS + SERVICES
ARRIVALS_FEED = "app.events"
# The capture service's children as it runs them, and the file loader continuously.
JOB_MODULES = {
    "cdc-consumer": CAPTURE_CHILDREN["consumer"],
    "current-state": CAPTURE_CHILDREN["apply"],
    "landing-loader": ["spark_jobs.landing.loader", "--feed", ARRIVALS_FEED, "--interval", "1"],
}


class Pipeline:
    """The jobs as the always-on pipeline runs them: each a continuous process, started again
    a moment after it ends."""

    def __init__(self, logs: Path, pause_s: float = 2.0):
        self.logs, self.pause_s = logs, pause_s
        self.procs: dict[str, subprocess.Popen | None] = dict.fromkeys(JOBS)
        self.ended: dict[str, float] = dict.fromkeys(JOBS, 0.0)
        self.runs: dict[str, int] = dict.fromkeys(JOBS, 0)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="pipeline", daemon=True)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            with self.lock:
                for job in JOBS:
                    proc = self.procs[job]
                    if proc is not None and proc.poll() is not None:
                        self.procs[job], self.ended[job] = None, time.monotonic()
                    if self.procs[job] is None and time.monotonic() - self.ended[job] > self.pause_s:
                        self.procs[job] = start_module(JOB_MODULES[job], self.logs / f"{job}.log")
                        self.runs[job] += 1
            self.stop_event.wait(0.2)

    def running(self, job: str) -> subprocess.Popen | None:
        with self.lock:
            proc = self.procs[job]
            return proc if proc is not None and proc.poll() is None else None

    def __enter__(self) -> Pipeline:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join()
        for proc in self.procs.values():
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)  # any moment is safe: that is what is being shown
                proc.wait()


class Load:
    """The OLTP workload and file arrivals, each in a thread; both ride out a source outage."""

    def __init__(self, rate: float, seed: int, landing: Path, file_every_s: float = 2.0, rows_per_file: int = 200):
        self.rate, self.seed, self.landing = rate, seed, landing
        self.file_every_s, self.rows_per_file = file_every_s, rows_per_file
        self.stop = threading.Event()
        self.changes = 0
        self.files: dict[str, list[str]] = {}  # file name -> its event ids
        self.threads = [
            threading.Thread(target=self._oltp, name="oltp", daemon=True),
            threading.Thread(target=self._files, name="arrivals", daemon=True),
        ]

    def _oltp(self) -> None:
        from simulator.workload import Workload

        workload = None
        while not self.stop.is_set():
            try:
                workload = workload or Workload(seed=self.seed)
                self.changes += workload.run(rate=self.rate, duration_s=1.0).changes
            except Exception:  # noqa: BLE001 - the source is down: a new connection once it is back
                if workload is not None:
                    with contextlib.suppress(Exception):
                        workload.close()
                workload = None
                self.stop.wait(1.0)
        if workload is not None:
            workload.close()

    def _files(self) -> None:
        folder = self.landing / "app" / "events"
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(self.seed)
        n = 0
        while not self.stop.wait(self.file_every_s):
            n += 1
            name = f"events_fault_{self.seed}_{n:04d}.jsonl.gz"
            ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(self.rows_per_file)]
            at = datetime.now(UTC) - timedelta(minutes=5)
            lines = [
                json.dumps(
                    {
                        "event_id": i,
                        "user_phone": None,
                        "device_id": f"fault-{self.seed}",
                        "event_type": "page_view",
                        "event_at": at.isoformat(),
                        "app_version": "9.9.9",
                        "channel": "app",
                        "bytes": k,
                        "duration_s": 1,
                    }
                )
                for k, i in enumerate(ids)
            ]
            # Written under a hidden name, then renamed: a loader never sees half a file.
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
            tmp.rename(folder / name)
            self.files[name] = ids

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def _stack(*args: str, timeout: float = 300) -> None:
    r = subprocess.run([str(REPO_DIR / "infra" / "stack.sh"), *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"infra/stack.sh {' '.join(args)} failed:\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")


def kill_service(name: str) -> None:
    """SIGKILL a service of the stack and everything it started (its process group)."""
    pid = services.pid(name)
    if pid is None:
        raise RuntimeError(f"{name}: no pid file, is it running? (infra/stack.sh status)")
    if name == "postgres":
        os.kill(pid, signal.SIGKILL)  # the postmaster; its backends exit when they see it gone
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def restart_service(name: str, timeout_s: float = 300) -> None:
    """Start the killed service again, then whatever the outage took down with it (a scheduler
    that lost its database), and restart connector tasks that failed meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _stack("start", name)
            break
        except RuntimeError:
            if time.monotonic() > deadline:  # e.g. postgres: its old backends still hold shared memory
                raise
            time.sleep(2)
    _retry(heal_connectors, "restarting failed connector tasks", timeout_s)
    _retry(lambda: _stack("start", *PIPELINE_SERVICES), "starting what the outage took down", timeout_s)
    # Airflow is not on the pipeline's path here. Its scheduler exits when its database goes
    # away, but only after its running tasks end: it may still be alive and unhealthy now.
    try:
        _stack("start", "airflow", timeout=180)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"faults: airflow not healthy yet after a {name} restart (left to the next start): {e}", flush=True)


def heal_connectors() -> None:
    """Restart the Debezium tasks that failed while a service was down (Connect does not retry
    a task that gave up), and wait until every connector runs."""
    for name in services.connect_api("/connectors"):
        status = services.connect_api(f"/connectors/{name}/status")
        states = [status["connector"]["state"], *(t["state"] for t in status["tasks"])]
        if "FAILED" in states:
            services.connect_api(f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true", "POST", timeout=30)
        if any(s != "RUNNING" for s in states) or not status["tasks"]:
            raise RuntimeError(f"connector {name}: {states}")


def _retry(fn, what: str, timeout_s: float = 600):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except Exception as e:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not succeed within {timeout_s:.0f}s: {e}") from e
            time.sleep(3)


def _run(module: list[str], logs: Path) -> None:
    proc = start_module(module, logs / "catch-up.log")
    if proc.wait(timeout=1800) != 0:
        raise RuntimeError(f"{' '.join(module)} exited {proc.returncode} (log {logs / 'catch-up.log'})")


def catch_up(logs: Path) -> None:
    """Everything committed is in Kafka, then in bronze and the current state; every file loaded."""
    from spark_jobs.cdc.fence import wait_for_sources

    _retry(lambda: wait_for_sources(timeout_s=120), "waiting for the sources' changes in Kafka")
    _retry(lambda: _run(["spark_jobs.cdc.consumer", "--apply"], logs), "the consumer catching up")
    _retry(lambda: _run(["spark_jobs.landing.loader", "--feed", ARRIVALS_FEED], logs), "the landing loader catching up")


def count_errors(files: dict[str, list[str]]) -> tuple[int, int, list[str]]:
    """(rows lost, rows duplicated, notes) over every CDC table and every file that arrived."""
    from lakehouse.reconcile import reconcile_all
    from schemas.contracts import get_contract
    from spark_jobs.cdc import changes
    from spark_jobs.landing.feeds import get_feed
    from spark_jobs.landing.tables import feed_table

    lost = duplicated = 0
    notes = []
    for d in reconcile_all():
        lost += len(d.missing) + len(d.extra) + len(d.different)
        duplicated += len(d.duplicated)
        if not d.exact:
            notes.append(d.summary())
    for contract in changes.cdc_contracts():
        rows, distinct = thrift_query(
            f"select count(*), count(distinct kafka_topic, kafka_partition, kafka_offset) "
            f"from {changes.change_table_for(contract)}"
        )[0]
        if rows != distinct:
            duplicated += rows - distinct
            notes.append(f"{contract.qualified_name}: {rows - distinct} change rows landed twice")
    ids = [i for file_ids in files.values() for i in file_ids]
    if ids:
        table = feed_table(get_feed(ARRIVALS_FEED))
        key = get_contract(ARRIVALS_FEED).primary_key[0]
        device = {f"'fault-{name.split('_')[2]}'" for name in files}
        found = dict(
            thrift_query(f"select {key}, count(*) from {table} where device_id in ({', '.join(device)}) group by {key}")
        )
        missing = sum(1 for i in ids if i not in found)
        twice = sum(n - 1 for i, n in found.items() if n > 1)
        lost += missing
        duplicated += twice
        if missing or twice:
            notes.append(f"{ARRIVALS_FEED}: {missing} file rows missing, {twice} landed twice")
    return lost, duplicated, notes


def converge(files: dict[str, list[str]], timeout_s: float = 300) -> tuple[int, int, list[str]]:
    """Check everything (``count_errors``) every few seconds while the running pipeline catches
    up, until it is exact; a duplicate is final at once, a row still missing at the deadline lost."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            lost, duplicated, notes = count_errors(files)
        except Exception:  # e.g. the Thrift server still starting
            if time.monotonic() > deadline:
                raise
        else:
            if (lost == 0 and duplicated == 0) or duplicated or time.monotonic() > deadline:
                return lost, duplicated, notes
        time.sleep(2)


@dataclass
class Kill:
    component: str
    after_s: float  # the random moment, from when it was chosen (a job: from its process running)
    down_s: float | None = None  # a service: from the SIGKILL until it serves again


@dataclass
class Round:
    """Each component SIGKILLed once, in a random order, under one workload; then one check."""

    round: int
    kills: list[Kill]
    lost: int = 0
    duplicated: int = 0
    recover_s: float | None = None  # from the last kill until everything reconciled
    workload_changes: int = 0
    files: int = 0
    notes: list[str] = field(default_factory=list)


def _kill(component: str, pipeline: Pipeline, rng: random.Random, logs: Path) -> Kill:
    """SIGKILL ``component`` at a random moment (a job within one of its runs); a service is
    restarted after a moment down."""
    if component in JOBS:
        deadline = time.monotonic() + 300
        while (victim := pipeline.running(component)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if victim is None:
            raise RuntimeError(f"{component} never ran (log {logs / component}.log)")
        # A moment within its run: JVM start, offset recovery, reading, writing, committing.
        delay = rng.uniform(0.5, 25.0 if component == "cdc-consumer" else 12.0)
        time.sleep(delay)
        if victim.poll() is None:
            victim.send_signal(signal.SIGKILL)
        return Kill(component, round(delay, 1))
    delay = rng.uniform(0.5, 20.0)
    time.sleep(delay)
    kill_service(component)
    killed = time.monotonic()
    time.sleep(rng.uniform(0.5, 5.0))  # down for a moment, the pipeline failing meanwhile
    restart_service(component)
    return Kill(component, round(delay, 1), round(time.monotonic() - killed, 1))


def run_round(
    n: int, components: list[str], rng: random.Random, logs: Path, pipeline: Pipeline, rate: float, warm_s: float
) -> Round:
    """One round with the pipeline running: workload and file arrivals, a kill of each component
    in turn at random moments (the next one may hit while the last is still recovering), then
    the load stops and the pipeline is left to converge (``converge``)."""
    with Load(rate, rng.randrange(1, 1 << 30), Path(get_settings().landing_dir)) as load:
        time.sleep(warm_s)
        kills = []
        for component in components:
            kills.append(_kill(component, pipeline, rng, logs))
            last = time.monotonic()
        time.sleep(3)  # running on after the last kill
    result = Round(n, kills, workload_changes=load.changes, files=len(load.files))
    result.lost, result.duplicated, result.notes = converge(load.files)
    if result.lost == 0 and result.duplicated == 0:
        result.recover_s = round(time.monotonic() - last, 1)
    return result


def run_sequence(components: list[str], seed: int, rate: float = 100, warm_s: float = 15) -> Round:
    """The small version: one round (the integration tier runs this)."""
    logs = get_settings().home / "logs" / "faults"
    logs.mkdir(parents=True, exist_ok=True)
    catch_up(logs)
    with Pipeline(logs) as pipeline:
        return run_round(1, components, random.Random(seed), logs, pipeline, rate, warm_s)


def _p50_max(values: list[float]) -> tuple[str, str]:
    values = sorted(values)
    return (str(values[len(values) // 2]), str(values[-1])) if values else ("-", "-")


def table(rounds: list[Round]) -> str:
    """Per component: its kills, and the rows lost and duplicated in the rounds it was killed
    in (a round's errors count against each of its components), the rounds' recovery and, for
    a service, how long it was down."""
    lines = [
        "| component | kills | rows lost | rows duplicated | recover p50 s | recover max s | down p50 s | down max s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for comp in dict.fromkeys(k.component for r in rounds for k in r.kills):
        hit = [r for r in rounds for k in r.kills if k.component == comp]
        recover = _p50_max([r.recover_s for r in hit if r.recover_s is not None])
        down = _p50_max([k.down_s for r in rounds for k in r.kills if k.component == comp and k.down_s is not None])
        lines.append(
            f"| {comp} | {len(hit)} | {sum(r.lost for r in hit)} | {sum(r.duplicated for r in hit)} | "
            f"{recover[0]} | {recover[1]} | {down[0]} | {down[1]} |"
        )
    return "\n".join(lines)


def run(components: list[str], rounds: int, seed: int, rate: float = 100, warm_s: float = 5) -> list[Round]:
    """``rounds`` rounds, each killing every component once in a random order."""
    home = get_settings().home
    logs = home / "logs" / "faults"
    logs.mkdir(parents=True, exist_ok=True)
    report = home / "reports" / "faults.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    results: list[Round] = []
    catch_up(logs)
    with Pipeline(logs) as pipeline:
        for n in range(1, rounds + 1):
            started = time.monotonic()
            order = rng.sample(components, len(components))
            r = run_round(n, order, rng, logs, pipeline, rate, warm_s)
            results.append(r)
            report.write_text(json.dumps([asdict(x) for x in results], indent=1))  # partial results survive
            print(
                f"[{n}/{rounds}] killed {', '.join(f'{k.component} after {k.after_s}s' for k in r.kills)}: "
                f"{r.lost} lost, {r.duplicated} duplicated, reconciled {r.recover_s}s after the last kill "
                f"({r.workload_changes} source changes, {r.files} files; {time.monotonic() - started:.0f}s)"
                + "".join(f"\n    {note}" for note in r.notes),
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20, help="kills per component, one per round (default 20 rounds)")
    p.add_argument("--components", default=",".join(COMPONENTS), help=f"comma-separated, of {', '.join(COMPONENTS)}")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--rate", type=float, default=100, help="source row changes per second during a trial")
    args = p.parse_args(argv)
    components = [c for c in args.components.split(",") if c]
    unknown = set(components) - set(COMPONENTS)
    if unknown:
        p.error(f"unknown components {sorted(unknown)}; known: {', '.join(COMPONENTS)}")
    print(f"faults: {args.trials} round(s), each killing {', '.join(components)}; seed {args.seed}", flush=True)
    results = run(components, args.trials, args.seed, args.rate)
    print(table(results))
    home = get_settings().home
    print(f"faults: rounds in {home / 'reports' / 'faults.json'}, logs in {home / 'logs' / 'faults'}")
    return 0 if all(r.lost == 0 and r.duplicated == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
