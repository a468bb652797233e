"""The cluster tier (``make test-cluster``, not in ``make test``): the pipeline on the cluster
profile (infra/cluster.env: Spark standalone with two workers, HDFS with two DataNodes, three
Kafka brokers) against the same pipeline in local mode, and parts of the cluster killed under work.

Both stacks use the same ports, so they run one after the other, each in a home of its own made
anew (``.lakehouse-verify-local``, ``.lakehouse-verify-cluster``): first the local reference
(``make run``'s pipeline with the schedules left off, its gold fingerprinted, stopped), then the
cluster, which stays up for the fault tests and afterwards (``make stop PROFILE=cluster`` with
``LAKEHOUSE_HOME`` set as the Makefile prints). ``LAKEHOUSE_VERIFY_REUSE=1`` keeps a cluster stack
that is already up and a local fingerprint already written (to rerun the fault tests alone).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.settings import ENV_VARS, REPO_DIR, get_settings

LOCAL_HOME = REPO_DIR / ".lakehouse-verify-local"
CLUSTER_HOME = REPO_DIR / ".lakehouse-verify-cluster"
STACK = str(REPO_DIR / "infra" / "stack.sh")
REUSE = os.environ.get("LAKEHOUSE_VERIFY_REUSE") == "1"


def profile_env(profile: str, home: Path) -> dict[str, str]:
    """The environment of a command on ``profile`` in ``home``: none of this process's settings."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    return env | {"LAKEHOUSE_PROFILE": profile, "LAKEHOUSE_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def sh(args: list[str], env: dict[str, str], timeout: float, log: Path) -> None:
    """Run a step, its output appended to ``log``; a failure names the step and the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        rc = subprocess.run(
            args, cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
        ).returncode
    tail = log.read_text().splitlines()[-30:]
    if rc:
        pytest.fail(f"{' '.join(args)} exited {rc}; its log {log}:\n" + "\n".join(tail))
    print(f"  {' '.join(args[-3:])}: {time.monotonic() - t:.0f}s", file=sys.stderr)


def _ports_in_use() -> list[int]:
    s = get_settings()
    taken = []
    for port in (s.pg_port, s.kafka_port, s.thrift_port, s.airflow_port):
        try:
            socket.create_connection((s.bind_host, port), timeout=1).close()
            taken.append(port)
        except OSError:
            pass
    return taken


def build_and_fingerprint(profile: str, home: Path) -> dict:
    """A new home, the stack started, the main job run (schedules off), gold fingerprinted."""
    env = profile_env(profile, home)
    shutil.rmtree(home, ignore_errors=True)
    log = home.with_name(home.name + ".log")
    log.unlink(missing_ok=True)
    sh(["infra/bootstrap.sh"], env, 1200, log)
    sh([STACK, "start"], env, 1200, log)
    sh([sys.executable, "-m", "lakehouse.run", "--no-schedules"], env, 3600, log)
    out = home / "reports" / "gold-fingerprints.json"
    sh([sys.executable, "-m", "lakehouse.gold_hashes", "write", str(out)], env, 900, log)
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def local_gold() -> dict:
    """The local profile's gold from the same sources, built first (the stacks share ports)."""
    out = LOCAL_HOME / "reports" / "gold-fingerprints.json"
    if REUSE and out.exists():
        return json.loads(out.read_text())
    if taken := _ports_in_use():
        pytest.fail(f"ports {taken} are in use: stop the running stack first (make stop; make stop PROFILE=cluster)")
    try:
        return build_and_fingerprint("local", LOCAL_HOME)
    finally:
        subprocess.run([STACK, "stop"], cwd=REPO_DIR, env=profile_env("local", LOCAL_HOME), capture_output=True)


@pytest.fixture(scope="session")
def cluster_gold(local_gold) -> dict:
    """The cluster profile's stack, built after the local reference; left running."""
    assert get_settings().profile == "cluster" and get_settings().home == CLUSTER_HOME, (
        "run this tier as make test-cluster (LAKEHOUSE_PROFILE=cluster, LAKEHOUSE_HOME=.lakehouse-verify-cluster)"
    )
    out = CLUSTER_HOME / "reports" / "gold-fingerprints.json"
    if REUSE and out.exists() and _ports_in_use():
        return json.loads(out.read_text())
    return build_and_fingerprint("cluster", CLUSTER_HOME)


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return profile_env("cluster", CLUSTER_HOME)
