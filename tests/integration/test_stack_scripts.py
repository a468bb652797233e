"""The start scripts fail clearly (service, log, what to do) and are safe to run twice."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from core.settings import REPO_DIR, get_settings
from tests.conftest import TEST_SERVICES

pytestmark = pytest.mark.integration
STACK = str(REPO_DIR / "infra" / "stack.sh")


def _stack(*args, env_overrides=None, timeout=300):
    env = {**os.environ, **(env_overrides or {})}
    return subprocess.run([STACK, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_missing_jars_name_the_fix(tmp_path):
    r = _stack("start", "kafka", env_overrides={"LAKEHOUSE_HOME": str(tmp_path)})
    assert r.returncode != 0
    assert "JVM jars are missing" in r.stderr and "infra/fetch_jars.sh" in r.stderr


def test_port_in_use_names_the_service_and_the_way_out(tmp_path):
    (tmp_path / "jars").symlink_to(get_settings().jars_dir)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = _stack("start", "kafka", env_overrides={"LAKEHOUSE_HOME": str(tmp_path), "KAFKA_PORT": str(port)})
    assert r.returncode != 0
    assert f"kafka: port {port} on 127.0.0.1 is already in use" in r.stderr
    assert "infra/stack.sh" not in r.stdout  # nothing claimed to have started


def test_a_service_that_dies_at_start_points_to_its_log(tmp_path):
    (tmp_path / "jars").symlink_to(get_settings().jars_dir)
    # A log directory formatted for another node makes the broker exit during start-up.
    (tmp_path / "data" / "kafka").mkdir(parents=True)
    (tmp_path / "data" / "kafka" / "meta.properties").write_text(
        "version=1\nnode.id=99\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n"
    )
    (tmp_path / "data" / "kafka" / ".sasl").touch()  # formatted with its logins
    r = _stack(
        "start",
        "kafka",
        env_overrides={"LAKEHOUSE_HOME": str(tmp_path), "KAFKA_PORT": "19092", "KAFKA_CONTROLLER_PORT": "19093"},
    )
    assert r.returncode != 0
    assert "kafka exited during start-up" in r.stderr
    assert str(tmp_path / "logs" / "kafka.log") in r.stderr


def test_a_kafka_log_directory_from_before_the_logins_is_refused_with_the_way_out(tmp_path):
    (tmp_path / "jars").symlink_to(get_settings().jars_dir)
    (tmp_path / "data" / "kafka").mkdir(parents=True)
    (tmp_path / "data" / "kafka" / "meta.properties").write_text("version=1\nnode.id=1\n")
    r = _stack(
        "start",
        "kafka",
        env_overrides={"LAKEHOUSE_HOME": str(tmp_path), "KAFKA_PORT": "19092", "KAFKA_CONTROLLER_PORT": "19093"},
    )
    assert r.returncode != 0
    assert "formatted before Kafka had logins" in r.stderr and "Logins and secrets" in r.stderr


def test_starting_a_running_stack_again_changes_nothing():
    before = {p.name: p.read_text() for p in (get_settings().home / "run").glob("*.pid")}
    r = _stack("start", *TEST_SERVICES)
    assert r.returncode == 0, r.stderr
    for name in ("postgres", "kafka", "connect", "ldap", "thrift", "serving"):
        assert f"{name}: already running" in r.stdout
    after = {p.name: p.read_text() for p in (get_settings().home / "run").glob("*.pid")}
    assert after == before, "no service was restarted"
